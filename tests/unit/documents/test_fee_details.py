"""Detail lines read the `amount_details` the engine actually produces (lagoon.engine.charges), so the PDF
and the pricing cannot drift apart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lagoon.documents.fee_details import DetailLine, fee_detail_lines
from lagoon.documents.locales import EN
from lagoon.engine.charges import amount_details_json, price_charge
from lagoon.engine.period_units import AggregationResult
from lagoon.engine.properties import validate_charge_properties


def priced_fee(model: str, properties: dict[str, Any], units: int, events_count: int = 1) -> dict[str, Any]:
    """A FeeObject's pricing fields as the invoicing code fills them from the engine's result."""
    aggregation = AggregationResult(
        units=Decimal(units),
        events_count=events_count,
        total_aggregated_units=Decimal(units),
        event_values=tuple(Decimal(100) for _ in range(events_count)),
    )
    priced = price_charge(model, validate_charge_properties(model, properties), aggregation, "USD")
    return {
        "units": str(units),
        "amount_cents": priced.amount_cents,
        "amount_details": amount_details_json(priced.details),
    }


def test_graduated_tiers_with_flat_fees() -> None:
    tiers = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "0.5", "flat_amount": "10"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.1", "flat_amount": "0"},
    ]
    fee = priced_fee("graduated", {"graduated_ranges": tiers}, 25)

    assert fee_detail_lines(fee, "USD", EN) == [
        DetailLine("Fee per unit for the first 10", "10", "$0.50", "$5.00"),
        DetailLine("Flat fee for first 10", "1", "$10.00", "$10.00"),
        DetailLine("Fee per unit for 11 and above", "15", "$0.10", "$1.50"),
    ]


def test_package_counts_free_units_and_started_packages() -> None:
    fee = priced_fee("package", {"amount": "30", "free_units": 100, "package_size": 1000}, 1101)

    assert fee["amount_cents"] == 6000
    assert fee_detail_lines(fee, "USD", EN) == [
        DetailLine("Free units for the first 100", "100", "$0.00", "$0.00"),
        DetailLine("Fee per package", "1,001", "$30.00 per 1,000", "$60.00"),
    ]


def test_percentage_rate_free_transactions_and_fixed_fees() -> None:
    properties = {
        "rate": "1",
        "fixed_amount": "0.5",
        "free_units_per_events": 5,
        "free_units_per_total_aggregation": "500",
    }
    fee = priced_fee("percentage", properties, 1000, events_count=10)

    assert fee_detail_lines(fee, "USD", EN) == [
        DetailLine("Total event", "1,000"),
        # lago-api counts the events whose running total stays below the free amount: 100…400 (4 events).
        DetailLine("Free units for 4 transactions", "500", amount="$0.00"),
        DetailLine("Rate on the amount", "500", "1%", "$5.00"),
        DetailLine("Fixed fee per transaction", "6", "$0.50", "$3.00"),
    ]


def test_graduated_percentage_shows_the_rate_of_each_tier() -> None:
    tiers = [
        {"from_value": 0, "to_value": 100, "rate": "2", "flat_amount": "1"},
        {"from_value": 101, "to_value": None, "rate": "1", "flat_amount": "0"},
    ]
    fee = priced_fee("graduated_percentage", {"graduated_percentage_ranges": tiers}, 150)

    assert fee_detail_lines(fee, "USD", EN) == [
        DetailLine("Fee per unit for the first 100", "100", "2%", "$2.00"),
        DetailLine("Flat fee for first 100", "1", "$1.00", "$1.00"),
        DetailLine("Fee per unit for 101 and above", "50", "1%", "$0.50"),
    ]


def test_volume_unit_and_flat_parts() -> None:
    ranges = [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "1"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "1", "flat_amount": "2"},
    ]
    fee = priced_fee("volume", {"volume_ranges": ranges}, 150)

    assert fee_detail_lines(fee, "USD", EN) == [
        DetailLine("Fee per unit", "150", "$1.00", "$150.00"),
        DetailLine("Flat fee for all units", "1", "$2.00", "$2.00"),
    ]


def test_standard_charges_have_no_detail_lines() -> None:
    assert fee_detail_lines(priced_fee("standard", {"amount": "2"}, 3), "USD", EN) == []
    assert fee_detail_lines({"amount_details": None}, "USD", EN) == []
