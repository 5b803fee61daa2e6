"""The event values a percentage charge's aggregate keeps, bounded whatever the traffic (docs/engine.md
"Bounded state", docs/decisions.md "Large aggregates").

lago-api prices a percentage charge's free transactions from the earliest values in timestamp order — the
first `free_units_per_events` (N), or, with only `free_units_per_total_aggregation` (the cap), those until
their running total passes it — and, with `per_transaction_min_amount` / `per_transaction_max_amount`,
every transaction on its own (`PercentageService`). An aggregate keeps:
- the *prefix* (`event_values`, sorted by timestamp): the earliest values the free allowance reads — the
  first N, or those while the running total before them is not above the cap (N = 0, or a clamped charge,
  whose allowance walks both);
- for a clamped charge (`Clamp`), every value past the prefix as its clamped fee, summed (`clamped_fees`):
  those values are paid in full whatever their order, and a value an earlier one pushes out of the prefix is
  priced as it leaves. Exact in any arrival order, in a few bytes;
- at most `KEPT_VALUES_LIMIT` values in the list: past it (a very large N, or a large cap over tiny values)
  the earliest are folded into running figures (`ValuesHead`: counts, totals and the allowance walk after
  them). Exact for the values arriving after them in timestamp order — the common case; a later value
  older than the head's last is counted as the first after the head (its place among the summarised ones
  is not known any more).
States built before clamps were kept (`KEEP_EVERY_EVENT_VALUE`) keep at most the limit's earliest values;
pricing then applies the totals formula, as for any state that lacks values (never an error).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from lagoon.engine.numbers import EXACT

ZERO = Decimal(0)
KEPT_VALUES_LIMIT = 1_000
"""Values a state keeps in its list: ~110 KB at most as stored (`tests/unit/engine/test_kept_values.py`)."""
_COMPACTED_AT_ONCE = KEPT_VALUES_LIMIT // 10
_KEY_LENGTH = 40
KEEP_EVERY_EVENT_VALUE = -1
"""A state built to keep every value (before clamped fees were summed; also when two partial states kept
different things): at most `KEPT_VALUES_LIMIT` of the earliest."""

Entry = tuple[int, str, Decimal]
"""(timestamp µs, transaction key, value) of a kept event."""


def transaction_key(transaction_id: str) -> str:
    """The transaction as a kept value names it: its id, or a digest of a long one (bounded entries)."""
    if len(transaction_id) <= _KEY_LENGTH:
        return transaction_id
    return "~" + hashlib.sha256(transaction_id.encode()).hexdigest()[:32]


class AggregationState(Protocol):
    """What this module reads and writes of an `aggregation_state.AggregationState` (which imports it)."""

    keep_event_values: int
    keep_values_until: Decimal | None
    clamp: Clamp | None
    event_values: list[Entry]
    values_head: ValuesHead | None
    clamped_fees: Decimal
    clamped_count: int
    kept_sum: Decimal | None


@dataclass(frozen=True, slots=True)
class Clamp:
    """A percentage charge's price of one transaction, raised to its min or lowered to its max."""

    rate: Decimal
    """A fraction: 1 % is 0.01."""
    fixed: Decimal
    minimum: Decimal | None
    maximum: Decimal | None

    def fee(self, value: Decimal) -> Decimal:
        fee = EXACT.fma(value, self.rate, self.fixed)
        if self.minimum is not None and fee < self.minimum:
            return self.minimum
        if self.maximum is not None and fee > self.maximum:
            return self.maximum
        return fee

    def to_list(self) -> list[str | None]:
        return [str(self.rate), str(self.fixed), _text(self.minimum), _text(self.maximum)]

    @classmethod
    def from_list(cls, data: Sequence[str | None]) -> Clamp:
        return cls(Decimal(str(data[0])), Decimal(str(data[1])), _number(data[2]), _number(data[3]))


@dataclass(frozen=True, slots=True)
class KeepSpec:
    """What the states of one price (a charge's default price or a filter) keep of their values."""

    events: int = 0
    """N, the free events (`KEEP_EVERY_EVENT_VALUE`: every value, up to the limit)."""
    until: Decimal | None = None
    """The free amount, when the prefix runs until it is passed (N = 0, or a clamped price)."""
    clamp: Clamp | None = None

    @property
    def keeps(self) -> bool:
        return bool(self.events) or self.until is not None or self.clamp is not None


