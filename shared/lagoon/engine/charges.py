"""Pricing a charge: its units for a period → its fee (checklist §4.2, §4.3; spec `FeeAmountDetails`).

`price_charge` dispatches on the charge model (each model's pricing is in `lagoon.engine.charge_models`: the
precise, unrounded amount and the breakdown Lago shows as `amount_details`) and rounds the fee half-up to the
currency's cents, the only rounding. `price_in_advance_event` prices one pay-in-advance event,
`true_up_amount_cents` a charge's minimum spend, and `amount_details_json` renders the breakdown as Lago's
strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from lagoon.engine.charge_models import (
    price_dynamic,
    price_graduated,
    price_graduated_percentage,
    price_graduated_prorated,
    price_package,
    price_percentage,
    price_standard,
    price_volume,
)
from lagoon.engine.money import round_cents, to_cents
from lagoon.engine.numbers import exact
from lagoon.engine.period_units import AggregationResult
from lagoon.engine.properties import (
    ChargeProperties,
    DynamicProperties,
    GraduatedPercentageProperties,
    GraduatedProperties,
    PackageProperties,
    PercentageProperties,
    StandardProperties,
    VolumeProperties,
)

ZERO = Decimal(0)
_FLAT_AMOUNT_MODELS = frozenset({"graduated", "volume", "graduated_percentage"})
"""Charge models whose first tier's flat amount is due even at zero units."""


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """A priced charge: `amount` is precise (currency units), `amount_cents` the fee rounded half-up."""

    units: Decimal
    amount: Decimal
    amount_cents: int
    unit_amount: Decimal
    events_count: int
    details: dict[str, Any] = field(default_factory=dict)
    total_aggregated_units: Decimal | None = None
    """A pay-in-advance event's: the units its fee shows as aggregated (None for a period's charge)."""


def _precise_amount(
    charge_model: str,
    properties: ChargeProperties,
    aggregation: AggregationResult,
    currency: str,
    prorated: bool,
) -> tuple[Decimal, dict[str, Any]]:
    units = aggregation.units
    priced_units = (
        aggregation.prorated_units if prorated and aggregation.prorated_units is not None else units
    )
    if charge_model == "standard" and isinstance(properties, StandardProperties):
        return price_standard(properties, priced_units)
    if charge_model == "graduated" and isinstance(properties, GraduatedProperties):
        if prorated and aggregation.prorated_steps:
            return price_graduated_prorated(properties, units, aggregation.prorated_steps)
        return price_graduated(properties, priced_units)
    if charge_model == "volume" and isinstance(properties, VolumeProperties):
        return price_volume(properties, units, priced_units if prorated else None)
    if charge_model == "package" and isinstance(properties, PackageProperties):
        return price_package(properties, units)
    if charge_model == "percentage" and isinstance(properties, PercentageProperties):
        return price_percentage(
            properties,
            units,
            aggregation.events_count,
            aggregation.event_values,
            unit_running_totals=aggregation.unit_running_totals,
            values_head=aggregation.values_head,
            kept_clamp=aggregation.clamp,
            clamped=aggregation.clamped,
        )
    if charge_model == "graduated_percentage" and isinstance(properties, GraduatedPercentageProperties):
        return price_graduated_percentage(properties, units)
    if charge_model == "dynamic" and isinstance(properties, DynamicProperties):
        return price_dynamic(aggregation.precise_total_amount_cents, currency)
    raise ValueError(f"properties {type(properties).__name__} do not fit charge model {charge_model!r}")


@exact
def price_charge(
    charge_model: str,
    properties: ChargeProperties,
    aggregation: AggregationResult,
    currency: str,
    *,
    prorated: bool = False,
) -> ChargeResult:
    """Price one charge (or one of its filters / groups) for a period.

    `prorated` (standard, volume, graduated on recurring metrics, checklist §4.3) prices the day-prorated
    units of the aggregation; `units` stays the full units. The fee is rounded half-up to the currency.
    """
    amount, details = _precise_amount(charge_model, properties, aggregation, currency, prorated)
    units = aggregation.units
    if prorated and aggregation.prorated_units is not None:
        details = {**details, "prorated_units": aggregation.prorated_units}
    if units < 0 or amount < 0:
        # Lago's `Fees::ChargeService`: "Prevent trying to create a fee with negative units or amount" —
        # units, amount and unit amount all become 0 (e.g. a sum of negative values).
        return ChargeResult(
            units=ZERO,
            amount=ZERO,
            amount_cents=0,
            unit_amount=ZERO,
            events_count=aggregation.events_count,
            details=details,
        )
    return ChargeResult(
        units=units,
        amount=amount,
        amount_cents=to_cents(amount, currency),
        unit_amount=amount / units if units else ZERO,
        events_count=aggregation.events_count,
        details=details,
    )


