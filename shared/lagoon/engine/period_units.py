"""A period's units from its aggregation state, ready for pricing (checklist §3.3, §3.5): the metric's
rounding, the day-weighted units of recurring metrics (proration), and the state a recurring metric carries
into the next period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from lagoon.engine.aggregation_state import (
    MICROSECOND,
    ZERO,
    AggregationState,
    billing_zone,
    epoch_microseconds,
    in_advance_level,
    local_day,
)
from lagoon.engine.folding import fold
from lagoon.engine.kept_values import Clamp, ValuesHead
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.numbers import exact

_PRORATION_QUANTUM = Decimal("0.00001")
_WEIGHTED_QUANTUM = Decimal(1).scaleb(-20)
_MICROSECONDS_PER_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class AggregationResult:
    """Units of one period, ready for pricing.

    - `units`: the aggregated units after the metric's rounding; for recurring metrics, the units at the end
      of the period (carried over to the next);
    - `total_aggregated_units`: the same before rounding;
    - `events_count`: the period's events; a recurring sum's since the subscription started;
    - `prorated_units`: recurring sum / unique count only, units weighted by the days each unit was active
      (a started day counts) over the days of the whole charges interval, used by `prorated` charges;
    - `event_values`: values of the kept events in timestamp order (percentage pricing);
    - `precise_total_amount_cents`: Σ of the events' `precise_total_amount_cents` (dynamic pricing);
    - `prorated_steps`: recurring sum only, (full units, prorated units) of the carried value and of each
      local day's net change, in time order, for prorated graduated pricing;
    - `unit_running_totals`: count / unique count: each unit is a transaction of 1 for percentage pricing
      (lago-api's running totals of these aggregations are 1, 2, …, units);
    - `paid_units`: pay in advance (sum, unique count), the highest units the period's events reached, what
      its fees have paid for (the state's `peak`); None before its first pay-in-advance event;
    - `values_head`, `clamp`, `clamped`: what the state keeps beyond `event_values` (`engine.kept_values`):
      the earliest values as figures, a clamped price and (count, Σ fees) of the values it priced.
    """

    units: Decimal
    events_count: int
    total_aggregated_units: Decimal
    prorated_units: Decimal | None = None
    event_values: tuple[Decimal, ...] = ()
    precise_total_amount_cents: Decimal = ZERO
    ignored_events_count: int = 0
    prorated_steps: tuple[tuple[Decimal, Decimal], ...] = ()
    unit_running_totals: bool = False
    paid_units: Decimal | None = None
    values_head: ValuesHead | None = None
    clamp: Clamp | None = None
    clamped: tuple[int, Decimal] = (0, ZERO)


@exact
def apply_rounding(units: Decimal, rounding_function: str | None, rounding_precision: int | None) -> Decimal:
    """The metric's `rounding_function` at `rounding_precision` decimals (negative: tens, hundreds…).

    Applied to the aggregated units of the period (checklist §3.5: 2.345 → round(2) = 2.35;
    1234 → round(-1) = 1230). `round` rounds halves away from zero, as SQL ROUND does.
    """
    if rounding_function is None:
        return units
    mode = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[rounding_function]
    precision = rounding_precision or 0
    rounded = units.quantize(Decimal(1).scaleb(-precision), rounding=mode)
    return Decimal(int(rounded)) if precision < 0 else rounded


def _days(period_from: datetime, period_to: datetime, timezone: str) -> tuple[date, date, int]:
    """First and last local day of [period_from, period_to) and how many days it spans."""
    zone = billing_zone(timezone)
    first = period_from.astimezone(zone).date()
    last = (period_to - MICROSECOND).astimezone(zone).date()
    return first, last, (last - first).days + 1


def _prorated_sum(state: AggregationState, first: date, last: date, period_days: int) -> Decimal:
    """Carried units count for the days of the period (all of them unless it ends early); every event's
    value counts from its local day (included) to the period end, removals as additions: Lago multiplies
    each value by (days from its day to the end + 1) / days of the whole interval, then ceils the prorated
    sum to 5 decimals (`ProratedAggregations::SumService`, `persisted_pro_rata`)."""
    weighted = state.opening_value * ((last - first).days + 1)
    for day_text, (added, removed) in state.daily_totals.items():
        day = min(max(date.fromisoformat(day_text), first), last)
        weighted += (added + removed) * ((last - day).days + 1)
    return (weighted / period_days).quantize(_PRORATION_QUANTUM, rounding=ROUND_CEILING)


def _prorated_steps(
    state: AggregationState, first: date, last: date, period_days: int
) -> tuple[tuple[Decimal, Decimal], ...]:
    """(full, prorated) per step: the carried value counts for the days of the period, each day's net change
    from its day (included) to the period end, over the days of the whole interval, as Lago's per-event
    prorated aggregation (events of one day share it)."""
    steps: list[tuple[Decimal, Decimal]] = []
    if state.opening_value:
        active = (last - first).days + 1
        steps.append((state.opening_value, state.opening_value * active / period_days))
    for day_text in sorted(state.daily_totals):
        added, removed = state.daily_totals[day_text]
        net = added + removed
        if net:
            day = min(max(date.fromisoformat(day_text), first), last)
            steps.append((net, net * ((last - day).days + 1) / period_days))
    return tuple(steps)


def _unique_count(state: AggregationState, first: date, last: date, period_days: int) -> tuple[int, Decimal]:
    """Distinct values active at the period end, and the active-day-weighted count (prorated units): each
    value's active days in the period over the days of the whole interval (`UniqueCountQuery#prorated_query`)."""
    days = (last - first).days + 1
    active_at_end = 0
    active_days = 0
    for operations in state.unique_values.values():
        active_since: date | None = None
        value_days = 0
        for timestamp, operation in operations:
            day = first if timestamp is None else min(max(local_day(timestamp, state.timezone), first), last)
            if operation == "add":
                if active_since is None:
                    active_since = day
            elif active_since is not None:
                value_days += (day - active_since).days + 1
                active_since = None
        if active_since is not None:
            active_at_end += 1
            value_days += (last - active_since).days + 1
        active_days += min(value_days, days)
    # Lago ceils the prorated count to 5 decimals (`ProratedAggregations::UniqueCountService`).
    prorated = (Decimal(active_days) / period_days).quantize(_PRORATION_QUANTUM, rounding=ROUND_CEILING)
    return active_at_end, prorated


def _weighted_units(value: Decimal) -> Decimal:
    """A weighted sum as lago-api keeps it: ceiled to 20 decimals (`WeightedSumService`: `value.ceil(20)`),
    trailing zeros dropped, so a fee's units read "2177.41935483870967741936", never 200 digits."""
    ceiled = value.quantize(_WEIGHTED_QUANTUM, rounding=ROUND_CEILING)
    return Decimal(int(ceiled)) if ceiled == ceiled.to_integral_value() else ceiled.normalize()


@exact
def finalize(
    state: AggregationState,
    period_from: datetime,
    period_to: datetime,
    *,
    metric: MetricDefinition | None = None,
    period_days: int | None = None,
) -> AggregationResult:
    """Units of the period [period_from, period_to) from `state`.

    `metric` supplies `rounding_function` / `rounding_precision`; without it no rounding applies.
    `period_days`: the days of the whole charges interval the period belongs to (`periods.charges_period_days`),
    what prorated units are divided by — a first period started mid-month or a terminated one still divides
    by the month (lago-api `charges_duration`); default the period's own days.
    weighted_sum_agg: Σ level * seconds at that level inside the period / seconds of `period_days` days, where
    the level starts at the carried value and each event adds its value (an increment, e.g. +10 GB, -4 GB),
    ceiled to 20 decimals: a level held over the 27 days of a first period started on March 5th counts
    27/31 of it (lago-api). Its `total_aggregated_units` is the level at the end of the period, as lago-api
    reports them.
    """
    kind = state.aggregation_type
    aggregated: Decimal | None = None
    prorated: Decimal | None = None
    steps: tuple[tuple[Decimal, Decimal], ...] = ()
    if kind == "count_agg":
        total = Decimal(state.events_count)
    elif kind == "sum_agg":
        total = state.opening_value + state.total
        if state.recurring:
            first, last, days = _days(period_from, period_to, state.timezone)
            prorated = _prorated_sum(state, first, last, period_days or days)
            steps = _prorated_steps(state, first, last, period_days or days)
    elif kind == "max_agg":
        total = state.maximum if state.maximum is not None else ZERO
    elif kind == "latest_agg":
        total = state.latest[2] if state.latest is not None else ZERO
    elif kind == "weighted_sum_agg":
        start_us = epoch_microseconds(period_from)
        end_us = epoch_microseconds(period_to)
        integral = state.opening_value * (end_us - start_us) + state.total * end_us - state.weighted_time_sum
        # lago-api divides by the whole charges interval in seconds (`charges_duration.days`), also for a
        # first period started mid-interval or a terminated one (WeightedSumQuery#period_ratio_sql).
        days = period_days or _days(period_from, period_to, state.timezone)[2]
        total = _weighted_units(integral / (days * _MICROSECONDS_PER_DAY))
        # lago-api's total of a weighted sum is the level the period ends at (`latest_value + variation`).
        aggregated = state.opening_value + state.total
    else:  # unique_count_agg
        first, last, days = _days(period_from, period_to, state.timezone)
        active, prorated = _unique_count(state, first, last, period_days or days)
        total = Decimal(active)
        if not state.recurring:
            prorated = None

    rounding_function = metric.rounding_function if metric else None
    rounding_precision = metric.rounding_precision if metric else None
    paid: Decimal | None = None
    level = in_advance_level(state)
    if state.peak is not None and level is not None:
        # the level the period reached at its highest: the units now, plus how far they went down since
        paid = apply_rounding(total + state.peak - level, rounding_function, rounding_precision)
    return AggregationResult(
        units=apply_rounding(total, rounding_function, rounding_precision),
        events_count=state.events_count + state.opening_events_count,
        total_aggregated_units=total if aggregated is None else aggregated,
        prorated_units=prorated,
        event_values=tuple(value for _, _, value in state.event_values),
        precise_total_amount_cents=state.precise_total_amount_cents,
        ignored_events_count=state.ignored_events_count,
        prorated_steps=steps,
        unit_running_totals=kind in ("count_agg", "unique_count_agg"),
        paid_units=paid,
        values_head=state.values_head,
        clamp=state.clamp,
        clamped=(state.clamped_count, state.clamped_fees),
    )


def fold_in_advance(
    state: AggregationState,
    event: UsageEvent,
    period_from: datetime,
    period_to: datetime,
    *,
    metric: MetricDefinition | None = None,
    period_days: int | None = None,
) -> tuple[AggregationResult, AggregationResult]:
    """Fold one event of a pay-in-advance charge into `state` (in place), and return the period's results
    before and after it (`charges.price_in_advance_event` prices the difference).

    A sum or unique count also moves the state's `peak`, the highest level the period's events reached, in
    the order they are folded, as lago-api's pay-in-advance aggregations keep `max_aggregation`: the first
    event sets it to the level it leads to (lower than the start when it removes), each next one raises it
    when it passes it. Only what passes it is paid again (`AggregationResult.paid_units`).
    """
    before = finalize(state, period_from, period_to, metric=metric, period_days=period_days)
    level_before = in_advance_level(state)
    fold(state, event)
    level = in_advance_level(state)
    if level is not None and level_before is not None:
        state.peak = level if state.peak is None else max(state.peak, level)
    after = finalize(state, period_from, period_to, metric=metric, period_days=period_days)
    return before, after


@exact
def open_next_period(state: AggregationState, period_to: datetime | None = None) -> AggregationState:
    """The opening state of the next period: a recurring metric carries its units over (checklist §3.3),
    a recurring weighted_sum_agg its level; every other metric starts again from zero."""
    opening = AggregationState(
        aggregation_type=state.aggregation_type,
        field_name=state.field_name,
        recurring=state.recurring,
        timezone=state.timezone,
        keep_event_values=state.keep_event_values,
        keep_values_until=state.keep_values_until,
        clamp=state.clamp,
    )
    # Lago's weighted sum starts from the latest value only for recurring metrics (`initial_value` is 0
    # otherwise), as a recurring sum does.
    if state.recurring and state.aggregation_type in ("sum_agg", "weighted_sum_agg"):
        opening.opening_value = state.opening_value + state.total
    if state.recurring and state.aggregation_type == "sum_agg":
        # lago-api's recurring SumService reads the events without the period's lower bound: its count is
        # every event since the subscription started (a weighted sum counts the period's own events).
        opening.opening_events_count = state.opening_events_count + state.events_count
    elif state.recurring and state.aggregation_type == "unique_count_agg":
        for value, operations in state.unique_values.items():
            if operations and operations[-1][1] == "add":
                opening.unique_values[value] = [(None, "add")]
    return opening
