"""WebhookEndpointObject: a webhook endpoint as the API renders it."""

from __future__ import annotations

from typing import Any

from lagoon.domain.webhook_endpoints import WebhookEndpoint


def render_webhook_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """WebhookEndpointObject of the contract."""
    return endpoint.model_dump(exclude={"updated_at"})
