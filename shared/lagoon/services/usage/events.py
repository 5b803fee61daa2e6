"""Events: accept them onto the stream (`POST /events`, `/events/batch`) and read them back (`GET /events…`).

Acceptance is asynchronous, as in Lago: the answer echoes the event with null Lago ids (DECISIONS.md); the
aggregator stores, dedupes and counts it. A stream failure is a 503 to the caller, never a silent drop.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError

from lagoon import errors
from lagoon.data import event_stream
from lagoon.data.usage_items import (
    StoredEvent,
    delete_orphan_lists,
    first_stored_event,
    read_event_days,
    read_event_pages,
    read_orphan_lists,
    read_stored_events,
)
from lagoon.data.usage_store import UsageStore
from lagoon.domain.events import (
    MAX_BATCH_EVENTS,
    WAITING_STATUSES,
    EventInput,
    IncomingEvent,
    datetime_to_microseconds,
    encode_records,
    iso_timestamp,
    partition_key,
)
from lagoon.domain.paging import Page, paginate
from lagoon.domain.times import iso
from lagoon.domain.validators import lago_code

_LAGO_ID_NAMESPACE = uuid.UUID("6f0b8a53-5a3e-4f43-8d0c-3a1b0f6f1e57")


def _now() -> datetime:
    return datetime.now(UTC)


def ingest(
    organization_id: str, events: Sequence[EventInput], received_at: datetime | None = None
) -> list[IncomingEvent]:
    """Put the events on the stream, one record per external_subscription_id (order kept within each)."""
    moment = received_at or _now()
    accepted = [IncomingEvent.from_input(event, moment) for event in events]
    by_subscription: dict[str, list[IncomingEvent]] = defaultdict(list)
    for event in accepted:
        by_subscription[event.external_subscription_id].append(event)
    event_stream.put_records(
        [
            (partition_key(organization_id, sub), record)
            for sub, group in by_subscription.items()
            for record in encode_records(organization_id, sub, group)
        ]
    )
    return accepted


def validate_batch(body: dict[str, Any]) -> list[EventInput]:
    """`POST /events/batch`: validate every event first; any invalid → 422 keyed by index, nothing ingested."""
    raw = body.get("events")
    if raw is None or raw == []:
        raise errors.BadRequest("param is missing or the value is empty: events")
    if not isinstance(raw, list):
        raise errors.ValidationFailed.field("events", "value_is_invalid")
    if len(raw) > MAX_BATCH_EVENTS:
        raise errors.ValidationFailed.field("events", "too_many_events")
    accepted: list[EventInput] = []
    details: dict[str, dict[str, list[str]]] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            details[str(index)] = {"event": ["value_is_invalid"]}
            continue
        try:
            accepted.append(EventInput.model_validate(item))
        except ValidationError as exc:
            fields: dict[str, list[str]] = {}
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "event"
                code = lago_code(str(error["type"]))
                fields.setdefault(name, [])
                if code not in fields[name]:
                    fields[name].append(code)
            details[str(index)] = fields
    if details:
        raise errors.ValidationFailed(cast(dict[str, list[str]], details))
    return accepted


def render_accepted(organization_id: str, event: IncomingEvent, received_at: datetime) -> dict[str, Any]:
    """EventObject as `POST /events` echoes it: Lago ids are null while processing is asynchronous."""
    return {
        "lago_id": None,
        "transaction_id": event.transaction_id,
        "lago_customer_id": None,
        "code": event.code,
        "timestamp": iso_timestamp(event.timestamp_us),
        "precise_total_amount_cents": event.precise_total_amount_cents,
        "properties": event.properties,
        "lago_subscription_id": None,
        "external_subscription_id": event.external_subscription_id,
        "created_at": iso(received_at),
    }


# --- reading events back -------------------------------------------------------------------------------


def event_lago_id(organization_id: str, external_subscription_id: str, transaction_id: str) -> str:
    """A stable id for a stored event (derived from its dedupe key, so it costs no bytes to store)."""
    return str(
        uuid.uuid5(_LAGO_ID_NAMESPACE, f"{organization_id}\n{external_subscription_id}\n{transaction_id}")
    )


def render_stored(organization_id: str, event: StoredEvent) -> dict[str, Any]:
    """EventObject of a stored event."""
    subscription = event.external_subscription_id
    return {
        "lago_id": event_lago_id(organization_id, subscription, event.transaction_id),
        "transaction_id": event.transaction_id,
        "lago_customer_id": event.lago_customer_id,
        "code": event.code,
        "timestamp": iso_timestamp(event.timestamp_us),
        "precise_total_amount_cents": event.precise_total_amount_cents,
        "properties": event.properties,
        "lago_subscription_id": event.lago_subscription_id,
        "external_subscription_id": subscription,
        "created_at": iso(datetime.fromtimestamp(event.received_ms / 1000, tz=UTC)),
    }


def get_event(organization_id: str, transaction_id: str, store: UsageStore | None = None) -> dict[str, Any]:
    """The first stored event with this transaction_id (any subscription, as Lago answers); 404 otherwise."""
    event = first_stored_event(organization_id, transaction_id, store or UsageStore())
    if event is None:
        raise errors.NotFound("event")
    return render_stored(organization_id, event)


@dataclass(frozen=True)
class EventFilters:
    external_subscription_id: str | None = None
    code: str | None = None
    timestamp_from: datetime | None = None
    timestamp_to: datetime | None = None


def list_events(
    organization_id: str, filters: EventFilters, page: Page, store: UsageStore | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Stored events newest first (by timestamp), from the per-batch pages of event keys.

    Reads the organization's day list, the pages of the days in range (only the subscription's when
    filtered), then BatchGetItem for the events of the requested page.
    """
    store = store or UsageStore()
    days = read_event_days(organization_id, store, since=filters.timestamp_from, until=filters.timestamp_to)
    low = datetime_to_microseconds(filters.timestamp_from) if filters.timestamp_from else None
    high = datetime_to_microseconds(filters.timestamp_to) if filters.timestamp_to else None
    seen: set[tuple[str, str]] = set()
    entries: list[tuple[int, str, str]] = []
    for day in days:
        for event_page in read_event_pages(
            organization_id, day, store, external_subscription_id=filters.external_subscription_id
        ):
            subscription = event_page.external_subscription_id
            for timestamp_us, code, transaction_id in event_page.entries:
                if filters.code and code != filters.code:
                    continue
                if (low is not None and timestamp_us < low) or (high is not None and timestamp_us > high):
                    continue
                if (subscription, transaction_id) in seen:
                    continue
                seen.add((subscription, transaction_id))
                entries.append((timestamp_us, subscription, transaction_id))
    entries.sort(reverse=True)
    chunk, meta = paginate(entries, page)
    found = read_stored_events(organization_id, ((sub, tx) for _, sub, tx in chunk), store)
    events = [render_stored(organization_id, found[(sub, tx)]) for _, sub, tx in chunk if (sub, tx) in found]
    return events, meta


