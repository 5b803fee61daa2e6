"""Webhook endpoints: create (at most 10 per organization), read, list, update, delete."""

from __future__ import annotations

import uuid
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.domain.webhook_endpoints import (
    MAX_ENDPOINTS_PER_ORGANIZATION,
    WebhookEndpoint,
    WebhookEndpointInput,
)
from lagoon.services.organizations import WEBHOOK_ENDPOINT

# One document per organization whose revision every creation bumps: two concurrent creations conflict, so the
# limit holds under concurrency (the loser recounts).
_CREATION_GUARD = "webhook_endpoint_guard"
_CREATE_ATTEMPTS = 5


def list_endpoints(organization_id: str) -> list[WebhookEndpoint]:
    """The organization's endpoints, oldest first (the first one is the legacy `webhook_url`)."""
    endpoints = [
        WebhookEndpoint.model_validate(doc) for doc in entities.query(organization_id, WEBHOOK_ENDPOINT)
    ]
    return sorted(endpoints, key=lambda e: (e.created_at, e.lago_id))


def get_endpoint(organization_id: str, lago_id: str) -> WebhookEndpoint:
    document = entities.get(organization_id, WEBHOOK_ENDPOINT, lago_id)
    if document is None:
        raise errors.NotFound("webhook_endpoint")
    return WebhookEndpoint.model_validate(document)


def _check_unique_url(existing: list[WebhookEndpoint], url: str, except_id: str | None = None) -> None:
    if any(e.webhook_url == url and e.lago_id != except_id for e in existing):
        raise errors.ValidationFailed.field("webhook_url", "value_already_exist")


def create_endpoint(organization_id: str, data: WebhookEndpointInput) -> WebhookEndpoint:
    """A new endpoint; 422 `exceeded_limit` (on `base`) beyond 10, `value_already_exist` for a known URL."""
    for _ in range(_CREATE_ATTEMPTS):
        existing = list_endpoints(organization_id)
        if len(existing) >= MAX_ENDPOINTS_PER_ORGANIZATION:
            raise errors.ValidationFailed.field("base", "exceeded_limit")
        _check_unique_url(existing, data.webhook_url)
        now = entities.now_iso()
        endpoint = WebhookEndpoint(
            lago_id=str(uuid.uuid4()),
            lago_organization_id=organization_id,
            webhook_url=data.webhook_url,
            signature_algo=data.signature_algo or "jwt",
            name=data.name,
            event_types=data.event_types,
            created_at=now,
            updated_at=now,
        )
        guard = entities.get(organization_id, _CREATION_GUARD, "guard")
        version = int(guard["version"]) if guard else 0
        writes = entities.Writes()
        writes.put(
            organization_id, WEBHOOK_ENDPOINT, endpoint.lago_id, endpoint.model_dump(), must_not_exist=True
        )
        writes.put(
            organization_id,
            _CREATION_GUARD,
            "guard",
            {"version": version + 1},
            revision=version + 1,
            must_not_exist=guard is None,
            expected_revision=version if guard else None,
        )
        try:
            writes.commit()
        except errors.ConflictRetry:
            continue
        return endpoint
    raise errors.TransientFailure("too many concurrent webhook endpoint changes")


def update_endpoint(organization_id: str, lago_id: str, data: WebhookEndpointInput) -> WebhookEndpoint:
    """`PUT`: the URL, and the other fields sent (a null `signature_algo` keeps the current one)."""
    current = get_endpoint(organization_id, lago_id)
    _check_unique_url(list_endpoints(organization_id), data.webhook_url, except_id=lago_id)
    sent = data.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {"webhook_url": data.webhook_url, "updated_at": entities.now_iso()}
    if sent.get("signature_algo"):
        changes["signature_algo"] = sent["signature_algo"]
    for key in ("name", "event_types"):
        if key in sent:
            changes[key] = sent[key]
    updated = current.model_copy(update=changes)
    entities.Writes().put(
        organization_id, WEBHOOK_ENDPOINT, lago_id, updated.model_dump(), must_exist=True
    ).commit()
    return updated


def delete_endpoint(organization_id: str, lago_id: str) -> WebhookEndpoint:
    """Remove the endpoint; messages still waiting for it are not sent to it any more."""
    endpoint = get_endpoint(organization_id, lago_id)
    entities.Writes().delete(organization_id, WEBHOOK_ENDPOINT, lago_id).commit()
    return endpoint


def render_webhook_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """WebhookEndpointObject of the contract."""
    return endpoint.model_dump(exclude={"updated_at"})