@dataclass(frozen=True, slots=True)
class Walk:
    """The free allowance read in timestamp order, and the fees of what it does not cover (lago-api's
    per-transaction min/max: free transactions first, then the free amount, a transaction partly covered
    paying on its remainder)."""

    events_left: int
    amount_left: Decimal
    fees: Decimal = ZERO

    def step(self, value: Decimal, clamp: Clamp | None) -> Walk:
        events_left, amount_left = self.events_left, self.amount_left
        if events_left > 0 or amount_left > 0:
            events_left -= 1
            if amount_left <= 0:
                return Walk(events_left, amount_left, self.fees)
            if amount_left > value:
                return Walk(events_left, amount_left - value, self.fees)
            value -= amount_left
            events_left, amount_left = 0, ZERO
        fee = ZERO if clamp is None else clamp.fee(value)
        return Walk(events_left, amount_left, self.fees + fee)

    def steps(self, values: Iterable[Decimal], clamp: Clamp | None) -> Walk:
        walk = self
        for value in values:
            walk = walk.step(value, clamp)
        return walk


@dataclass(frozen=True, slots=True)
class Allowance:
    """The running totals the free allowance reads, as figures: how many, the last, how many below the cap
    (lago-api `running_total`: of the first N values, else of those until the cap is passed)."""

    count: int = 0
    total: Decimal = ZERO
    below_cap: int = 0

    def step(self, value: Decimal, events: int, cap: Decimal | None) -> Allowance:
        """With one more value, if the allowance still reads it."""
        if (events and self.count >= events) or (not events and self.total > (cap or ZERO)):
            return self
        total = self.total + value
        return Allowance(self.count + 1, total, self.below_cap + (1 if total < (cap or ZERO) else 0))


