"""The running aggregate of usage events (lago-docs/13-billable-metrics.md, checklist §3) and its JSON form.

One `AggregationState` per (charge, filter combination, group key, billing period). The ingestion side folds
events into it as they arrive and combines partial states computed from separate batches
(`lagoon.engine.folding`), stores it as JSON (`to_dict` / `from_dict`) and, when the period is read or closed,
turns it into units (`lagoon.engine.period_units.finalize`). A recurring metric's closing state opens the
next period (`lagoon.engine.period_units.open_next_period`).

States are bounded: they keep running totals, never the events, except
- `unique_count_agg`: the distinct values with their add/remove operations (Lago counts distinct values);
- recurring `sum_agg`: one running total per local day of the period (≤ 366), for day-based proration;
- opt-in kept values (`lagoon.engine.kept_values`): the earliest values a percentage charge's free
  allowance reads, and the clamped fees of the others when it caps each transaction — at most
  `KEPT_VALUES_LIMIT` values, the earliest beyond it as running figures.
A pay-in-advance sum or unique count also keeps the highest level its events reached (`peak`).

A state records time as microseconds since the epoch (`epoch_microseconds`) and days as local ISO dates of
the billing timezone (`local_day`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from lagoon.engine.kept_values import KEEP_EVERY_EVENT_VALUE, Clamp, KeepSpec, ValuesHead
from lagoon.engine.metric_definitions import MetricDefinition

__all__ = ["KEEP_EVERY_EVENT_VALUE", "KEEP_VALUES_UNTIL_TOTAL", "AggregationState", "KeepSpec", "new_state"]

ZERO = Decimal(0)
KEEP_VALUES_UNTIL_TOTAL = -2
"""`keep_event_values` of states stored before `KeepSpec`: the earliest values until their running total
passes `keep_values_until` (read as N = 0 with that cap)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


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
    # recurring sum_agg: events counted in the earlier periods (Lago counts a recurring sum's events since the
    # subscription started). 0 in a period's own aggregate; only a state chained across periods carries it.
    opening_events_count: int = 0
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
    # The free amount (`free_units_per_total_aggregation`) the kept values are read against.
    keep_values_until: Decimal | None = None
    # Kept values past `kept_values.KEPT_VALUES_LIMIT`: the earliest ones as running figures.
    values_head: ValuesHead | None = None
    # A percentage charge clamping each transaction: its price, and the fees of the values past the prefix.
    clamp: Clamp | None = None
    clamped_fees: Decimal = ZERO
    clamped_count: int = 0
    # Σ of `event_values` while the state is folded (a cache, never stored; None: not known).
    kept_sum: Decimal | None = field(default=None, repr=False, compare=False)
    # Pay in advance (sum, unique count): the highest `in_advance_level` the period's events reached, in the
    # order they were folded — what the period's fees have paid for (lago-api's `max_aggregation`). None
    # until a pay-in-advance event is folded (`period_units.fold_in_advance`).
    peak: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only; Decimals as strings. `opening_events_count` and `keep_values_until` only when
        set: the stored aggregates keep their size."""
        carried = {"opening_events_count": self.opening_events_count} if self.opening_events_count else {}
        data: dict[str, Any] = {
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
            **carried,
        }
        if self.keep_values_until is not None:
            data["keep_values_until"] = str(self.keep_values_until)
        if self.peak is not None:
            data["peak"] = str(self.peak)
        if self.values_head is not None:
            data["values_head"] = self.values_head.to_dict()
        if self.clamp is not None:
            data["clamp"] = self.clamp.to_list()
            data["clamped"] = [self.clamped_count, str(self.clamped_fees)]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregationState:
        """Inverse of `to_dict`."""
        latest = data.get("latest")
        maximum = data.get("maximum")
        until = data.get("keep_values_until")
        peak = data.get("peak")
        head, clamp, clamped = data.get("values_head"), data.get("clamp"), data.get("clamped") or [0, "0"]
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
            opening_events_count=int(data.get("opening_events_count", 0)),
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
            keep_values_until=None if until is None else Decimal(until),
            peak=None if peak is None else Decimal(peak),
            values_head=None if head is None else ValuesHead.from_dict(head),
            clamp=None if clamp is None else Clamp.from_list(clamp),
            clamped_count=int(clamped[0]),
            clamped_fees=Decimal(clamped[1]),
        )

    @property
    def keeps_values(self) -> bool:
        """Whether folding keeps event values (a percentage charge's free allowance or clamps)."""
        return bool(self.keep_event_values) or self.keep_values_until is not None or self.clamp is not None


def new_state(
    metric: MetricDefinition,
    *,
    timezone: str = "UTC",
    keep: KeepSpec | None = None,
    keep_event_values: int = 0,
    keep_values_until: Decimal | None = None,
) -> AggregationState:
    """An empty state for `metric` over one period.

    `timezone` is the billing timezone whose local days count for proration. `keep` says what a percentage
    price reads of the values (`charge_models.percentage_keep`, `lagoon.engine.kept_values`); without it,
    `keep_event_values` keeps the earliest N values (`KEEP_EVERY_EVENT_VALUE`: every value, up to the
    limit) and `keep_values_until` alone the earliest until their running total passes it.
    """
    spec = keep or KeepSpec(keep_event_values, keep_values_until)
    return AggregationState(
        aggregation_type=metric.aggregation_type,
        field_name=metric.field_name,
        recurring=metric.recurring,
        timezone=timezone,
        keep_event_values=spec.events,
        keep_values_until=spec.until,
        clamp=spec.clamp,
    )


def in_advance_level(state: AggregationState) -> Decimal | None:
    """How far the state's level moved since the period started, as pay-in-advance fees follow it: a sum's
    total of the period, a unique count's active values less those carried in (lago-api's
    `current_aggregation` of a pay-in-advance aggregation). None for aggregations that never go down."""
    if state.aggregation_type == "sum_agg":
        return state.total
    if state.aggregation_type == "unique_count_agg":
        values = [operations for operations in state.unique_values.values() if operations]
        active = sum(1 for operations in values if operations[-1][1] == "add")
        carried = sum(1 for operations in values if operations[0][0] is None)
        return Decimal(active - carried)
    return None


def epoch_microseconds(timestamp: datetime) -> int:
    """A moment as a state records it: microseconds since the epoch."""
    return (timestamp - EPOCH) // MICROSECOND


@lru_cache(maxsize=256)
def billing_zone(name: str) -> ZoneInfo:
    """The billing timezone `name` (cached: folding a recurring sum asks for it on every event)."""
    return ZoneInfo(name)


def local_day(timestamp_us: int, timezone: str) -> date:
    """The local day, in the billing `timezone`, of a timestamp recorded in microseconds."""
    moment = EPOCH + timedelta(microseconds=timestamp_us)
    return moment.astimezone(billing_zone(timezone)).date()
