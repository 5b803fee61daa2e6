"""Pricing per charge model: a period's units → the precise amount and Lago's `amount_details` breakdown
(checklist §4.2; spec `FeeAmountDetails`), as lago-api's `Charges::ChargeModels::*Service` compute them.

Every `price_*` function returns the precise, unrounded amount in currency units and the breakdown (Decimals
here; `charges.amount_details_json` renders them as Lago's strings). Rounding to cents is the caller's
(`charges.price_charge`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from lagoon.engine.kept_values import Allowance, Clamp, KeepSpec, ValuesHead, Walk
from lagoon.engine.money import cents_to_amount
from lagoon.engine.numbers import EXACT, exact
from lagoon.engine.properties import (
    GraduatedPercentageProperties,
    GraduatedPercentageRange,
    GraduatedProperties,
    GraduatedRange,
    PackageProperties,
    PercentageProperties,
    StandardProperties,
    VolumeProperties,
    bound_number,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class _Tier:
    """A tier prepared for pricing: it holds the units above `lower` up to `upper` (None: no limit).
    `from_value` / `to_value` are its bounds as Lago shows them in `amount_details` (JSON numbers)."""

    from_value: int | float
    to_value: int | float | None
    lower: Decimal
    upper: Decimal | None
    per_unit_amount: Decimal
    flat_amount: Decimal


def tier_table(ranges: Sequence[GraduatedRange | GraduatedPercentageRange]) -> tuple[_Tier, ...]:
    """Precomputed tiers. Tier n holds the units above the previous tier's `to_value`: with the spec's
    bounds (0-10, 11-20, 21-inf) 10 units fill the first tier, the 11th unit is the first of the second, and
    fractional units (10.5) fall in the tier above (0.5 units in 11-20). Adjacent bounds (0-10, 10-inf, or
    decimal 0-0.1, 0.1-1) give the same split: lago-api counts `to - from` units in an adjacent tier and
    `to - from + 1` in a `+1` one, both the units above the previous `to_value`."""
    tiers = []
    previous_to: Decimal | None = None
    for tier in ranges:
        amount = tier.per_unit_amount if isinstance(tier, GraduatedRange) else tier.rate / HUNDRED
        tiers.append(
            _Tier(
                from_value=bound_number(tier.from_value) or 0,
                to_value=bound_number(tier.to_value),
                lower=previous_to or ZERO,
                upper=tier.to_value,
                per_unit_amount=amount,
                flat_amount=tier.flat_amount,
            )
        )
        previous_to = tier.to_value
    return tuple(tiers)


_PREPARED_TIERS: OrderedDict[int, tuple[object, tuple[_Tier, ...]]] = OrderedDict()
_PREPARED_TIERS_LIMIT = 4096


def _prepared_tiers(properties: GraduatedProperties | GraduatedPercentageProperties) -> tuple[_Tier, ...]:
    """Tier tables of recently priced properties, so pricing many periods of one plan prepares them once.

    Keyed by object identity (the models hold lists and are not hashable); the entry keeps the object alive
    so its id cannot be reused while cached.
    """
    key = id(properties)
    cached = _PREPARED_TIERS.get(key)
    if cached is not None and cached[0] is properties:
        return cached[1]
    if isinstance(properties, GraduatedProperties):
        tiers = tier_table(properties.graduated_ranges)
    else:
        tiers = tier_table(properties.graduated_percentage_ranges)
    _PREPARED_TIERS[key] = (properties, tiers)
    if len(_PREPARED_TIERS) > _PREPARED_TIERS_LIMIT:
        _PREPARED_TIERS.popitem(last=False)
    return tiers


def _price_tiers(
    tiers: Sequence[_Tier], units: Decimal, percentage: bool
) -> tuple[Decimal, list[dict[str, Any]]]:
    """The reached tiers: the first one always (its flat amount is due even without usage, lago-api #5760),
    each next one once the units pass the previous bound. Negative units reach none."""
    total = ZERO
    breakdown: list[dict[str, Any]] = []
    if units < 0:
        return total, breakdown
    for tier in tiers:
        if units <= tier.lower and breakdown:
            break
        top = units if tier.upper is None or units < tier.upper else tier.upper
        tier_units = top - tier.lower
        per_unit_total = tier_units * tier.per_unit_amount
        tier_total = per_unit_total + tier.flat_amount
        total += tier_total
        row: dict[str, Any] = {
            "units": tier_units,
            "from_value": tier.from_value,
            "to_value": tier.to_value,
            "flat_unit_amount": tier.flat_amount,
            "per_unit_total_amount": per_unit_total,
            "total_with_flat_amount": tier_total,
        }
        if percentage:
            row["rate"] = tier.per_unit_amount * HUNDRED
        else:
            # Lago shows a per-unit amount of 0 for a tier without units (RangeGraduatedService).
            row["per_unit_amount"] = tier.per_unit_amount if tier_units else ZERO
        breakdown.append(row)
    return total, breakdown


@exact
def price_standard(properties: StandardProperties, units: Decimal) -> tuple[Decimal, dict[str, Any]]:
    """standard: units * `amount`."""
    return units * properties.amount, {}


@exact
def price_graduated(
    properties: GraduatedProperties | Sequence[_Tier], units: Decimal
) -> tuple[Decimal, dict[str, Any]]:
    """graduated: each tier prices its own units, plus its flat amount once the tier is reached; the first
    tier is always reached, so no usage still pays its flat amount (lago-api `GraduatedService`, #5760).

    Checklist §4.2 (derived): tiers [0-10: flat 10, 0.5/unit], 8 units → 10 + 8 * 0.5 = 14.
    Accepts a `tier_table` to skip preparing the tiers on every call.
    """
    tiers = _prepared_tiers(properties) if isinstance(properties, GraduatedProperties) else properties
    total, breakdown = _price_tiers(tiers, units, percentage=False)
    return total, {"graduated_ranges": breakdown}


@exact
def price_graduated_prorated(
    properties: GraduatedProperties, units: Decimal, steps: Sequence[tuple[Decimal, Decimal]]
) -> tuple[Decimal, dict[str, Any]]:
    """graduated with `prorated: true` (lago-api `ProratedGraduatedService`): the full units, in time order,
    decide which tier each step falls in; the step's prorated units are priced at that tier's price (a
    step across a bound is split in proportion). Every tier the full units reached at their highest adds
    its flat amount in full, and its prorated units, even when the units came back down (lago-api's
    `max_full_sum`: seats up to tier two, then removed, still pay tier two's flat amount and its days).
    No prorated units at all pay the first tier's flat amount only (lago-api `units.zero?`).

    `steps` are `AggregationResult.prorated_steps`; a negative step takes units back from the top.
    """
    tiers = _prepared_tiers(properties)
    tier_prorated = [ZERO] * len(tiers)
    level = highest = total_prorated = ZERO
    for full, prorated in steps:
        total_prorated += prorated
        if not full:
            continue
        ratio = prorated / full
        low, high = (level, level + full) if full > 0 else (level + full, level)
        sign = 1 if full > 0 else -1
        for index, tier in enumerate(tiers):
            top = high if tier.upper is None else min(high, tier.upper)
            bottom = max(low, tier.lower)
            if top > bottom:
                tier_prorated[index] += sign * (top - bottom) * ratio
        level += full
        highest = max(highest, level)
    if not total_prorated:
        highest, tier_prorated = ZERO, [ZERO] * len(tiers)
    total = ZERO
    breakdown: list[dict[str, Any]] = []
    for index, tier in enumerate(tiers):
        if units < 0 or (highest <= tier.lower and breakdown):
            break
        per_unit_total = tier_prorated[index] * tier.per_unit_amount
        tier_total = per_unit_total + tier.flat_amount
        total += tier_total
        breakdown.append(
            {
                "units": tier_prorated[index],
                "from_value": tier.from_value,
                "to_value": tier.to_value,
                "flat_unit_amount": tier.flat_amount,
                "per_unit_amount": tier.per_unit_amount if tier_prorated[index] else ZERO,
                "per_unit_total_amount": per_unit_total,
                "total_with_flat_amount": tier_total,
            }
        )
    return total, {"graduated_ranges": breakdown}


@exact
def price_graduated_percentage(
    properties: GraduatedPercentageProperties, units: Decimal
) -> tuple[Decimal, dict[str, Any]]:
    """graduated_percentage: each tier takes `rate` % of the amount inside it, plus its flat amount once
    reached (checklist §4.2)."""
    total, breakdown = _price_tiers(_prepared_tiers(properties), units, percentage=True)
    return total, {"graduated_percentage_ranges": breakdown}


@exact
def price_volume(
    properties: VolumeProperties, units: Decimal, priced_units: Decimal | None = None
) -> tuple[Decimal, dict[str, Any]]:
    """volume: the single tier containing the total units prices all of them, plus its flat amount.

    Zero units pay the first tier's flat amount (lago-api `VolumeService`, #5760); negative units nothing.
    Fractional units between two tiers (10.5 with 0-10 / 11-inf) belong to the upper tier. `priced_units`
    (prorated units) are multiplied by the tier's price, the tier still being chosen by the full units.
    """
    if units < 0:
        return ZERO, {"flat_unit_amount": ZERO, "per_unit_amount": ZERO, "per_unit_total_amount": ZERO}
    ranges = properties.volume_ranges
    matching = next((r for r in ranges if r.to_value is None or units <= r.to_value), ranges[-1])
    per_unit_total = (units if priced_units is None else priced_units) * matching.per_unit_amount
    details = {
        "flat_unit_amount": matching.flat_amount,
        "per_unit_amount": matching.per_unit_amount if units else ZERO,
        "per_unit_total_amount": per_unit_total,
    }
    return matching.flat_amount + per_unit_total, details


@exact
def price_package(properties: PackageProperties, units: Decimal) -> tuple[Decimal, dict[str, Any]]:
    """package: `amount` per started package of `package_size` units beyond `free_units`.

    Checklist §4.2 (derived): {amount 30, free_units 100, package_size 1000}: 1,100 units → 30; 1,101 → 60.
    """
    free_units = min(units, Decimal(properties.free_units))
    paid_units = max(units - free_units, ZERO)
    packages = (paid_units / properties.package_size).to_integral_value(rounding=ROUND_CEILING)
    details = {
        "free_units": free_units,
        "paid_units": paid_units,
        "per_package_size": properties.package_size,
        "per_package_unit_amount": properties.amount,
    }
    return packages * properties.amount, details


def percentage_clamp(properties: PercentageProperties) -> Clamp | None:
    """The price of one transaction of a charge with `per_transaction_min_amount` / `_max_amount`."""
    minimum, maximum = properties.per_transaction_min_amount, properties.per_transaction_max_amount
    if minimum is None and maximum is None:
        return None
    rate = EXACT.divide(properties.rate, HUNDRED)
    return Clamp(rate, properties.fixed_amount or ZERO, minimum, maximum)


def percentage_keep(properties: PercentageProperties, *, counted_units: bool = False) -> KeepSpec:
    """What the states of a percentage price keep of their values (`lagoon.engine.kept_values`): the first
    `free_units_per_events`, or those until `free_units_per_total_aggregation` is passed, and with a
    per-transaction min or max the clamped fees of the others. Counted units (count, unique count) keep
    none unless clamped: their running totals are 1, 2, … (`unit_running_totals`). Pass it to
    `aggregation_state.new_state(keep=...)`."""
    clamp = percentage_clamp(properties)
    if counted_units and clamp is None:
        return KeepSpec()
    return KeepSpec(
        properties.free_units_per_events or 0, properties.free_units_per_total_aggregation or None, clamp
    )


def _free_allowance(
    properties: PercentageProperties,
    units: Decimal,
    events_count: int,
    known_values: Sequence[Decimal],
    unit_totals: bool,
    kept: _Kept,
) -> tuple[Decimal, int]:
    """The free amount and the number of free transactions, as lago-api's PercentageService
    `free_units_value` and `free_units_count` read the aggregation's running totals."""
    events_allowed = properties.free_units_per_events or 0
    cap = properties.free_units_per_total_aggregation or ZERO
    if not events_allowed and not cap:
        return ZERO, 0
    nth: Decimal | None = None
    if unit_totals:
        # count / unique count: the running totals are 1, 2, …, units (CountService#running_total).
        length = max(int(units), 0)
        last = Decimal(length)
        below_cap = min(length, max(int(cap.to_integral_value(rounding=ROUND_CEILING)) - 1, 0))
        if 0 < events_allowed < length:
            nth = Decimal(events_allowed)
    else:
        allowance = kept.head.allowance if kept.head is not None else Allowance()
        for value in known_values:
            allowance = allowance.step(value, events_allowed, cap)
        last = allowance.total if allowance.count else ZERO
        below_cap = allowance.below_cap
        if not events_allowed and last <= cap and kept.seen(known_values) < events_count:
            # The kept values stop below the cap although more events were folded (a state kept before the
            # charge had its free amount): the free amount is what the totals would reach, capped.
            return min(cap, max(units, ZERO)), below_cap
    if last == 0:
        free_amount = ZERO
    elif nth is not None:
        free_amount = nth
    elif not cap or last <= cap:
        free_amount = last
    else:
        free_amount = cap
    free_events = min((n for n in (events_allowed, below_cap) if n), default=0)
    return free_amount, free_events


@dataclass(frozen=True, slots=True)
class _Kept:
    """What a state kept beyond its list of values (`AggregationResult.values_head`, `.clamp`, `.clamped`)."""

    head: ValuesHead | None = None
    clamp: Clamp | None = None
    clamped: tuple[int, Decimal] = (0, ZERO)

    def seen(self, known_values: Sequence[Decimal]) -> int:
        """The values the state accounted for: in its head, its list and its clamped fees."""
        return (self.head.count if self.head else 0) + len(known_values) + self.clamped[0]


def _clamped_total(
    properties: PercentageProperties, known_values: Sequence[Decimal], events_count: int, kept: _Kept
) -> Decimal | None:
    """Σ of the transactions' fees, each clamped to the per-transaction min / max, free ones first (the last
    rule of `price_percentage`); None when the state did not keep what it takes (then the totals apply)."""
    clamp = percentage_clamp(properties)
    if clamp is None or not events_count or kept.seen(known_values) != events_count:
        return None
    if kept.clamp != clamp and (kept.head is not None or kept.clamped[0]):
        return None  # priced at fold time with other min/max or rate: the charge changed since
    events_allowed = properties.free_units_per_events or 0
    walk = (
        kept.head.walk
        if kept.head is not None
        else Walk(events_allowed, properties.free_units_per_total_aggregation or ZERO)
    )
    return walk.steps(known_values, clamp).fees + kept.clamped[1]


@exact
def price_percentage(
    properties: PercentageProperties,
    units: Decimal,
    events_count: int,
    event_values: Sequence[Decimal] = (),
    *,
    unit_running_totals: bool = False,
    values_head: ValuesHead | None = None,
    kept_clamp: Clamp | None = None,
    clamped: tuple[int, Decimal] = (0, ZERO),
) -> tuple[Decimal, dict[str, Any]]:
    """percentage: `rate` % of the aggregated amount beyond the free amount, plus `fixed_amount` per paid
    transaction (checklist §4.2), as Lago's `Charges::ChargeModels::PercentageService` computes it:

    - running totals: the cumulative amounts of the first `free_units_per_events` transactions, or, with only
      `free_units_per_total_aggregation`, of the transactions until the total passes it (that one included);
      1, 2, …, units for count and unique count metrics (`unit_running_totals`);
    - free amount: the `free_units_per_events`-th running total when there are more (counted units), else
      the last running total, capped by `free_units_per_total_aggregation`;
    - free transactions: the smallest non-zero of `free_units_per_events` and the number of running totals
      below the cap; they pay no fixed fee (none at all when every transaction is free or units are 0);
    - with `per_transaction_min_amount` / `per_transaction_max_amount`, transactions are priced one by one
      in timestamp order: free transactions and the free amount are used up first (a transaction partly
      covered pays on its remainder), then each pays rate * value + fixed, raised to the min or lowered to
      the max. It reads the kept values and the clamped fees of the others (`lagoon.engine.kept_values`); a
      state that lacks them (kept before, or priced with another min/max) prices with the totals formula.
    Vector: rate 1 %, fixed 0.5, 5 free events, 500 free; 10 transactions of 100 → running totals 100…500,
    4 below 500 → 1 % x 500 + 0.5 x 6 = 8.00. `event_values` are in timestamp order. The details show the
    free events up to the transactions there are, and paid units of at least 0, as Lago's.
    """
    rate = properties.rate / HUNDRED
    fixed = properties.fixed_amount or ZERO
    # The kept values may be fewer than asked (a charge whose free events or min/max were set after its
    # events were folded): price with the values known, never fail (the events' count still decides).
    known_values = event_values[:events_count]
    kept = _Kept(values_head, kept_clamp, clamped)
    free_amount, free_events = _free_allowance(
        properties, units, events_count, known_values, unit_running_totals, kept
    )

    percentage_amount = ZERO if free_amount > units else (units - free_amount) * rate
    fixed_total = ZERO if units == 0 or free_events >= events_count else (events_count - free_events) * fixed
    amount = percentage_amount + fixed_total

    adjustment = ZERO
    clamped_total = _clamped_total(properties, known_values, events_count, kept)
    if clamped_total is not None:
        adjustment = clamped_total - amount
        amount = clamped_total

    shown_free_events = min(free_events, events_count)
    paid_events = events_count - shown_free_events
    details = {
        "units": units,
        "free_units": free_amount,
        "paid_units": max(units - free_amount, ZERO),
        "free_events": shown_free_events,
        "paid_events": paid_events,
        "rate": properties.rate,
        "per_unit_total_amount": percentage_amount,
        "fixed_fee_unit_amount": fixed if paid_events > 0 else ZERO,
        "fixed_fee_total_amount": fixed_total,
        "min_max_adjustment_total_amount": adjustment,
    }
    return amount, details


def price_dynamic(precise_total_amount_cents: Decimal, currency: str) -> tuple[Decimal, dict[str, Any]]:
    """dynamic: the sum of the events' `precise_total_amount_cents` (checklist A-8), in currency units."""
    return cents_to_amount(precise_total_amount_cents, currency), {}
