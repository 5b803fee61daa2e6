"""Which subscription an event belongs to, or why none — and the events that wait for one.

As in Lago, an event belongs to the subscription of its external_subscription_id whose life covers its
timestamp, whenever it was sent. Two kinds of events wait, stored and listed under `orph#…`
(lagoon.data.usage_items), until a lifecycle change replays them through the stream (lagoon.services.usage.events
`replay_orphans`, called by lagoon.services.lifecycle):
- `unknown_subscription`: no subscription has the external_id yet (replayed when one is created);
- `pending_subscription`: a pending subscription will start at or before the event — its start, or the end of
  the period of a plan it replaces (a downgrade) — or none has started yet (replayed when it starts, or when a
  pending one is canceled: the subscription that stays may then cover them).

A replay is resolved again with the subscriptions of that moment; the aggregator claims a waiting event once
(`lagoon.ingestion.aggregator`), so replaying twice never counts twice. A lifecycle change that lands while a
batch is being applied may read the waiting list before the batch wrote it: the aggregator then reads the
subscriptions again after its writes (`moved_events`) and replays what the change moved itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from lagoon.domain.events import (
    STATUS_PENDING_SUBSCRIPTION,
    STATUS_UNKNOWN_SUBSCRIPTION,
    IncomingEvent,
    encode_record,
    partition_key,
)
from lagoon.ingestion.directory import SubscriptionView

STATUS_COUNTED = "counted"
STATUS_OUTSIDE = "outside_subscription"
REPLAY_RECORD_EVENTS = 100

Views = Mapping[tuple[str, str], Sequence[SubscriptionView]]
WaitingEvent = tuple[str, str, IncomingEvent, str]
"""(organization, external_subscription_id, event, the waiting status it was stored with)."""


def resolve(
    views: Sequence[SubscriptionView] | None, moment: datetime
) -> tuple[str, SubscriptionView | None]:
    """(status, subscription) of an event at `moment` among the subscriptions of its external_id (None: there is
    none): the started subscription whose life covers it exactly, else whose first local day does (`counted`),
    unless a pending subscription claims it (`pending_subscription`)."""
    if views is None:
        return STATUS_UNKNOWN_SUBSCRIPTION, None
    started = [v for v in views if not v.pending]
    chosen = next((v for v in started if v.covers_exactly(moment)), None) or next(
        (v for v in started if v.covers_day(moment)), None
    )
    waits = any(v.pending and (chosen is None or v.claims_while_pending(moment)) for v in views)
    if waits:
        return STATUS_PENDING_SUBSCRIPTION, None
    if chosen is None:
        return STATUS_OUTSIDE, None
    return STATUS_COUNTED, chosen


def moved_events(waiting: Iterable[WaitingEvent], fresh: Views) -> list[tuple[str, bytes]]:
    """Replay records of the waiting events whose resolution `fresh` subscriptions change (one record per
    external_id and 100 events, on the external_id's partition key)."""
    moved: dict[tuple[str, str], list[IncomingEvent]] = defaultdict(list)
    for organization_id, external_id, event, status in waiting:
        now, _ = resolve(fresh.get((organization_id, external_id)), event.timestamp)
        if now != status:
            moved[(organization_id, external_id)].append(event)
    return [
        (
            partition_key(org, ext),
            encode_record(org, ext, events[i : i + REPLAY_RECORD_EVENTS], replay=True),
        )
        for (org, ext), events in moved.items()
        for i in range(0, len(events), REPLAY_RECORD_EVENTS)
    ]
