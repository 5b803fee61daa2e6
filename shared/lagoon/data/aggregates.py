"""A subscription's running aggregates as usage reads them back (AggregatesTable; the aggregator,
lagoon.ingestion.aggregator, writes them): each bucket's state per charges period, and the periods invoicing
has closed. Items and keys: docs/ingestion.md, lagoon.data.usage_keys."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from lagoon.data.usage_keys import CLOSED_PREFIX, DEFAULT_FILTER, aggregate_pk
from lagoon.data.usage_store import UsageStore, aggregates_table, text
from lagoon.engine.aggregation_state import AggregationState

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
