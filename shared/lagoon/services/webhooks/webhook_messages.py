"""Webhook messages for operators (the admin CLI): what was sent, what failed, and retrying failures.

Lago's UI has `POST /webhooks/{id}/retry`; it is not part of the public API contract, so Lagoon exposes the
same operation as service functions (used by `python -m lagoon.admin`, see docs/webhooks.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.data import entities, webhook_outbox
from lagoon.data.webhook_outbox import FAILED, FAILURE_KIND, PENDING, OutboxEntry
from lagoon.services.webhooks.outbox_time import iso, parse_time


def render_message(entry: OutboxEntry) -> dict[str, Any]:
    """A message with its per-endpoint deliveries and every attempt (status, response code, duration)."""
    return {
        "message_id": entry.message_id,
        "organization_id": entry.organization_id,
        "webhook_type": entry.webhook_type,
        "object_type": entry.object_type,
        "status": entry.status,
        "created_at": entry.created_at,
        "next_attempt_at": entry.next_attempt_at,
        "finished_at": entry.finished_at,
        "deliveries": [
            {"endpoint_id": endpoint_id, **delivery}
            for endpoint_id, delivery in (entry.deliveries or {}).items()
        ],
        "payload": json.loads(entry.payload),
    }


def get_message(organization_id: str, message_id: str) -> OutboxEntry:
    entry = webhook_outbox.get(message_id)
    if entry is None or entry.organization_id != organization_id:
        raise errors.NotFound("webhook")
    return entry


def list_failed_messages(organization_id: str) -> list[OutboxEntry]:
    """The organization's failed messages, most recent failure first."""
    failures = sorted(
        entities.query(organization_id, FAILURE_KIND), key=lambda f: f["failed_at"], reverse=True
    )
    found = []
    for failure in failures:
        entry = webhook_outbox.get(failure["message_id"])
        if entry is not None and entry.status == FAILED:
            found.append(entry)
    return found


def retry_failed_message(organization_id: str, message_id: str, now: datetime | None = None) -> OutboxEntry:
    """Send a failed message again at the next dispatcher run: its failed deliveries get a fresh set of
    attempts (their attempt log is kept). Raises NotFound, or UnprocessableError `not_failed`."""
    entry = get_message(organization_id, message_id)
    if entry.status != FAILED:
        raise errors.UnprocessableError("not_failed", f"webhook {message_id} is {entry.status}, not failed")
    due = iso(now or parse_time(None))
    deliveries = dict(entry.deliveries or {})
    for delivery in deliveries.values():
        if delivery["status"] == FAILED:
            delivery.update(status=PENDING, next_attempt_at=due, round_attempts=0)
    if not webhook_outbox.reschedule_failed(entry, deliveries, due):
        raise errors.UnprocessableError("not_failed", f"webhook {message_id} is not failed any more")
    return get_message(organization_id, message_id)


def retry_failed_messages(organization_id: str, now: datetime | None = None) -> list[OutboxEntry]:
    """Retry every failed message of the organization; returns the messages rescheduled."""
    retried = []
    for entry in list_failed_messages(organization_id):
        try:
            retried.append(retry_failed_message(organization_id, entry.message_id, now))
        except errors.UnprocessableError:
            continue  # retried concurrently
    return retried
