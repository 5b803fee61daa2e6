"""One event of an aggregator batch as it is processed (`Occurrence`), and the items that record a batch's
events: the event items, the pages of event keys per day, the invalid events by category (for the
`events.errors` report) and the waiting events by external_id (for their replay, lagoon.ingestion.resolution).
Item shapes and keys are lagoon.data.usage_items'; the aggregator writes these with its aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from lagoon.data.usage_items import (
    error_list_write,
    event_day_write,
    event_page_write,
    event_write,
    orphan_list_write,
)
from lagoon.data.usage_keys import day_key, hour_key, shard_number, stream_position
from lagoon.data.usage_store import Write
from lagoon.domain.events import WAITING_STATUSES, IncomingEvent, StreamRecord, microseconds_to_datetime
from lagoon.ingestion.directory import SubscriptionView
from lagoon.ingestion.resolution import STATUS_COUNTED

# events.errors categories (EventsErrorsObject), plus Lagoon's three (docs/ingestion.md).
INVALID_CODE = "invalid_code"
MISSING_AGGREGATION_PROPERTY = "missing_aggregation_property"
INVALID_FILTER_VALUES = "invalid_filter_values"
UNKNOWN_SUBSCRIPTION = "unknown_subscription"
INVALID_EVENT = "invalid_event"
AGGREGATE_TOO_LARGE = "aggregate_too_large"
"""Folded into an aggregate that would pass DynamoDB's item size: not counted there (docs/ingestion.md)."""


@dataclass(slots=True)
class Occurrence:
    """One event of a record of the batch: where it sits in the stream, and what the aggregator decides."""

    record: StreamRecord
    index: int
    event: IncomingEvent
    shard: str
    seq: int
    source: str
    store_item: bool = False
    status: str = STATUS_COUNTED
    subscription: SubscriptionView | None = None
    errors: list[str] = field(default_factory=list)


def event_items(candidates: list[Occurrence]) -> list[Write]:
    """The items of the batch's new events, and of those it claims or resolves again (`store_item`)."""
    return [
        event_write(
            occurrence.record.organization_id,
            occurrence.record.external_subscription_id,
            occurrence.event,
            received_ms=occurrence.record.arrived_ms,
            source=occurrence.source,
            status=occurrence.status,
            lago_ids=None
            if occurrence.subscription is None
            else (occurrence.subscription.lago_id, occurrence.subscription.lago_customer_id),
        )
        for occurrence in candidates
        if occurrence.store_item
    ]


def page_items(candidates: list[Occurrence]) -> list[Write]:
    """One page of event keys per (organization, subscription, UTC day) of this batch, and the days."""
    pages: dict[tuple[str, str, str], list[Occurrence]] = defaultdict(list)
    for occurrence in candidates:
        day = day_key(microseconds_to_datetime(occurrence.event.timestamp_us))
        pages[(occurrence.record.organization_id, occurrence.record.external_subscription_id, day)].append(
            occurrence
        )
    items: list[Write] = []
    days: set[tuple[str, str]] = set()
    for (org, sub, day), occurrences in pages.items():
        days.add((org, day))
        entries = [(o.event.timestamp_us, o.event.code, o.event.transaction_id) for o in occurrences]
        items.append(event_page_write(org, sub, day, occurrences[0].source, entries))
    for org, day in days:
        items.append(event_day_write(org, day))
    return items


def error_items(records: Sequence[StreamRecord], candidates: list[Occurrence]) -> list[Write]:
    """Invalid events by category, per (organization, subscription), filed under the hour the first
    record of the batch arrived (so a redelivery files them under the same key)."""
    grouped: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    first_source: dict[tuple[str, str], str] = {}
    for occurrence in candidates:
        pair = (occurrence.record.organization_id, occurrence.record.external_subscription_id)
        for category in occurrence.errors:
            grouped[pair][category].append(occurrence.event.transaction_id)
            first_source.setdefault(pair, occurrence.source)
    for record in records:
        pair = (record.organization_id, record.external_subscription_id)
        for transaction_id, _reason in record.rejected:
            grouped[pair][INVALID_EVENT].append(transaction_id)
            first_source.setdefault(
                pair, stream_position(shard_number(record.shard_id), record.sequence_number, "r")
            )
    if not grouped:
        return []
    hour = hour_key(microseconds_to_datetime(records[0].arrived_ms * 1000))
    return [
        error_list_write(hour, org, sub, first_source[(org, sub)], categories)
        for (org, sub), categories in grouped.items()
    ]


def waiting_items(candidates: list[Occurrence]) -> list[Write]:
    """The waiting events (lagoon.ingestion.resolution) of each external_id, listed for their replay."""
    orphans: dict[tuple[str, str], list[Occurrence]] = defaultdict(list)
    for occurrence in candidates:
        if occurrence.status in WAITING_STATUSES:
            orphans[(occurrence.record.organization_id, occurrence.record.external_subscription_id)].append(
                occurrence
            )
    return [
        orphan_list_write(org, sub, occurrences[0].source, [o.event.transaction_id for o in occurrences])
        for (org, sub), occurrences in orphans.items()
    ]
