"""Events: accept them onto the stream (`POST /events`, `/events/batch`) and read them back (`GET /events…`).

Acceptance is asynchronous, as in Lago: the answer echoes the event with null Lago ids (DECISIONS.md); the
aggregator stores, dedupes and counts it. A stream failure is a 503 to the caller, never a silent drop.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError

from lagoon import errors
from lagoon.data import event_stream
from lagoon.data.usage_keys import days_pk, event_pk, orphans_pk, page_pk
from lagoon.data.usage_store import UsageStore, events_table, number, text
from lagoon.domain.events import (
    MAX_BATCH_EVENTS,
    EventInput,
    IncomingEvent,
    datetime_to_microseconds,
    encode_record,
    iso_timestamp,
    partition_key,
)
from lagoon.domain.paging import Page, paginate
from lagoon.domain.times import iso

_LAGO_CODES = frozenset({"value_is_mandatory", "value_is_invalid", "invalid_timestamp"})
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
            (partition_key(organization_id, sub), encode_record(organization_id, sub, group))
            for sub, group in by_subscription.items()
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
                kind = str(error["type"])
                code = "value_is_mandatory" if kind == "missing" else kind
                if code not in _LAGO_CODES:
                    code = "value_is_invalid"
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


def render_stored(organization_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """EventObject of a stored event item."""
    transaction_id = item["pk"]["S"].split("#", 2)[2]
    subscription = item["sk"]["S"]
    properties = text(item, "p")
    received = number(item, "r") or 0
    return {
        "lago_id": event_lago_id(organization_id, subscription, transaction_id),
        "transaction_id": transaction_id,
        "lago_customer_id": text(item, "lc"),
        "code": text(item, "c"),
        "timestamp": iso_timestamp(number(item, "t") or 0),
        "precise_total_amount_cents": text(item, "a"),
        "properties": json.loads(properties) if properties else {},
        "lago_subscription_id": text(item, "ls"),
        "external_subscription_id": subscription,
        "created_at": iso(datetime.fromtimestamp(received / 1000, tz=UTC)),
    }


def get_event(organization_id: str, transaction_id: str, store: UsageStore | None = None) -> dict[str, Any]:
    """The first stored event with this transaction_id (any subscription, as Lago answers); 404 otherwise."""
    store = store or UsageStore()
    for item in store.query(events_table(), event_pk(organization_id, transaction_id)):
        return render_stored(organization_id, item)
    raise errors.NotFound("event")


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
    table = events_table()
    first_day = filters.timestamp_from.strftime("%Y-%m-%d") if filters.timestamp_from else None
    last_day = filters.timestamp_to.strftime("%Y-%m-%d") if filters.timestamp_to else None
    days = [
        item["sk"]["S"]
        for item in store.query(table, days_pk(organization_id), descending=True)
        if (first_day is None or item["sk"]["S"] >= first_day)
        and (last_day is None or item["sk"]["S"] <= last_day)
    ]
    low = datetime_to_microseconds(filters.timestamp_from) if filters.timestamp_from else None
    high = datetime_to_microseconds(filters.timestamp_to) if filters.timestamp_to else None
    seen: set[tuple[str, str]] = set()
    entries: list[tuple[int, str, str]] = []
    prefix = f"{filters.external_subscription_id}#" if filters.external_subscription_id else None
    for day in days:
        for item in store.query(table, page_pk(organization_id, day), prefix=prefix):
            subscription = item["s"]["S"]
            if filters.external_subscription_id and subscription != filters.external_subscription_id:
                continue
            body = json.loads(zlib.decompress(bytes(item["e"]["B"])))
            codes = body["c"]
            for timestamp_us, code_index, transaction_id in body["e"]:
                if filters.code and codes[code_index] != filters.code:
                    continue
                if (low is not None and timestamp_us < low) or (high is not None and timestamp_us > high):
                    continue
                if (subscription, transaction_id) in seen:
                    continue
                seen.add((subscription, transaction_id))
                entries.append((timestamp_us, subscription, transaction_id))
    entries.sort(reverse=True)
    chunk, meta = paginate(entries, page)
    found = store.batch_get((table, (event_pk(organization_id, tx), sub)) for _, sub, tx in chunk)
    events = [
        render_stored(organization_id, found[(table, (event_pk(organization_id, tx), sub))])
        for _, sub, tx in chunk
        if (table, (event_pk(organization_id, tx), sub)) in found
    ]
    return events, meta


# --- orphans: events that arrived before their subscription -------------------------------------------------


def replay_orphans(
    organization_id: str, external_subscription_id: str, store: UsageStore | None = None
) -> int:
    """Send the stored events of an external_subscription_id that had no subscription back through the
    stream, so the aggregator (their single writer) counts them now (DECISIONS.md: a back-dated
    subscription counts the events it covers). Returns how many were replayed."""
    store = store or UsageStore()
    table = events_table()
    transaction_ids: list[str] = []
    for item in store.query(table, orphans_pk(organization_id, external_subscription_id)):
        transaction_ids.extend(json.loads(item["b"]["S"]))
    if not transaction_ids:
        return 0
    found = store.batch_get(
        (table, (event_pk(organization_id, tx), external_subscription_id))
        for tx in dict.fromkeys(transaction_ids)
    )
    events: list[IncomingEvent] = []
    for item in found.values():
        if text(item, "st") != "unknown_subscription":
            continue
        properties = text(item, "p")
        events.append(
            IncomingEvent(
                transaction_id=item["pk"]["S"].split("#", 2)[2],
                external_subscription_id=external_subscription_id,
                code=text(item, "c") or "",
                timestamp_us=number(item, "t") or 0,
                properties=json.loads(properties) if properties else {},
                precise_total_amount_cents=text(item, "a"),
            )
        )
    events.sort(key=lambda e: e.timestamp_us)
    key = partition_key(organization_id, external_subscription_id)
    records = [
        (key, encode_record(organization_id, external_subscription_id, events[i : i + 100], replay=True))
        for i in range(0, len(events), 100)
    ]
    event_stream.put_records(records)
    return len(events)