@exact
def price_in_advance_event(
    charge_model: str,
    properties: ChargeProperties,
    before: AggregationResult,
    after: AggregationResult,
    currency: str,
    *,
    prorated: bool = False,
) -> ChargeResult:
    """The fee of one pay-in-advance event: price(units after it) - price(units before it) (checklist §4.3:
    "The fee is computed for each event as it is ingested"). Never negative: a decreasing event is free.

    `prorated` (recurring sum / unique count): both sides are priced on their `prorated_units`, so the
    event's increment counts for the days left in the period, its own day included, as Lago prorates it
    (`ProratedAggregations::BaseService#compute_pay_in_advance_aggregation`: ceil(days left) / days).
    The first event of the period also pays the first tier's flat amount (graduated, graduated_percentage).
    A sum or unique count that went down pays only the units passing the highest level the period reached
    (`AggregationResult.paid_units`, lago-api's `max_aggregation`): price(units) - price(units - units paid),
    showing the units paid, or the event's increase when it pays none.
    """
    if after.paid_units is not None:
        return _price_past_the_peak(charge_model, properties, before, after, currency, prorated=prorated)
    return _price_increment(charge_model, properties, before, after, currency, prorated=prorated)


def _price_past_the_peak(
    charge_model: str,
    properties: ChargeProperties,
    before: AggregationResult,
    after: AggregationResult,
    currency: str,
    *,
    prorated: bool,
) -> ChargeResult:
    """A pay-in-advance event of a sum or unique count, priced from the highest level the period reached
    (lago-api `compute_pay_in_advance_aggregation`: only `current_aggregation - max_aggregation` is paid)."""
    assert after.paid_units is not None
    change = after.units - before.units
    peak_before = before.units if before.paid_units is None else before.paid_units
    paid = max(after.paid_units - peak_before, ZERO)
    if paid != change:
        # The side without the event is the level less the units paid: nothing paid, nothing priced but the
        # event's own count (a percentage's fixed fee); a prorated side loses the paid share of its increase.
        prorated_after, prorated_before = after.prorated_units, before.prorated_units
        prorated_units = prorated_after
        if prorated_after is not None and prorated_before is not None and change > 0:
            prorated_units = prorated_after - (prorated_after - prorated_before) * paid / change
        before = replace(before, units=after.units - paid, prorated_units=prorated_units)
    priced = _price_increment(charge_model, properties, before, after, currency, prorated=prorated)
    shown = paid if paid > 0 else max(change, ZERO)
    return replace(
        priced,
        units=shown,
        unit_amount=priced.amount / shown if shown else ZERO,
        total_aggregated_units=shown,
    )


def _price_increment(
    charge_model: str,
    properties: ChargeProperties,
    before: AggregationResult,
    after: AggregationResult,
    currency: str,
    *,
    prorated: bool,
) -> ChargeResult:
    """price(after) - price(before), never negative."""
    amount_before, _ = _precise_amount(charge_model, properties, before, currency, prorated=prorated)
    if before.units == 0 and before.paid_units is None and charge_model in _FLAT_AMOUNT_MODELS:
        # The first tier's flat amount, due at zero units, is paid by the first event: lago-api prices the
        # side without the event at 0 when it has no units (`exclude_event`, ChargeModels::GraduatedService).
        amount_before = ZERO
    amount_after, details = _precise_amount(charge_model, properties, after, currency, prorated=prorated)
    amount = max(amount_after - amount_before, ZERO)
    units = after.units - before.units
    return ChargeResult(
        units=units,
        amount=amount,
        amount_cents=to_cents(amount, currency),
        unit_amount=amount / units if units else ZERO,
        events_count=after.events_count - before.events_count,
        details=details,
        total_aggregated_units=after.total_aggregated_units - before.total_aggregated_units,
    )


@exact
def true_up_amount_cents(
    charge_fees_amount_cents: int,
    min_amount_cents: int,
    *,
    active_days: int | None = None,
    period_days: int | None = None,
) -> int:
    """The true-up fee of a charge's `min_amount_cents` (checklist §4.3): the shortfall of the charge's fees
    (all its filters and groups, excluding tax) below the minimum, prorated on days of usage for a partial
    period ("Minimum spend of %{min_amount} prorated on days of usage", lago-docs/24-resources.md)."""
    minimum = Decimal(min_amount_cents)
    if active_days is not None and period_days:
        minimum = minimum * active_days / period_days
    return max(round_cents(minimum - charge_fees_amount_cents), 0)


def amount_details_json(details: dict[str, Any]) -> dict[str, Any]:
    """Lago's `amount_details`: Decimals as plain decimal strings, tiers as lists of objects."""

    def render(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize() if value == value.to_integral_value() else value, "f")
        if isinstance(value, list):
            return [render(item) for item in value]
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        return value

    rendered: dict[str, Any] = render(details)
    return rendered


__all__ = [
    "ChargeResult",
    "amount_details_json",
    "price_charge",
    "price_in_advance_event",
    "true_up_amount_cents",
]
