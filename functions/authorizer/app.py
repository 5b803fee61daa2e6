"""REQUEST authorizer: checks the Bearer API key and scopes the request to its organization."""

from typing import Any

from lagoon.auth import authorize
from lagoon.observability import lambda_entrypoint


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return authorize(event)
    except PermissionError:
        raise Exception("Unauthorized") from None