# --- orphans: events that arrived before their subscription -------------------------------------------------


def replay_orphans(
    organization_id: str, external_subscription_id: str, store: UsageStore | None = None
) -> int:
    """Send the stored events of an external_subscription_id that wait for a subscription (none existed, or a
    pending one — lagoon.ingestion.resolution) back through the stream, so the aggregator (their single writer)
    resolves them again and counts those a subscription now covers, once (DECISIONS.md: a back-dated
    subscription counts the events it covers). The lists read are deleted once their events are on the stream:
    the aggregator lists again what still waits. Returns how many were replayed."""
    store = store or UsageStore()
    lists = read_orphan_lists(organization_id, external_subscription_id, store)
    if not lists:
        return 0
    transaction_ids = [tx for _, listed in lists for tx in listed]
    found = read_stored_events(
        organization_id, ((external_subscription_id, tx) for tx in dict.fromkeys(transaction_ids)), store
    )
    events = [stored.incoming() for stored in found.values() if stored.status in WAITING_STATUSES]
    events.sort(key=lambda e: e.timestamp_us)
    key = partition_key(organization_id, external_subscription_id)
    records = [
        (key, record)
        for i in range(0, len(events), 100)
        for record in encode_records(
            organization_id, external_subscription_id, events[i : i + 100], replay=True
        )
    ]
    event_stream.put_records(records)
    delete_orphan_lists(organization_id, external_subscription_id, [sort_key for sort_key, _ in lists], store)
    return len(events)
