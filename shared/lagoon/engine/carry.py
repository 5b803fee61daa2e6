"""Carried units: what a recurring metric's bucket carries from period to period, and from a subscription to
the one that follows it after a plan change (checklist §3.3; docs/engine.md "Aggregation").

A subscription's aggregates hold each charges period's own events (opening at zero). The state a period opens
with is the chain of the bucket's earlier periods, each opening the next (`period_units.open_next_period`),
started from what the subscription inherited: lago-api reads a recurring metric's events by external
subscription id without the period's lower bound, so a subscription that replaces another one (upgrade,
downgrade: same external_id) goes on with the units the previous one carried. Its charges are other charges,
so a bucket is handed over to the next plan's charge on the same metric with the same filters and group keys.

A bucket is `(charge id, filter id, group)` as the aggregates key it; `ChargeBuckets.filters` names the default
bucket's filter id beside the filters', so this module needs no key format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lagoon.engine.aggregation_state import AggregationState
from lagoon.engine.folding import merge
from lagoon.engine.period_units import open_next_period

Bucket = tuple[str, str, str]
"""(charge id, filter id, group): one bucket of a subscription's aggregates."""
PeriodStates = Iterable[tuple[str, AggregationState]]
"""One bucket's states, one per charges period, keyed by the period's (sortable) key, in any order."""

_AFTER_EVERY_PERIOD = "\uffff"


def opening_state(
    periods: PeriodStates, current: str, opening: AggregationState | None = None
) -> AggregationState | None:
    """The state the bucket opens the period keyed `current` with: its periods before `current` chained, each
    opening the next, from `opening` (what the subscription inherited; None: nothing). None when there is
    nothing before `current`; non-recurring metrics carry an empty state."""
    carried = opening
    for period_from, state in sorted(periods, key=lambda entry: entry[0]):
        if period_from >= current:
            break
        carried = open_next_period(state if carried is None else merge(carried, state))
    return carried


def state_for_period(
    periods: PeriodStates, current: str, opening: AggregationState | None = None
) -> AggregationState | None:
    """The bucket's state for the period keyed `current`: its own events, opened with what the earlier periods
    (and `opening`) carry. None when the period has no events and nothing recurring is carried into it."""
    periods = list(periods)
    carried = opening_state(periods, current, opening)
    own = next((state for period_from, state in periods if period_from == current), None)
    if own is not None:
        return own if carried is None else merge(carried, own)
    return carried if carried is not None and carried.recurring else None


def carried_out(periods: PeriodStates, opening: AggregationState | None = None) -> AggregationState | None:
    """What the bucket carries out of its last period (into a next period, or a next subscription)."""
    return opening_state(periods, _AFTER_EVERY_PERIOD, opening)


@dataclass(frozen=True, slots=True)
class ChargeBuckets:
    """How a charge splits its metric's events into buckets: `filters` pairs each bucket's filter id with the
    filter's values (`filter_signature`; the default bucket's with `None`), `group_keys` its group keys."""

    charge_id: str
    metric_id: str
    filters: tuple[tuple[str, str | None], ...]
    group_keys: tuple[str, ...]

    @property
    def shape(self) -> tuple[str, frozenset[str | None], tuple[str, ...]]:
        """What must be equal for another charge's buckets to be this one's: metric, filters, group keys."""
        return (self.metric_id, frozenset(signature for _, signature in self.filters), self.group_keys)


def filter_signature(values: Mapping[str, Sequence[str]]) -> str:
    """A charge filter's values, the same text whatever the order of keys and values."""
    return json.dumps(sorted((key, sorted(allowed)) for key, allowed in values.items()))


def handed_over(
    carried: Mapping[Bucket, AggregationState],
    previous: Sequence[ChargeBuckets],
    following: Sequence[ChargeBuckets],
) -> dict[Bucket, AggregationState]:
    """The states a subscription's buckets carry out (`carried`, its plan's charges `previous`), as the buckets
    of the next subscription's charges (`following`): a charge takes those of the first previous charge on the
    same metric with the same filters and group keys, filter by filter values; a charge with no such
    counterpart starts from zero (the aggregates do not keep what would split or join other buckets)."""
    sources: dict[tuple[str, frozenset[str | None], tuple[str, ...]], ChargeBuckets] = {}
    for charge in previous:
        sources.setdefault(charge.shape, charge)
    result: dict[Bucket, AggregationState] = {}
    for charge in following:
        source = sources.get(charge.shape)
        if source is None:
            continue
        by_signature = {signature: filter_id for filter_id, signature in charge.filters}
        filter_ids = {filter_id: by_signature[signature] for filter_id, signature in source.filters}
        for (charge_id, filter_id, group), state in carried.items():
            if charge_id == source.charge_id and filter_id in filter_ids:
                result[(charge.charge_id, filter_ids[filter_id], group)] = state
    return result


def inherited_states(
    lineage: Sequence[tuple[Sequence[ChargeBuckets], Mapping[Bucket, PeriodStates]]],
    charges: Sequence[ChargeBuckets],
) -> dict[Bucket, AggregationState]:
    """What a subscription starts with, by bucket of its `charges`, from the subscriptions it follows
    (`lineage`, oldest first: each one's charges and bucket states): each one's buckets chained to their end
    from what it inherited itself, the recurring ones handed over to the next one's charges."""
    opening: dict[Bucket, AggregationState] = {}
    for index, (own_charges, buckets) in enumerate(lineage):
        closing: dict[Bucket, AggregationState] = {}
        for bucket in buckets.keys() | opening.keys():
            state = carried_out(buckets.get(bucket, ()), opening.get(bucket))
            if state is not None and state.recurring:
                closing[bucket] = state
        following = lineage[index + 1][0] if index + 1 < len(lineage) else charges
        opening = handed_over(closing, own_charges, following)
    return opening
