"""Folding usage events into an `AggregationState`, one rule per aggregation type
(lago-docs/13-billable-metrics.md, checklist §3), and merging partial states built from separate batches.

Events whose aggregated property is missing or not a number are ignored by sum/max/latest/weighted sums and
counted in `ignored_events_count`, so the caller can report them in the `events.errors` webhook
("Missing aggregation property", lago-docs/02-changelog.md and DECISIONS.md "Events").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from decimal import Decimal

from lagoon.engine.aggregation_state import (
    KEEP_EVERY_EVENT_VALUE,
    ZERO,
    AggregationState,
    epoch_microseconds,
    in_advance_level,
    local_day,
)
from lagoon.engine.kept_values import keep, merge_kept, spec_of, transaction_key
from lagoon.engine.metric_definitions import UsageEvent, numeric_property
from lagoon.engine.numbers import EXACT, exact


def _keep_event_value(state: AggregationState, event: UsageEvent, value: Decimal) -> None:
    keep(state, (epoch_microseconds(event.timestamp), transaction_key(event.transaction_id), value))


def _add_precise_amount(state: AggregationState, event: UsageEvent) -> None:
    if event.precise_total_amount_cents is not None:
        state.precise_total_amount_cents = EXACT.add(
            state.precise_total_amount_cents, event.precise_total_amount_cents
        )


def _fold_count(state: AggregationState, event: UsageEvent) -> None:
    state.events_count += 1
    _add_precise_amount(state, event)
    if state.keeps_values:
        _keep_event_value(state, event, Decimal(1))


def _fold_sum(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    state.total = EXACT.add(state.total, value)
    _add_precise_amount(state, event)
    if state.recurring:
        day = local_day(epoch_microseconds(event.timestamp), state.timezone).isoformat()
        added, removed = state.daily_totals.get(day, (ZERO, ZERO))
        if value >= 0:
            state.daily_totals[day] = (EXACT.add(added, value), removed)
        else:
            state.daily_totals[day] = (added, EXACT.add(removed, value))
    if state.keeps_values:
        _keep_event_value(state, event, value)


def _fold_max(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    maximum = state.maximum
    if maximum is None or value > maximum:
        state.maximum = value
    _add_precise_amount(state, event)
    if state.keeps_values:
        _keep_event_value(state, event, value)


def _fold_latest(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    candidate = (epoch_microseconds(event.timestamp), event.transaction_id, value)
    # Latest by timestamp; equal timestamps fall back to the transaction id so any fold order agrees.
    if state.latest is None or candidate[:2] > state.latest[:2]:
        state.latest = candidate
    _add_precise_amount(state, event)
    if state.keeps_values:
        _keep_event_value(state, event, value)


def _fold_weighted_sum(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    state.total = EXACT.add(state.total, value)
    state.weighted_time_sum = EXACT.fma(value, epoch_microseconds(event.timestamp), state.weighted_time_sum)
    _add_precise_amount(state, event)
    if state.keeps_values:
        _keep_event_value(state, event, value)


def _fold_unique_count(state: AggregationState, event: UsageEvent) -> None:
    raw = event.properties.get(state.field_name)  # type: ignore[arg-type]
    if raw is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    # The OAS: `operation_type` is `add` or `remove`; anything else (or nothing) adds.
    operation = "remove" if event.properties.get("operation_type") == "remove" else "add"
    entry = (epoch_microseconds(event.timestamp), operation)
    operations = state.unique_values.setdefault(str(raw), [])
    if entry not in operations:
        bisect.insort(operations, entry, key=_operation_sort_key)
    _add_precise_amount(state, event)
    if state.keeps_values:
        _keep_event_value(state, event, Decimal(1))


def _operation_sort_key(entry: tuple[int | None, str]) -> tuple[int, int, str]:
    timestamp, operation = entry
    # Carried operations (None) come first; at the same instant an add precedes a remove.
    return (0, 0, operation) if timestamp is None else (1, timestamp, operation)


_FOLDERS = {
    "count_agg": _fold_count,
    "sum_agg": _fold_sum,
    "max_agg": _fold_max,
    "latest_agg": _fold_latest,
    "weighted_sum_agg": _fold_weighted_sum,
    "unique_count_agg": _fold_unique_count,
}


def fold(state: AggregationState, event: UsageEvent) -> AggregationState:
    """Fold one event into `state` and return it. Updates in place: this is the ingestion hot path."""
    _FOLDERS[state.aggregation_type](state, event)
    return state


def fold_events(state: AggregationState, events: Iterable[UsageEvent]) -> AggregationState:
    """Fold many events into `state` (in place) and return it."""
    folder = _FOLDERS[state.aggregation_type]
    for event in events:
        folder(state, event)
    return state


def _holds_values(state: AggregationState) -> bool:
    return state.keeps_values and bool(state.event_values or state.values_head or state.clamped_count)


def _merge_peak(a: AggregationState, b: AggregationState) -> Decimal | None:
    """The highest level of two partial states: one's alone when the other has none (an opening state);
    else the higher of both orders, as the order their events came in is not kept (a bound: an event
    after it pays no less than what passes it)."""
    if a.peak is None or b.peak is None:
        return b.peak if a.peak is None else a.peak
    level_a, level_b = in_advance_level(a) or ZERO, in_advance_level(b) or ZERO
    return max(a.peak, b.peak, level_a + b.peak, level_b + a.peak)


def _merge_opening(a: Decimal, b: Decimal) -> Decimal:
    # Partial states built from batches open at zero; only the period's own state carries a value.
    if a and b and a != b:
        raise ValueError("cannot merge states opened with different carried values")
    return a or b


@exact
def merge(a: AggregationState, b: AggregationState) -> AggregationState:
    """Combine two partial states of the same metric and period into a new state.

    Commutative and associative, so batches can be aggregated separately in any order; latest_agg and
    weighted_sum_agg keep what they need of the event times to stay exact.
    """
    if a.aggregation_type != b.aggregation_type or a.field_name != b.field_name:
        raise ValueError("cannot merge states of different aggregations")
    maximum = (
        a.maximum if b.maximum is None else b.maximum if a.maximum is None else max(a.maximum, b.maximum)
    )
    latest = a.latest if b.latest is None else b.latest if a.latest is None else max(a.latest, b.latest)
    unique_values: dict[str, list[tuple[int | None, str]]] = {
        v: list(ops) for v, ops in a.unique_values.items()
    }
    for value, operations in b.unique_values.items():
        existing = unique_values.setdefault(value, [])
        unique_values[value] = sorted(set(existing) | set(operations), key=_operation_sort_key)
    daily_totals = dict(a.daily_totals)
    for day, (added, removed) in b.daily_totals.items():
        previous_added, previous_removed = daily_totals.get(day, (ZERO, ZERO))
        daily_totals[day] = (previous_added + added, previous_removed + removed)
    # A side that keeps or holds no value (an opening state) takes the other's keep.
    same_keep = spec_of(a) == spec_of(b) or not (_holds_values(a) and _holds_values(b))
    keeper = (
        b if _holds_values(b) and not _holds_values(a) else a if a.keeps_values or not b.keeps_values else b
    )
    keep = keeper.keep_event_values if same_keep else KEEP_EVERY_EVENT_VALUE
    until = keeper.keep_values_until if same_keep else None
    merged = AggregationState(
        aggregation_type=a.aggregation_type,
        field_name=a.field_name,
        recurring=a.recurring or b.recurring,
        timezone=a.timezone,
        keep_event_values=keep,
        events_count=a.events_count + b.events_count,
        ignored_events_count=a.ignored_events_count + b.ignored_events_count,
        total=a.total + b.total,
        opening_value=_merge_opening(a.opening_value, b.opening_value),
        opening_events_count=a.opening_events_count + b.opening_events_count,
        maximum=maximum,
        latest=latest,
        weighted_time_sum=a.weighted_time_sum + b.weighted_time_sum,
        unique_values=unique_values,
        daily_totals=daily_totals,
        precise_total_amount_cents=a.precise_total_amount_cents + b.precise_total_amount_cents,
        keep_values_until=until,
        peak=_merge_peak(a, b),
        clamp=keeper.clamp if same_keep else None,
    )
    merge_kept(a, b, merged)
    return merged
