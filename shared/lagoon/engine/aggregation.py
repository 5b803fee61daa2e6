"""Incremental aggregation of usage events into billable units (lago-docs/13-billable-metrics.md, checklist §3).

One `AggregationState` per (charge, filter combination, group key, billing period). The ingestion side folds
events into it as they arrive (`fold`), combines partial states computed from separate batches (`merge`),
stores it as JSON (`to_dict` / `from_dict`) and, when the period is read or closed, turns it into units
(`finalize`). A recurring metric's closing state opens the next period (`open_next_period`).

States are bounded: they keep running totals, never the events, except
- `unique_count_agg`: the distinct values with their add/remove operations (Lago counts distinct values);
- recurring `sum_agg`: one running total per local day of the period (≤ 366), for day-based proration;
- opt-in `keep_event_values`: the values of the earliest N events (N = the percentage charge's
  `free_units_per_events`), or of every event when a percentage charge caps each transaction
  (`per_transaction_min_amount` / `per_transaction_max_amount` need each transaction's amount, as Lago reads
  them). That last case is the only one that grows with the number of events.

Events whose aggregated property is missing or not a number are ignored by sum/max/latest/weighted sums and
counted in `ignored_events_count`, so the caller can report them in the `events.errors` webhook
("Missing aggregation property", lago-docs/02-changelog.md and DECISIONS.md "Events").
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from lagoon.engine.numbers import EXACT, event_number, exact
from lagoon.engine.properties import AGGREGATION_TYPES, ROUNDING_FUNCTIONS

ZERO = Decimal(0)
KEEP_EVERY_EVENT_VALUE = -1
"""`keep_event_values` value asking the state to keep every event's value (per-transaction min/max)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_PRORATION_QUANTUM = Decimal("0.00001")


@dataclass(frozen=True, slots=True)
class MetricFilter:
    """A billable metric filter: an event property `key` and the values it may take."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """What the engine needs of a billable metric (spec: `BillableMetricObject`)."""

    code: str
    aggregation_type: str
    field_name: str | None = None
    recurring: bool = False
    weighted_interval: str | None = None
    rounding_function: str | None = None
    rounding_precision: int | None = None
    filters: tuple[MetricFilter, ...] = ()

    def __post_init__(self) -> None:
        if self.aggregation_type not in AGGREGATION_TYPES:
            raise ValueError(f"unsupported aggregation_type {self.aggregation_type!r}")
        if self.aggregation_type != "count_agg" and not self.field_name:
            raise ValueError(f"{self.aggregation_type} needs a field_name")
        if self.rounding_function is not None and self.rounding_function not in ROUNDING_FUNCTIONS:
            raise ValueError(f"unsupported rounding_function {self.rounding_function!r}")


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One event as the aggregator sees it; `timestamp` is an aware datetime."""

    transaction_id: str
    timestamp: datetime
    properties: Mapping[str, Any]
    precise_total_amount_cents: Decimal | None = None


