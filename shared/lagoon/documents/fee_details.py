"""The detail lines under a fee, read from its `amount_details` as Lago's invoice PDFs show them.

Graduated and graduated-percentage charges list their tiers (per-unit part and flat part), package charges
their free units and packages, percentage charges the rate, free transactions, fixed fees and min/max
adjustment, volume charges the unit and flat parts (lago-docs/24-resources.md, invoice template keys 2.7-2.26).
Standard, dynamic and subscription fees have no detail lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lagoon.documents.formatting import (
    format_money,
    format_money_cents,
    format_quantity,
    format_rate,
    format_unit_price,
    to_decimal,
)
from lagoon.documents.locales import Locale

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class DetailLine:
    """One line under a fee; empty strings leave a column blank."""

    label: str
    units: str = ""
    unit_price: str = ""
    amount: str = ""


def fee_detail_lines(fee: Mapping[str, Any], currency: str, locale: Locale) -> list[DetailLine]:
    """The detail lines of `fee` (a contract `FeeObject`), in display order; [] when it has none."""
    details = fee.get("amount_details") or {}
    if not isinstance(details, Mapping) or not details:
        return []
    if details.get("graduated_ranges"):
        return _tier_lines(details["graduated_ranges"], currency, locale, percentage=False)
    if details.get("graduated_percentage_ranges"):
        return _tier_lines(details["graduated_percentage_ranges"], currency, locale, percentage=True)
    if "per_package_size" in details:
        return _package_lines(fee, details, currency, locale)
    if "rate" in details and "paid_events" in details:
        return _percentage_lines(details, currency, locale)
    if "per_unit_amount" in details and "flat_unit_amount" in details:
        return _volume_lines(fee, details, currency, locale)
    return []


def _tier_label(kind: str, tier: Mapping[str, Any], locale: Locale) -> str:
    from_value, to_value = tier.get("from_value") or 0, tier.get("to_value")
    if to_value is None:
        return locale.label(f"{kind}_for_the_last", from_=format_quantity(to_decimal(from_value), locale))
    if not from_value:
        return locale.label(f"{kind}_for_the_first", to=format_quantity(to_decimal(to_value), locale))
    return locale.label(
        f"{kind}_for_the_next",
        from_=format_quantity(to_decimal(from_value), locale),
        to=format_quantity(to_decimal(to_value), locale),
    )


def _tier_lines(
    tiers: list[Mapping[str, Any]], currency: str, locale: Locale, *, percentage: bool
) -> list[DetailLine]:
    lines = []
    for tier in tiers:
        units = to_decimal(tier.get("units"))
        price = (
            format_rate(to_decimal(tier.get("rate")), locale)
            if percentage
            else format_unit_price(to_decimal(tier.get("per_unit_amount")), currency, locale)
        )
        lines.append(
            DetailLine(
                _tier_label("fee_per_unit", tier, locale),
                format_quantity(units, locale),
                price,
                format_money(to_decimal(tier.get("per_unit_total_amount")), currency, locale),
            )
        )
        flat = to_decimal(tier.get("flat_unit_amount"))
        if flat:
            lines.append(
                DetailLine(
                    _tier_label("flat_fee", tier, locale),
                    format_quantity(Decimal(1), locale),
                    format_unit_price(flat, currency, locale),
                    format_money(flat, currency, locale),
                )
            )
    return lines


def _package_lines(
    fee: Mapping[str, Any], details: Mapping[str, Any], currency: str, locale: Locale
) -> list[DetailLine]:
    lines = []
    free_units = to_decimal(details.get("free_units"))
    if free_units:
        lines.append(
            DetailLine(
                locale.label("free_units_for_the_first", count=format_quantity(free_units, locale)),
                format_quantity(free_units, locale),
                format_unit_price(ZERO, currency, locale),
                format_money(ZERO, currency, locale),
            )
        )
    package_price = locale.label(
        "fee_per_package_unit_price",
        amount=format_unit_price(to_decimal(details.get("per_package_unit_amount")), currency, locale),
        package_size=format_quantity(to_decimal(details.get("per_package_size")), locale),
    )
    lines.append(
        DetailLine(
            locale.label("fee_per_package"),
            format_quantity(to_decimal(details.get("paid_units")), locale),
            package_price,
            format_money_cents(int(fee.get("amount_cents") or 0), currency, locale),
        )
    )
    return lines


def _percentage_lines(details: Mapping[str, Any], currency: str, locale: Locale) -> list[DetailLine]:
    lines = [
        DetailLine(locale.label("total_event"), format_quantity(to_decimal(details.get("units")), locale))
    ]
    free_units = to_decimal(details.get("free_units"))
    free_events = int(details.get("free_events") or 0)
    if free_events:
        label = (
            locale.label("free_units_per_transaction_one")
            if free_events == 1
            else locale.label(
                "free_units_per_transaction_other", count=format_quantity(Decimal(free_events), locale)
            )
        )
        lines.append(
            DetailLine(
                label, format_quantity(free_units, locale), amount=format_money(ZERO, currency, locale)
            )
        )
    elif free_units:
        lines.append(
            DetailLine(
                locale.label("free_units_for_the_first", count=format_quantity(free_units, locale)),
                format_quantity(free_units, locale),
                amount=format_money(ZERO, currency, locale),
            )
        )
    lines.append(
        DetailLine(
            locale.label("percentage_rate_on_amount"),
            format_quantity(to_decimal(details.get("paid_units")), locale),
            format_rate(to_decimal(details.get("rate")), locale),
            format_money(to_decimal(details.get("per_unit_total_amount")), currency, locale),
        )
    )
    fixed = to_decimal(details.get("fixed_fee_unit_amount"))
    if fixed:
        lines.append(
            DetailLine(
                locale.label("fee_per_transaction"),
                format_quantity(Decimal(int(details.get("paid_events") or 0)), locale),
                format_unit_price(fixed, currency, locale),
                format_money(to_decimal(details.get("fixed_fee_total_amount")), currency, locale),
            )
        )
    adjustment = to_decimal(details.get("min_max_adjustment_total_amount"))
    if adjustment:
        lines.append(
            DetailLine(
                locale.label("adjustment_per_transaction"), amount=format_money(adjustment, currency, locale)
            )
        )
    return lines


def _volume_lines(
    fee: Mapping[str, Any], details: Mapping[str, Any], currency: str, locale: Locale
) -> list[DetailLine]:
    lines = [
        DetailLine(
            locale.label("fee_per_unit"),
            format_quantity(to_decimal(fee.get("units")), locale),
            format_unit_price(to_decimal(details.get("per_unit_amount")), currency, locale),
            format_money(to_decimal(details.get("per_unit_total_amount")), currency, locale),
        )
    ]
    flat = to_decimal(details.get("flat_unit_amount"))
    if flat:
        lines.append(
            DetailLine(
                locale.label("flat_fee_for_all_units"),
                format_quantity(Decimal(1), locale),
                format_unit_price(flat, currency, locale),
                format_money(flat, currency, locale),
            )
        )
    return lines