@dataclass(frozen=True, slots=True)
class ValuesHead:
    """The earliest kept values, folded into figures once the list passed `KEPT_VALUES_LIMIT`."""

    count: int
    total: Decimal
    allowance: Allowance
    walk: Walk
    last: tuple[int, str]
    """(timestamp µs, transaction key) of the last value folded in: what it summarises comes before."""

    def to_dict(self) -> dict[str, Any]:
        allowance, walk = self.allowance, self.walk
        return {
            "n": self.count,
            "t": str(self.total),
            "a": [allowance.count, str(allowance.total), allowance.below_cap],
            "w": [walk.events_left, str(walk.amount_left), str(walk.fees)],
            "l": list(self.last),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValuesHead:
        allowance, walk, last = data["a"], data["w"], data["l"]
        return cls(
            count=int(data["n"]),
            total=Decimal(data["t"]),
            allowance=Allowance(int(allowance[0]), Decimal(allowance[1]), int(allowance[2])),
            walk=Walk(int(walk[0]), Decimal(walk[1]), Decimal(walk[2])),
            last=(int(last[0]), str(last[1])),
        )


def start(events: int, cap: Decimal | None, head: ValuesHead | None) -> tuple[Allowance, Walk]:
    """Where the allowance and the walk are at the first value of the list."""
    if head is not None:
        return head.allowance, head.walk
    return Allowance(), Walk(max(events, 0), cap or ZERO)


def spec_of(state: AggregationState) -> KeepSpec:
    """The state's keep, read from its fields (a cap-only state of before reads as N = 0)."""
    return KeepSpec(max(state.keep_event_values, 0), state.keep_values_until, state.clamp)


def keep(state: AggregationState, entry: Entry) -> None:
    """Keep one event's value (the fold side): a value after every kept one (events in timestamp order) is
    placed at once, in constant time; another goes into the list in timestamp order and the bounds are
    settled again."""
    values = state.event_values
    if state.keep_event_values != KEEP_EVERY_EVENT_VALUE and (not values or entry > values[-1]):
        _append(state, entry)
        return
    bisect.insort(values, entry)
    state.kept_sum = None
    settle(state)


def _append(state: AggregationState, entry: Entry) -> None:
    head = state.values_head
    listed = _list_total(state)
    count = (head.count if head is not None else 0) + len(state.event_values)
    total = EXACT.add(head.total if head is not None else ZERO, listed)
    if not _in_prefix(spec_of(state), count, total):
        _clamp_fees(state, [entry])
        return
    state.event_values.append(entry)
    state.kept_sum = EXACT.add(listed, entry[2])
    _compact(state)


def settle(state: AggregationState) -> None:
    """Cut the list to the prefix (a clamped state sums the fees of what leaves it), then fold its earliest
    values into the head while it is past the limit."""
    values = state.event_values
    state.kept_sum = None
    if state.keep_event_values == KEEP_EVERY_EVENT_VALUE:
        del values[KEPT_VALUES_LIMIT:]
        return
    cut = _prefix_length(state)
    if cut < len(values):
        _clamp_fees(state, values[cut:])
        del values[cut:]
    _compact(state)


def _clamp_fees(state: AggregationState, entries: Sequence[Entry]) -> None:
    """Values past the prefix: a clamped state adds their fees; another has no use for them."""
    clamp = state.clamp
    if clamp is None:
        return
    for _, _, value in entries:
        state.clamped_fees = EXACT.add(state.clamped_fees, clamp.fee(value))
        state.clamped_count += 1


def _compact(state: AggregationState) -> None:
    values = state.event_values
    if len(values) <= KEPT_VALUES_LIMIT:
        return
    compacted = len(values) - KEPT_VALUES_LIMIT + _COMPACTED_AT_ONCE
    state.values_head = _fold_into_head(state, values[:compacted])
    del values[:compacted]
    state.kept_sum = None


def _list_total(state: AggregationState) -> Decimal:
    """Σ of the listed values (cached on the state while it is folded: never stored)."""
    if state.kept_sum is None:
        state.kept_sum = sum((value for _, _, value in state.event_values), ZERO)
    return state.kept_sum


def _in_prefix(spec: KeepSpec, count: int, total: Decimal) -> bool:
    """Whether the free allowance reads a value after `count` values totalling `total`: while fewer than N,
    or while the total is not above the cap when the prefix runs until it (lago-api stops adding values once
    the total is above it, the first value past it included)."""
    if count < spec.events:
        return True
    runs_to_cap = spec.until is not None and (spec.events == 0 or spec.clamp is not None)
    return runs_to_cap and total <= (spec.until or ZERO)


def _prefix_length(state: AggregationState) -> int:
    """How many of the list's values the free allowance reads (`_in_prefix`)."""
    spec = spec_of(state)
    head = state.values_head
    count, total = (head.count, head.total) if head is not None else (0, ZERO)
    for index, (_, _, value) in enumerate(state.event_values):
        if not _in_prefix(spec, count, total):
            return index
        count += 1
        total = EXACT.add(total, value)
    return len(state.event_values)


def _fold_into_head(state: AggregationState, entries: Sequence[Entry]) -> ValuesHead:
    spec = spec_of(state)
    cap = state.keep_values_until
    allowance, walk = start(spec.events, cap, state.values_head)
    head = state.values_head
    count, total = (head.count, head.total) if head is not None else (0, ZERO)
    for _, _, value in entries:
        allowance = allowance.step(value, spec.events, cap)
        walk = walk.step(value, spec.clamp)
        count += 1
        total = EXACT.add(total, value)
    last = (entries[-1][0], entries[-1][1])
    return ValuesHead(count, total, allowance, walk, last if head is None else max(head.last, last))


def merge_kept(a: AggregationState, b: AggregationState, merged: AggregationState) -> None:
    """Fill `merged` (same keep as `a` and `b`) with their kept values: the union of the lists, the heads
    and the clamped fees, then settled. Two heads (two partial states past the limit, which Lagoon never
    merges: it merges a period's state with an opening state that has no values) add up their figures,
    the earlier walk first."""
    heads = sorted((h for h in (a.values_head, b.values_head) if h is not None), key=lambda h: h.last)
    head = heads[0] if heads else None
    for other in heads[1:]:
        assert head is not None
        head = replace(
            head,
            count=head.count + other.count,
            total=head.total + other.total,
            allowance=Allowance(
                head.allowance.count + other.allowance.count,
                head.allowance.total + other.allowance.total,
                head.allowance.below_cap + other.allowance.below_cap,
            ),
            walk=replace(head.walk, fees=head.walk.fees + other.walk.fees),
            last=other.last,
        )
    merged.values_head = head
    merged.event_values = sorted(set(a.event_values) | set(b.event_values))
    merged.clamped_fees = a.clamped_fees + b.clamped_fees
    merged.clamped_count = a.clamped_count + b.clamped_count
    settle(merged)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
