"""Webhook endpoints: create (at most 10 per organization), read, list, update, delete."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from lagoon import errors
from lagoon.data import entities
from lagoon.data.organizations import get_organization
from lagoon.data.webhook_endpoints import (  # re-exported: callers read through this service
    list_endpoints as list_endpoints,
)
from lagoon.domain.organizations import Organization
from lagoon.domain.webhook_endpoints import (
    KIND as WEBHOOK_ENDPOINT,
    MAX_ENDPOINTS_PER_ORGANIZATION,
    WebhookEndpoint,
    WebhookEndpointInput,
)
from lagoon.services.contention import run_with_retries
from lagoon.services.webhooks.receiver_addresses import check_receiver_url

# One document per organization whose revision every create, update and delete bumps, in the same transaction,
# conditionally on the revision read *before* the endpoints were read. A commit therefore succeeds only if no
# other change committed since that read: the count (at most 10) and the URL uniqueness were checked against
# the current set, whatever the concurrency (the loser re-reads and re-checks: lagoon.services.contention).
_GUARD = "webhook_endpoint_guard"

T = TypeVar("T")


def get_endpoint(organization_id: str, lago_id: str) -> WebhookEndpoint:
    document = entities.get(organization_id, WEBHOOK_ENDPOINT, lago_id)
    if document is None:
        raise errors.NotFound("webhook_endpoint")
    return WebhookEndpoint.model_validate(document)


def guarded(organization_id: str, change: Callable[[list[WebhookEndpoint], entities.Writes], T]) -> T:
    """Apply `change(current endpoints, writes)` and commit it with the guard bump; retried on conflict."""
    return run_with_retries(lambda: guarded_once(organization_id, change), "webhook endpoints")


def guarded_once(organization_id: str, change: Callable[[list[WebhookEndpoint], entities.Writes], T]) -> T:
    """`guarded`, one attempt: ConflictRetry when another change committed since the endpoints were read."""
    guard = entities.get(organization_id, _GUARD, "guard")  # read first: see the module comment
    version = int(guard["version"]) if guard else 0
    writes = entities.Writes()
    result = change(list_endpoints(organization_id), writes)
    writes.put(
        organization_id,
        _GUARD,
        "guard",
        {"version": version + 1},
        revision=version + 1,
        must_not_exist=guard is None,
        expected_revision=version if guard else None,
    )
    writes.commit()
    return result


def _check_unique_url(existing: list[WebhookEndpoint], url: str, except_id: str | None = None) -> None:
    """Lago validates `webhook_url` unique per organization (Rails `taken` → `value_already_exist`)."""
    if any(e.webhook_url == url and e.lago_id != except_id for e in existing):
        raise errors.ValidationFailed.field("webhook_url", "value_already_exist")


def create_endpoint(organization_id: str, data: WebhookEndpointInput) -> WebhookEndpoint:
    """A new endpoint; 422 `exceeded_limit` (on `base`) beyond 10, `value_already_exist` for a known URL,
    `url_not_allowed` for a URL naming an address webhooks may not reach."""
    check_receiver_url(get_organization(organization_id), data.webhook_url)

    def create(existing: list[WebhookEndpoint], writes: entities.Writes) -> WebhookEndpoint:
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
        writes.put(
            organization_id, WEBHOOK_ENDPOINT, endpoint.lago_id, endpoint.model_dump(), must_not_exist=True
        )
        return endpoint

    return guarded(organization_id, create)


def put_legacy_endpoint(
    organization: Organization, existing: list[WebhookEndpoint], writes: entities.Writes, url: str
) -> WebhookEndpoint:
    """The organization's legacy `webhook_url` is its first endpoint (Lago keeps both in sync): that endpoint
    takes the URL, or one is created. Under `guarded`, with the same URL, address and limit checks as the API."""
    check_receiver_url(organization, url)
    organization_id = organization.lago_id
    now = entities.now_iso()
    if existing:
        first = existing[0]
        _check_unique_url(existing, url, except_id=first.lago_id)
        updated = first.model_copy(update={"webhook_url": url, "updated_at": now})
        writes.put(organization_id, WEBHOOK_ENDPOINT, first.lago_id, updated.model_dump(), must_exist=True)
        return updated
    endpoint = WebhookEndpoint(
        lago_id=str(uuid.uuid4()),
        lago_organization_id=organization_id,
        webhook_url=url,
        signature_algo="jwt",
        name=None,
        event_types=None,
        created_at=now,
        updated_at=now,
    )
    writes.put(
        organization_id, WEBHOOK_ENDPOINT, endpoint.lago_id, endpoint.model_dump(), must_not_exist=True
    )
    return endpoint


def _find(existing: list[WebhookEndpoint], lago_id: str) -> WebhookEndpoint:
    for endpoint in existing:
        if endpoint.lago_id == lago_id:
            return endpoint
    raise errors.NotFound("webhook_endpoint")


def update_endpoint(organization_id: str, lago_id: str, data: WebhookEndpointInput) -> WebhookEndpoint:
    """`PUT`: the URL, and the other fields sent (a null `signature_algo` keeps the current one)."""
    check_receiver_url(get_organization(organization_id), data.webhook_url)

    def update(existing: list[WebhookEndpoint], writes: entities.Writes) -> WebhookEndpoint:
        current = _find(existing, lago_id)
        _check_unique_url(existing, data.webhook_url, except_id=lago_id)
        sent = data.model_dump(exclude_unset=True)
        changes: dict[str, Any] = {"webhook_url": data.webhook_url, "updated_at": entities.now_iso()}
        if sent.get("signature_algo"):
            changes["signature_algo"] = sent["signature_algo"]
        for key in ("name", "event_types"):
            if key in sent:
                changes[key] = sent[key]
        updated = current.model_copy(update=changes)
        writes.put(organization_id, WEBHOOK_ENDPOINT, lago_id, updated.model_dump(), must_exist=True)
        return updated

    return guarded(organization_id, update)


def delete_endpoint(organization_id: str, lago_id: str) -> WebhookEndpoint:
    """Remove the endpoint; messages still waiting for it are not sent to it any more."""

    def delete(existing: list[WebhookEndpoint], writes: entities.Writes) -> WebhookEndpoint:
        endpoint = _find(existing, lago_id)
        writes.delete(organization_id, WEBHOOK_ENDPOINT, lago_id, must_exist=True)
        return endpoint

    return guarded(organization_id, delete)
