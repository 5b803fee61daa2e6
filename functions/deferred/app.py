"""Lago endpoints deferred to a later wave: each answers 405 `not_implemented` with the feature's name."""

from typing import Any

from lagoon.api.deferred import deferred_feature
from lagoon.api.resolver import build_resolver
from lagoon.observability import lambda_entrypoint

app = build_resolver(deferred=deferred_feature)


@lambda_entrypoint(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