@dataclass(slots=True)
class AggregationState:
    """Running aggregate of one metric over one period. JSON-serialisable with `to_dict`.

    Fields not used by the aggregation type stay at their defaults.
    """

    aggregation_type: str
    field_name: str | None
    recurring: bool = False
    timezone: str = "UTC"
    keep_event_values: int = 0
    events_count: int = 0
    ignored_events_count: int = 0
    # count/sum: Σ values; weighted_sum: Σ increments.
    total: Decimal = ZERO
    # Value carried from the previous period (recurring sum / weighted sum).
    opening_value: Decimal = ZERO
    maximum: Decimal | None = None
    # latest_agg: (timestamp in µs, transaction_id, value) of the latest event.
    latest: tuple[int, str, Decimal] | None = None
    # weighted_sum_agg: Σ value * timestamp (µs), so the time integral needs no event list.
    weighted_time_sum: Decimal = ZERO
    # unique_count_agg: value → sorted [(timestamp µs or None for carried, operation)].
    unique_values: dict[str, list[tuple[int | None, str]]] = field(default_factory=dict)
    # recurring sum_agg: local ISO date → (Σ additions, Σ removals) folded that day.
    daily_totals: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    precise_total_amount_cents: Decimal = ZERO
    # Sorted (timestamp µs, transaction_id, value) when keep_event_values asks for them.
    event_values: list[tuple[int, str, Decimal]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; Decimals as strings."""
        return {
            "aggregation_type": self.aggregation_type,
            "field_name": self.field_name,
            "recurring": self.recurring,
            "timezone": self.timezone,
            "keep_event_values": self.keep_event_values,
            "events_count": self.events_count,
            "ignored_events_count": self.ignored_events_count,
            "total": str(self.total),
            "opening_value": str(self.opening_value),
            "maximum": None if self.maximum is None else str(self.maximum),
            "latest": None if self.latest is None else [self.latest[0], self.latest[1], str(self.latest[2])],
            "weighted_time_sum": str(self.weighted_time_sum),
            "unique_values": {value: [list(op) for op in ops] for value, ops in self.unique_values.items()},
            "daily_totals": {day: [str(a), str(r)] for day, (a, r) in self.daily_totals.items()},
            "precise_total_amount_cents": str(self.precise_total_amount_cents),
            "event_values": [[ts, tx, str(value)] for ts, tx, value in self.event_values],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregationState:
        """Inverse of `to_dict`."""
        latest = data.get("latest")
        maximum = data.get("maximum")
        return cls(
            aggregation_type=data["aggregation_type"],
            field_name=data.get("field_name"),
            recurring=bool(data.get("recurring", False)),
            timezone=data.get("timezone", "UTC"),
            keep_event_values=int(data.get("keep_event_values", 0)),
            events_count=int(data.get("events_count", 0)),
            ignored_events_count=int(data.get("ignored_events_count", 0)),
            total=Decimal(data.get("total", "0")),
            opening_value=Decimal(data.get("opening_value", "0")),
            maximum=None if maximum is None else Decimal(maximum),
            latest=None if latest is None else (int(latest[0]), str(latest[1]), Decimal(latest[2])),
            weighted_time_sum=Decimal(data.get("weighted_time_sum", "0")),
            unique_values={
                value: [(None if ts is None else int(ts), str(op)) for ts, op in ops]
                for value, ops in data.get("unique_values", {}).items()
            },
            daily_totals={
                day: (Decimal(a), Decimal(r)) for day, (a, r) in data.get("daily_totals", {}).items()
            },
            precise_total_amount_cents=Decimal(data.get("precise_total_amount_cents", "0")),
            event_values=[(int(ts), str(tx), Decimal(v)) for ts, tx, v in data.get("event_values", [])],
        )


@dataclass(frozen=True, slots=True)
class AggregationResult:
    """Units of one period, ready for pricing.

    - `units`: the aggregated units after the metric's rounding; for recurring metrics, the units at the end
      of the period (carried over to the next);
    - `total_aggregated_units`: the same before rounding;
    - `prorated_units`: recurring sum / unique count only, units weighted by the days each unit was active
      (a started day counts), used by `prorated` charges;
    - `event_values`: values of the kept events in timestamp order (percentage pricing);
    - `precise_total_amount_cents`: Σ of the events' `precise_total_amount_cents` (dynamic pricing);
    - `prorated_steps`: recurring sum only, (full units, prorated units) of the carried value and of each
      local day's net change, in time order, for prorated graduated pricing.
    """

    units: Decimal
    events_count: int
    total_aggregated_units: Decimal
    prorated_units: Decimal | None = None
    event_values: tuple[Decimal, ...] = ()
    precise_total_amount_cents: Decimal = ZERO
    ignored_events_count: int = 0
    prorated_steps: tuple[tuple[Decimal, Decimal], ...] = ()


def new_state(
    metric: MetricDefinition, *, timezone: str = "UTC", keep_event_values: int = 0
) -> AggregationState:
    """An empty state for `metric` over one period.

    `timezone` is the billing timezone whose local days count for proration. `keep_event_values` keeps the
    values of the earliest N events (a percentage charge's `free_units_per_events`), or of every event with
    `KEEP_EVERY_EVENT_VALUE` (per-transaction min/max); 0 keeps none.
    """
    return AggregationState(
        aggregation_type=metric.aggregation_type,
        field_name=metric.field_name,
        recurring=metric.recurring,
        timezone=timezone,
        keep_event_values=keep_event_values,
    )


def numeric_property(value: object) -> Decimal | None:
    """The Decimal of an event property, or None when it is missing, not a number or out of bounds.

    Numbers or numeric strings count ("12", 12, 12.5); strings as Lago tests them (ASCII digits, optional
    minus and decimals), bounded (`lagoon.engine.numbers`).
    """
    return event_number(value)


def aggregation_property_error(metric: MetricDefinition, event: UsageEvent) -> str | None:
    """Why `event` cannot be aggregated for `metric`, as an `events.errors` category, or None when it can.

    `missing_aggregation_property` when the `field_name` property is absent or null,
    `invalid_aggregation_property` when a numeric aggregation gets a value that is not a number.
    """
    if metric.aggregation_type == "count_agg":
        return None
    value = event.properties.get(metric.field_name or "")
    if value is None:
        return "missing_aggregation_property"
    if metric.aggregation_type == "unique_count_agg":
        return None
    if numeric_property(value) is None:
        return "invalid_aggregation_property"
    return None


def _microseconds(timestamp: datetime) -> int:
    return (timestamp - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_day(timestamp_us: int, timezone: str) -> date:
    moment = _EPOCH + timedelta(microseconds=timestamp_us)
    return moment.astimezone(_zone(timezone)).date()


def _keep_event_value(state: AggregationState, event: UsageEvent, value: Decimal) -> None:
    entry = (_microseconds(event.timestamp), event.transaction_id, value)
    bisect.insort(state.event_values, entry)
    if state.keep_event_values > 0 and len(state.event_values) > state.keep_event_values:
        state.event_values.pop()


def _add_precise_amount(state: AggregationState, event: UsageEvent) -> None:
    if event.precise_total_amount_cents is not None:
        state.precise_total_amount_cents = EXACT.add(
            state.precise_total_amount_cents, event.precise_total_amount_cents
        )


def _fold_count(state: AggregationState, event: UsageEvent) -> None:
    state.events_count += 1
    if event.precise_total_amount_cents is not None:
        state.precise_total_amount_cents = EXACT.add(
            state.precise_total_amount_cents, event.precise_total_amount_cents
        )
    if state.keep_event_values:
        _keep_event_value(state, event, Decimal(1))


def _fold_sum(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    state.total = EXACT.add(state.total, value)
    if event.precise_total_amount_cents is not None:
        state.precise_total_amount_cents = EXACT.add(
            state.precise_total_amount_cents, event.precise_total_amount_cents
        )
    if state.recurring:
        day = _local_day(_microseconds(event.timestamp), state.timezone).isoformat()
        added, removed = state.daily_totals.get(day, (ZERO, ZERO))
        if value >= 0:
            state.daily_totals[day] = (EXACT.add(added, value), removed)
        else:
            state.daily_totals[day] = (added, EXACT.add(removed, value))
    if state.keep_event_values:
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
    if event.precise_total_amount_cents is not None:
        state.precise_total_amount_cents = EXACT.add(
            state.precise_total_amount_cents, event.precise_total_amount_cents
        )
    if state.keep_event_values:
        _keep_event_value(state, event, value)


def _fold_latest(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    candidate = (_microseconds(event.timestamp), event.transaction_id, value)
    # Latest by timestamp; equal timestamps fall back to the transaction id so any fold order agrees.
    if state.latest is None or candidate[:2] > state.latest[:2]:
        state.latest = candidate
    _add_precise_amount(state, event)
    if state.keep_event_values:
        _keep_event_value(state, event, value)


def _fold_weighted_sum(state: AggregationState, event: UsageEvent) -> None:
    value = numeric_property(event.properties.get(state.field_name))  # type: ignore[arg-type]
    if value is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    state.total = EXACT.add(state.total, value)
    state.weighted_time_sum = EXACT.fma(value, _microseconds(event.timestamp), state.weighted_time_sum)
    _add_precise_amount(state, event)
    if state.keep_event_values:
        _keep_event_value(state, event, value)


def _fold_unique_count(state: AggregationState, event: UsageEvent) -> None:
    raw = event.properties.get(state.field_name)  # type: ignore[arg-type]
    if raw is None:
        state.ignored_events_count += 1
        return
    state.events_count += 1
    # The OAS: `operation_type` is `add` or `remove`; anything else (or nothing) adds.
    operation = "remove" if event.properties.get("operation_type") == "remove" else "add"
    entry = (_microseconds(event.timestamp), operation)
    operations = state.unique_values.setdefault(str(raw), [])
    if entry not in operations:
        bisect.insort(operations, entry, key=_operation_sort_key)
    _add_precise_amount(state, event)
    if state.keep_event_values:
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


def _merge_event_values(
    a: Sequence[tuple[int, str, Decimal]], b: Sequence[tuple[int, str, Decimal]], limit: int
) -> list[tuple[int, str, Decimal]]:
    merged = sorted(set(a) | set(b))
    return merged[:limit] if limit > 0 else merged


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
    keep = a.keep_event_values if a.keep_event_values == b.keep_event_values else KEEP_EVERY_EVENT_VALUE
    return AggregationState(
        aggregation_type=a.aggregation_type,
        field_name=a.field_name,
        recurring=a.recurring or b.recurring,
        timezone=a.timezone,
        keep_event_values=keep,
        events_count=a.events_count + b.events_count,
        ignored_events_count=a.ignored_events_count + b.ignored_events_count,
        total=a.total + b.total,
        opening_value=_merge_opening(a.opening_value, b.opening_value),
        maximum=maximum,
        latest=latest,
        weighted_time_sum=a.weighted_time_sum + b.weighted_time_sum,
        unique_values=unique_values,
        daily_totals=daily_totals,
        precise_total_amount_cents=a.precise_total_amount_cents + b.precise_total_amount_cents,
        event_values=_merge_event_values(a.event_values, b.event_values, keep),
    )


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
    zone = _zone(timezone)
    first = period_from.astimezone(zone).date()
    last = (period_to - _MICROSECOND).astimezone(zone).date()
    return first, last, (last - first).days + 1


def _prorated_sum(state: AggregationState, first: date, last: date, days: int) -> Decimal:
    """Carried units count in full; every event's value counts from its local day (included) to the period
    end, removals as additions: Lago multiplies each value by (days from its day to the end + 1) / days,
    then ceils the prorated sum to 5 decimals (`ProratedAggregations::SumService`)."""
    weighted = state.opening_value * days
    for day_text, (added, removed) in state.daily_totals.items():
        day = min(max(date.fromisoformat(day_text), first), last)
        weighted += (added + removed) * ((last - day).days + 1)
    return (weighted / days).quantize(_PRORATION_QUANTUM, rounding=ROUND_CEILING)


def _prorated_steps(
    state: AggregationState, first: date, last: date, days: int
) -> tuple[tuple[Decimal, Decimal], ...]:
    """(full, prorated) per step: the carried value counts in full, each day's net change from its day
    (included) to the period end, as Lago's per-event prorated aggregation (events of one day share it)."""
    steps: list[tuple[Decimal, Decimal]] = []
    if state.opening_value:
        steps.append((state.opening_value, state.opening_value))
    for day_text in sorted(state.daily_totals):
        added, removed = state.daily_totals[day_text]
        net = added + removed
        if net:
            day = min(max(date.fromisoformat(day_text), first), last)
            steps.append((net, net * ((last - day).days + 1) / days))
    return tuple(steps)


def _unique_count(state: AggregationState, first: date, last: date, days: int) -> tuple[int, Decimal]:
    """Distinct values active at the period end, and the active-day-weighted count (prorated units)."""
    active_at_end = 0
    active_days = 0
    for operations in state.unique_values.values():
        active_since: date | None = None
        value_days = 0
        for timestamp, operation in operations:
            day = first if timestamp is None else min(max(_local_day(timestamp, state.timezone), first), last)
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
    return active_at_end, (Decimal(active_days) / days).quantize(_PRORATION_QUANTUM, rounding=ROUND_CEILING)


@exact
def finalize(
    state: AggregationState,
    period_from: datetime,
    period_to: datetime,
    *,
    metric: MetricDefinition | None = None,
) -> AggregationResult:
    """Units of the period [period_from, period_to) from `state`.

    `metric` supplies `rounding_function` / `rounding_precision`; without it no rounding applies.
    weighted_sum_agg: Σ level * seconds at that level / seconds in the period, where the level starts at the
    carried value and each event adds its value (an increment, e.g. +10 GB, -4 GB).
    """
    kind = state.aggregation_type
    prorated: Decimal | None = None
    steps: tuple[tuple[Decimal, Decimal], ...] = ()
    if kind == "count_agg":
        total = Decimal(state.events_count)
    elif kind == "sum_agg":
        total = state.opening_value + state.total
        if state.recurring:
            first, last, days = _days(period_from, period_to, state.timezone)
            prorated = _prorated_sum(state, first, last, days)
            steps = _prorated_steps(state, first, last, days)
    elif kind == "max_agg":
        total = state.maximum if state.maximum is not None else ZERO
    elif kind == "latest_agg":
        total = state.latest[2] if state.latest is not None else ZERO
    elif kind == "weighted_sum_agg":
        start_us = _microseconds(period_from)
        end_us = _microseconds(period_to)
        duration = Decimal(end_us - start_us)
        integral = state.opening_value * duration + state.total * end_us - state.weighted_time_sum
        total = integral / duration if duration else ZERO
    else:  # unique_count_agg
        first, last, days = _days(period_from, period_to, state.timezone)
        active, prorated = _unique_count(state, first, last, days)
        total = Decimal(active)
        if not state.recurring:
            prorated = None

    rounding_function = metric.rounding_function if metric else None
    rounding_precision = metric.rounding_precision if metric else None
    return AggregationResult(
        units=apply_rounding(total, rounding_function, rounding_precision),
        events_count=state.events_count,
        total_aggregated_units=total,
        prorated_units=prorated,
        event_values=tuple(value for _, _, value in state.event_values),
        precise_total_amount_cents=state.precise_total_amount_cents,
        ignored_events_count=state.ignored_events_count,
        prorated_steps=steps,
    )


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
    )
    # Lago's weighted sum starts from the latest value only for recurring metrics (`initial_value` is 0
    # otherwise), as a recurring sum does.
    if state.recurring and state.aggregation_type in ("sum_agg", "weighted_sum_agg"):
        opening.opening_value = state.opening_value + state.total
    elif state.recurring and state.aggregation_type == "unique_count_agg":
        for value, operations in state.unique_values.items():
            if operations and operations[-1][1] == "add":
                opening.unique_values[value] = [(None, "add")]
    return opening


# --- Filters and group keys ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChargeFilterDefinition:
    """A charge filter (spec: `ChargeFilterObject`): `values` maps a metric filter key to accepted values."""

    values: Mapping[str, Sequence[str]]
    properties: Any = None
    invoice_display_name: str | None = None


def filter_value(value: object) -> str:
    """An event property as filters and group keys compare it: Lago reads properties as JSON text, so
    booleans are "true" / "false" (not Python's "True")."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _matches(event_properties: Mapping[str, Any], values: Mapping[str, Sequence[str]]) -> bool:
    for key, accepted in values.items():
        value = event_properties.get(key)
        if value is None or filter_value(value) not in accepted:
            return False
    return True


def matching_charge_filters(
    event_properties: Mapping[str, Any], charge_filters: Sequence[ChargeFilterDefinition]
) -> tuple[int, ...]:
    """Indexes of the charge filters an event is aggregated under; empty: the charge's default properties.

    An event matches a filter when each of the filter's keys has one of its values. Among matches, a filter
    is left out when another matching filter is more specific (it constrains a strict superset of its keys),
    as Lago excludes the events of a filter's children; sibling filters on unrelated keys may therefore
    both count an event. Events matching no filter fall to the default price (checklist §3.4: "it applies to
    events that match no specific filter").
    """
    matched = [
        index
        for index, charge_filter in enumerate(charge_filters)
        if _matches(event_properties, charge_filter.values)
    ]
    if len(matched) <= 1:
        return tuple(matched)
    keys = {index: set(charge_filters[index].values) for index in matched}
    return tuple(
        index
        for index in matched
        if not any(keys[index] < keys[other] for other in matched if other != index)
    )


def invalid_filter_keys(metric: MetricDefinition, event_properties: Mapping[str, Any]) -> tuple[str, ...]:
    """Metric filter keys the event carries with a value the metric does not declare (an `events.errors`
    "invalid filter values" case, DECISIONS.md "Events")."""
    invalid = []
    for metric_filter in metric.filters:
        value = event_properties.get(metric_filter.key)
        if value is not None and filter_value(value) not in metric_filter.values:
            invalid.append(metric_filter.key)
    return tuple(invalid)


def group_key(event_properties: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, ...]:
    """The values of the charge's `pricing_group_keys` (or `grouped_by`) on an event; a missing key groups
    under None (Lago shows such usage without a group value)."""
    return tuple(
        None if event_properties.get(key) is None else filter_value(event_properties[key]) for key in keys
    )
