"""What a subscription inherits from the subscriptions it replaced after plan changes (upgrade, downgrade: the
same external_id): the units its buckets on recurring metrics start with (lagoon.engine.carry), read from the
aggregates those subscriptions left. Used by the aggregator (pay-in-advance events priced on everything
carried) and by usage and invoicing (the periods' units)."""

from __future__ import annotations

from collections.abc import Sequence

from lagoon.data.aggregates import read_all_bucket_periods
from lagoon.data.usage_store import UsageStore
from lagoon.engine.aggregation_state import AggregationState
from lagoon.engine.carry import Bucket, ChargeBuckets, inherited_states
from lagoon.ingestion.directory import Directory


def inherited_buckets(
    organization_id: str,
    previous_id: str | None,
    charges: Sequence[ChargeBuckets],
    *,
    store: UsageStore,
    directory: Directory | None = None,
) -> dict[Bucket, AggregationState]:
    """The states the buckets of `charges` (a subscription's charges on recurring metrics) start with, from the
    subscription it replaced (`previous_id`) and those before it. Nothing to read for a first subscription or
    a plan without charges on recurring metrics; else per plan change one BatchGetItem (the subscription) and
    one Query (its aggregates), never an event."""
    if previous_id is None or not charges:
        return {}
    directory = directory or Directory(store)
    lineage = [
        (plan.recurring_buckets(), read_all_bucket_periods(organization_id, lago_id, store=store))
        for lago_id, plan in directory.predecessors(organization_id, previous_id)
    ]
    return inherited_states(lineage, charges) if lineage else {}
