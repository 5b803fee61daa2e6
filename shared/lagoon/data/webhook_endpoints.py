"""Webhook endpoint reads: the documents of kind `webhook_endpoint` (sk lago_id) of an organization."""

from __future__ import annotations

from lagoon.data import entities
from lagoon.domain.webhook_endpoints import KIND, WebhookEndpoint


def list_endpoints(organization_id: str) -> list[WebhookEndpoint]:
    """The organization's endpoints, oldest first (the first one is the legacy `webhook_url`)."""
    endpoints = [WebhookEndpoint.model_validate(doc) for doc in entities.query(organization_id, KIND)]
    return sorted(endpoints, key=lambda e: (e.created_at, e.lago_id))
