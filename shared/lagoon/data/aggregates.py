"""The items of AggregatesTable: the running aggregates, the `closed#` period markers and the drafts to
refresh (docs/ingestion.md "Storage"; keys: lagoon.data.usage_keys).

The aggregator (lagoon.ingestion.aggregator) reads a batch's aggregates and markers and writes the aggregates
and the refresh flags through the first half of this module; usage reads a subscription's buckets and closed
periods back through the second. Invoicing writes the markers (lagoon.services.invoicing).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lagoon.data.usage_keys import (
    CLOSED_PREFIX,
    DEFAULT_FILTER,
    MARKER_DRAFT,
    REFRESH_PK,
    aggregate_pk,
    aggregate_sk,
    closed_sk,
    refresh_sk,
)
from lagoon.data.usage_store import Item, Key, S, UsageStore, Write, aggregates_table, text
from lagoon.domain.times import iso
from lagoon.engine.aggregation_state import AggregationState

# -- the aggregator's side: one batch's aggregates, markers and refresh flags ------------------------------


@dataclass(frozen=True, slots=True)
class AggregateKey:
    """(organization, subscription, charges period, charge, filter, group): one running aggregate."""

    organization_id: str
    subscription_id: str
    period_from: str
    charge_id: str
    filter_id: str
    group: str

    @property
    def pk(self) -> str:
        return aggregate_pk(self.organization_id, self.subscription_id)

    @property
    def sk(self) -> str:
        return aggregate_sk(self.period_from, self.charge_id, self.filter_id, self.group)


@dataclass(frozen=True, slots=True)
class PeriodMarker:
    """The `closed#` item of an aggregate's charges period: invoicing closed the period, or (`draft`) a draft
    invoice covers it, and the period still counts events."""

    draft: bool
    invoice_id: str
    """The draft invoice's lago_id ("" when the marker names none)."""


@dataclass(frozen=True, slots=True)
class StoredAggregate:
    """An aggregate item, read back: its state and, per shard, the highest sequence number folded into it."""

    state: AggregationState
    watermarks: dict[str, int]


class BatchAggregates:
    """What one BatchGetItem found of a batch's aggregates and of their periods' markers."""

    def __init__(self, found: Mapping[Key, Item]) -> None:
        self._found = found

    def marker(self, key: AggregateKey) -> PeriodMarker | None:
        item = self._found.get((key.pk, closed_sk(key.period_from)))
        if item is None:
            return None
        if text(item, "ms") == MARKER_DRAFT:
            return PeriodMarker(draft=True, invoice_id=text(item, "inv") or "")
        return PeriodMarker(draft=False, invoice_id="")

    def aggregate(self, key: AggregateKey) -> StoredAggregate | None:
        item = self._found.get((key.pk, key.sk))
        if not item:
            return None
        watermarks = json.loads(text(item, "wm") or "{}")
        state = AggregationState.from_dict(json.loads(text(item, "st") or "{}"))
        return StoredAggregate(state, {shard: int(sequence) for shard, sequence in watermarks.items()})


def read_batch_aggregates(keys: Iterable[AggregateKey], store: UsageStore) -> BatchAggregates:
    """The aggregates of `keys` and the markers of their periods: one BatchGetItem a 100 keys (none when
    `keys` is empty), strongly consistent."""
    keys = list(keys)
    if not keys:
        return BatchAggregates({})
    table = aggregates_table()
    wanted = [(table, (key.pk, key.sk)) for key in keys]
    wanted += [(table, (key.pk, closed_sk(key.period_from))) for key in keys]
    return BatchAggregates({table_key: item for (_, table_key), item in store.batch_get(wanted).items()})


def aggregate_write(
    key: AggregateKey,
    aggregate: StoredAggregate,
    *,
    billable_metric_id: str,
    period_to: str,
    updated_at: datetime,
) -> Write:
    """The aggregate item: its state and watermarks in one write (what makes a replay exact), and what
    usage and invoicing read without parsing the key (`ch`, `m`, `f`, `g`, `pf`, `pt`)."""
    watermarks = {shard: str(sequence) for shard, sequence in aggregate.watermarks.items()}
    item: Item = {
        "pk": S(key.pk),
        "sk": S(key.sk),
        "st": S(json.dumps(aggregate.state.to_dict(), separators=(",", ":"))),
        "wm": S(json.dumps(watermarks, separators=(",", ":"))),
        "ch": S(key.charge_id),
        "m": S(billable_metric_id),
        "f": S(key.filter_id),
        "g": S(key.group or "-"),
        "pf": S(key.period_from),
        "pt": S(period_to),
        "u": S(iso(updated_at)),
    }
    return (aggregates_table(), item)


