"""The customers endpoint group."""

from typing import Any

from lagoon.api.customers import router
from lagoon.api.resolver import build_resolver
from lagoon.observability import lambda_entrypoint

app = build_resolver(router)


@lambda_entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