AGGREGATE_ITEM_MAX_BYTES = (400 - 16) * 1024
"""An aggregate item's largest size: DynamoDB's 400 KB (attribute names and values), less some headroom."""


def fits_in_an_item(write: Write) -> bool:
    """Whether an aggregate write stays under `AGGREGATE_ITEM_MAX_BYTES`, as DynamoDB measures an item (its
    attribute names and string values in UTF-8). One that does not would be refused at every attempt."""
    _, item = write
    size = sum(len(name.encode()) + len(str(value.get("S", "")).encode()) for name, value in item.items())
    return size <= AGGREGATE_ITEM_MAX_BYTES


def draft_refresh_writes(flags: Iterable[tuple[str, str, datetime, str]]) -> list[Write]:
    """One flag per draft invoice for the billing run to refresh, from (organization, invoice lago_id,
    flagged at, stream position of the flagging event); a draft flagged twice keeps its last flag."""
    table = aggregates_table()
    flagged: dict[str, Item] = {}
    for organization_id, invoice_id, flagged_at, source in flags:
        sk = refresh_sk(organization_id, invoice_id)
        flagged[sk] = {"pk": S(REFRESH_PK), "sk": S(sk), "at": S(f"{iso(flagged_at)}#{source}")}
    return [(table, item) for item in flagged.values()]


# -- usage's side: a subscription's buckets and closed periods ------------------------------------------------

Bucket = tuple[str, str, str]
"""(charge lago_id, filter id or `-`, group JSON or `-`) — as the aggregator keys its items."""
PeriodStates = list[tuple[str, AggregationState]]
"""A bucket's states, one per charges period (the period's key, unordered)."""


def _bucket_items(items: Iterable[Mapping[str, Any]]) -> dict[Bucket, PeriodStates]:
    found: dict[Bucket, PeriodStates] = defaultdict(list)
    for item in items:
        state = text(item, "st")
        charge_id, filter_id, group, period_from = (
            text(item, "ch"),
            text(item, "f"),
            text(item, "g"),
            text(item, "pf"),
        )
        if state is None or charge_id is None or period_from is None:
            continue  # a period-closed marker
        found[(charge_id, filter_id or DEFAULT_FILTER, group or "-")].append(
            (period_from, AggregationState.from_dict(json.loads(state)))
        )
    return found


def read_bucket_periods(
    organization_id: str,
    subscription_id: str,
    period: str,
    *,
    with_earlier: bool,
    store: UsageStore | None = None,
) -> dict[Bucket, PeriodStates]:
    """The subscription's bucket states of the charges period keyed `period` (`usage_keys.period_key`), or
    (`with_earlier`) of every period up to it as well. One Query on the subscription's partition."""
    store = store or UsageStore()
    pk = aggregate_pk(organization_id, subscription_id)
    if with_earlier:
        items = store.query(aggregates_table(), pk, before=f"{period}#\uffff")
    else:
        items = store.query(aggregates_table(), pk, prefix=f"{period}#")
    return _bucket_items(items)


def read_all_bucket_periods(
    organization_id: str, subscription_id: str, *, store: UsageStore | None = None
) -> dict[Bucket, PeriodStates]:
    """Every bucket state of the subscription, all its periods (what a subscription that replaces it after a
    plan change inherits from). One Query on the subscription's partition."""
    store = store or UsageStore()
    return _bucket_items(store.query(aggregates_table(), aggregate_pk(organization_id, subscription_id)))


def closed_periods(organization_id: str, subscription_id: str, store: UsageStore | None = None) -> list[str]:
    """Keys of the subscription's charges periods invoicing has closed, newest first (one Query)."""
    store = store or UsageStore()
    items = store.query(
        aggregates_table(),
        aggregate_pk(organization_id, subscription_id),
        prefix=CLOSED_PREFIX,
        descending=True,
        projection=("sk",),
    )
    return [item["sk"]["S"][len(CLOSED_PREFIX) :] for item in items]
