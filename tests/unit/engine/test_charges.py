"""Charge models and options (checklist §4.2, §4.3; spec `FeeAmountDetails`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lagoon.engine.charge_models import percentage_clamp, percentage_keep
from lagoon.engine.charges import (
    amount_details_json,
    price_charge,
    price_in_advance_event,
    true_up_amount_cents,
)
from lagoon.engine.period_units import AggregationResult
from lagoon.engine.properties import PercentageProperties, validate_charge_properties


def aggregation(units: str | int, events_count: int = 1, **kwargs: Any) -> AggregationResult:
    return AggregationResult(
        units=Decimal(units), events_count=events_count, total_aggregated_units=Decimal(units), **kwargs
    )


def tier(from_value: Any, to_value: Any, per_unit: str, flat: str = "0") -> dict[str, Any]:
    return {"from_value": from_value, "to_value": to_value, "per_unit_amount": per_unit, "flat_amount": flat}


GRADUATED = {"graduated_ranges": [tier(0, 10, "0.5", "10"), tier(11, 20, "0.4", "5"), tier(21, None, "0.1")]}
VOLUME = {"volume_ranges": [tier(0, 100, "2", "1"), tier(101, 1000, "1", "2"), tier(1001, None, "0.5", "3")]}
PACKAGE = {"amount": "30", "free_units": 100, "package_size": 1000}
PERCENTAGE = {
    "rate": "1",
    "fixed_amount": "0.5",
    "free_units_per_events": 5,
    "free_units_per_total_aggregation": "500",
}
GRADUATED_PERCENTAGE = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 100, "rate": "2", "flat_amount": "1"},
        {"from_value": 101, "to_value": None, "rate": "1", "flat_amount": "0"},
    ]
}

PRICING_CASES = [
    pytest.param("standard", {"amount": "0.25"}, aggregation(10), "EUR", 250, id="standard"),
    pytest.param(
        "standard", {"amount": "0.333"}, aggregation(1), "EUR", 33, id="standard-rounded-half-up-down"
    ),
    pytest.param("standard", {"amount": "0.335"}, aggregation(1), "EUR", 34, id="standard-rounded-half-up"),
    pytest.param("standard", {"amount": "12.5"}, aggregation(1), "JPY", 13, id="standard-jpy-no-decimals"),
    pytest.param(
        "standard", {"amount": "0.0005"}, aggregation(1), "BHD", 1, id="standard-bhd-three-decimals"
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 10, "0.5", "10"), tier(11, None, "1")]},
        aggregation(8),
        "USD",
        1400,
        id="graduated-checklist-4.2-derived-8-units-14.00",
    ),
    # lago-api charges the first tier's flat amount even without usage (ChargeModels::GraduatedService).
    pytest.param("graduated", GRADUATED, aggregation(0, 0), "USD", 1000, id="graduated-zero-units-flat"),
    pytest.param("graduated", GRADUATED, aggregation(10), "USD", 1500, id="graduated-tier-edge"),
    pytest.param("graduated", GRADUATED, aggregation(11), "USD", 2040, id="graduated-first-unit-of-tier-two"),
    pytest.param("graduated", GRADUATED, aggregation(25), "USD", 2450, id="graduated-three-tiers"),
    pytest.param(
        "graduated", GRADUATED, aggregation("10.5"), "USD", 2020, id="graduated-fractional-above-edge"
    ),
    pytest.param("volume", VOLUME, aggregation(0, 0), "USD", 100, id="volume-zero-units-flat"),
    pytest.param("volume", VOLUME, aggregation(100), "USD", 20100, id="volume-first-tier-edge"),
    pytest.param("volume", VOLUME, aggregation(101), "USD", 10300, id="volume-second-tier"),
    pytest.param("volume", VOLUME, aggregation(5000), "USD", 250300, id="volume-last-tier"),
    pytest.param(
        "package", PACKAGE, aggregation(1100), "USD", 3000, id="package-checklist-4.2-1100-units-30"
    ),
    pytest.param(
        "package", PACKAGE, aggregation(1101), "USD", 6000, id="package-checklist-4.2-1101-units-60"
    ),
    pytest.param("package", PACKAGE, aggregation(100), "USD", 0, id="package-all-free"),
    pytest.param(
        "percentage",
        PERCENTAGE,
        aggregation(1000, 10, event_values=tuple(Decimal(100) for _ in range(5))),
        "USD",
        800,
        id="percentage-lago-running-totals-8.00",
    ),
    pytest.param("percentage", {"rate": "2.5"}, aggregation(200, 3), "EUR", 500, id="percentage-rate-only"),
    pytest.param(
        "percentage",
        {"rate": "1", "fixed_amount": "0.5"},
        aggregation(200, 3),
        "EUR",
        350,
        id="percentage-fixed-fee",
    ),
    pytest.param(
        "graduated_percentage", GRADUATED_PERCENTAGE, aggregation(300), "EUR", 500, id="graduated-percentage"
    ),
    pytest.param(
        "graduated_percentage",
        GRADUATED_PERCENTAGE,
        aggregation(0, 0),
        "EUR",
        100,
        id="graduated-percentage-zero-units-flat",
    ),
    pytest.param(
        "dynamic",
        {},
        aggregation(3, 3, precise_total_amount_cents=Decimal("1234.5")),
        "EUR",
        1235,
        id="dynamic-sum-of-precise-total-amount-cents",
    ),
]


@pytest.mark.parametrize(("model", "properties", "result", "currency", "amount_cents"), PRICING_CASES)
def test_price_charge(
    model: str, properties: dict[str, Any], result: AggregationResult, currency: str, amount_cents: int
) -> None:
    priced = price_charge(model, validate_charge_properties(model, properties), result, currency)
    assert priced.amount_cents == amount_cents
    assert priced.units == result.units


def test_graduated_details_list_each_reached_tier() -> None:
    priced = price_charge(
        "graduated", validate_charge_properties("graduated", GRADUATED), aggregation(25), "USD"
    )
    assert amount_details_json(priced.details) == {
        "graduated_ranges": [
            {
                "units": "10",
                "from_value": 0,
                "to_value": 10,
                "flat_unit_amount": "10",
                "per_unit_amount": "0.5",
                "per_unit_total_amount": "5",
                "total_with_flat_amount": "15",
            },
            {
                "units": "10",
                "from_value": 11,
                "to_value": 20,
                "flat_unit_amount": "5",
                "per_unit_amount": "0.4",
                "per_unit_total_amount": "4",
                "total_with_flat_amount": "9",
            },
            {
                "units": "5",
                "from_value": 21,
                "to_value": None,
                "flat_unit_amount": "0",
                "per_unit_amount": "0.1",
                "per_unit_total_amount": "0.5",
                "total_with_flat_amount": "0.5",
            },
        ]
    }
    assert priced.amount == Decimal("24.5")
    assert priced.unit_amount == Decimal("0.98")


def test_zero_units_pay_the_first_tier_flat_amount_with_lago_details() -> None:
    # lago-api (#5760): no usage still costs the first tier's flat amount; its per-unit amount shows 0.
    graduated = price_charge(
        "graduated", validate_charge_properties("graduated", GRADUATED), aggregation(0, 0), "USD"
    )
    assert (graduated.amount, graduated.amount_cents, graduated.unit_amount) == (Decimal(10), 1000, 0)
    assert amount_details_json(graduated.details) == {
        "graduated_ranges": [
            {
                "units": "0",
                "from_value": 0,
                "to_value": 10,
                "flat_unit_amount": "10",
                "per_unit_amount": "0",
                "per_unit_total_amount": "0",
                "total_with_flat_amount": "10",
            }
        ]
    }
    volume = price_charge("volume", validate_charge_properties("volume", VOLUME), aggregation(0, 0), "USD")
    assert (volume.amount_cents, volume.unit_amount) == (100, 0)
    assert amount_details_json(volume.details) == {
        "flat_unit_amount": "1",
        "per_unit_amount": "0",
        "per_unit_total_amount": "0",
    }
    percentage = price_charge(
        "graduated_percentage",
        validate_charge_properties("graduated_percentage", GRADUATED_PERCENTAGE),
        aggregation(0, 0),
        "EUR",
    )
    assert amount_details_json(percentage.details)["graduated_percentage_ranges"] == [
        {
            "units": "0",
            "from_value": 0,
            "to_value": 100,
            "flat_unit_amount": "1",
            "rate": "2",
            "per_unit_total_amount": "0",
            "total_with_flat_amount": "1",
        }
    ]
    # A first tier without a flat amount keeps an unused charge free.
    free_first = {"graduated_ranges": [tier(0, 1, "0"), tier(2, None, "1", "5")]}
    assert (
        price_charge(
            "graduated", validate_charge_properties("graduated", free_first), aggregation(0, 0), "USD"
        ).amount_cents
        == 0
    )


def test_prorated_graduated_without_usage_pays_the_first_flat_amount() -> None:
    # lago-api ProratedGraduatedService: `result_with_flat_amount(0, 0, 0)` at zero units.
    properties = validate_charge_properties("graduated", GRADUATED)
    priced = price_charge(
        "graduated", properties, aggregation(0, 0, prorated_units=Decimal(0)), "USD", prorated=True
    )
    assert priced.amount_cents == 1000


def test_adjacent_and_decimal_ranges_price_the_units_above_the_previous_bound() -> None:
    # lago-api prices adjacent ranges without the +1 (RangeGraduatedService `adjacent_model`): 0-10 then
    # 10-inf, 15 units → 10 x 1 + 5 x 0.5.
    adjacent = {"graduated_ranges": [tier(0, 10, "1"), tier(10, None, "0.5")]}
    priced = price_charge(
        "graduated", validate_charge_properties("graduated", adjacent), aggregation(15), "USD"
    )
    assert priced.amount == Decimal("12.5")
    assert [
        (row["from_value"], row["to_value"], row["units"]) for row in priced.details["graduated_ranges"]
    ] == [
        (0, 10, Decimal(10)),
        (10, None, Decimal(5)),
    ]
    # Decimal tiers (lago-api #5269's example: 0 → 0.1 TB, 0.1 → 1 TB, 1 → 10 TB): 0.55 TB.
    decimal = {"graduated_ranges": [tier(0, 0.1, "10"), tier(0.1, 1, "5"), tier(1, None, "1")]}
    priced = price_charge(
        "graduated", validate_charge_properties("graduated", decimal), aggregation("0.55"), "USD"
    )
    assert priced.amount == Decimal("3.25")  # 0.1 x 10 + 0.45 x 5
    assert amount_details_json(priced.details)["graduated_ranges"][1]["from_value"] == 0.1
    # Adjacent graduated percentage tiers: 1 % of the first 100, 2 % of the 50 above it.
    percentage = {
        "graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 100, "rate": "1", "flat_amount": "0"},
            {"from_value": 100, "to_value": None, "rate": "2", "flat_amount": "0"},
        ]
    }
    priced = price_charge(
        "graduated_percentage",
        validate_charge_properties("graduated_percentage", percentage),
        aggregation(150),
        "USD",
    )
    assert priced.amount == Decimal("2")
    # A volume tier after a `to_value + 2` bound takes the units in the gap: 6 units on 0-5 / 7-inf.
    gap = {"volume_ranges": [tier(0, 5, "1"), tier(7, None, "2")]}
    assert (
        price_charge("volume", validate_charge_properties("volume", gap), aggregation(6), "USD").amount == 12
    )


def test_volume_and_package_details() -> None:
    volume = price_charge("volume", validate_charge_properties("volume", VOLUME), aggregation(101), "USD")
    assert amount_details_json(volume.details) == {
        "flat_unit_amount": "2",
        "per_unit_amount": "1",
        "per_unit_total_amount": "101",
    }
    package = price_charge(
        "package", validate_charge_properties("package", PACKAGE), aggregation(1101), "USD"
    )
    assert amount_details_json(package.details) == {
        "free_units": "100",
        "paid_units": "1001",
        "per_package_size": 1000,
        "per_package_unit_amount": "30",
    }


def test_percentage_details_and_free_events() -> None:
    values = tuple(Decimal(100) for _ in range(5))
    priced = price_charge(
        "percentage",
        validate_charge_properties("percentage", PERCENTAGE),
        aggregation(1000, 10, event_values=values),
        "USD",
    )
    details = amount_details_json(priced.details)
    assert (details["free_events"], details["paid_events"], details["free_units"], details["paid_units"]) == (
        4,
        6,
        "500",
        "500",
    )
    # Lago counts the running totals still below the cap (100…400): 4 free events, the 5th reaches it.
    assert (details["fixed_fee_total_amount"], details["per_unit_total_amount"]) == ("3", "5")


def test_percentage_with_only_a_free_amount_counts_the_transactions_below_it() -> None:
    # lago-api (SumService#running_total_per_aggregation, PercentageService#free_units_count): the running
    # totals of the transactions, in time order, until one passes the cap; those below it are free events.
    # rate 1 %, fixed 0.5, 500 free: ten transactions of 100 → totals 100…600 kept, 4 below 500.
    properties = validate_charge_properties(
        "percentage", {"rate": "1", "fixed_amount": "0.5", "free_units_per_total_aggregation": "500"}
    )
    values = tuple(Decimal(100) for _ in range(6))
    priced = price_charge("percentage", properties, aggregation(1000, 10, event_values=values), "USD")
    details = amount_details_json(priced.details)
    assert (details["free_events"], details["paid_events"], details["free_units"], details["paid_units"]) == (
        4,
        6,
        "500",
        "500",
    )
    assert priced.amount == Decimal("8.00")  # 1 % x 500 + 0.5 x 6
    # Every transaction below the cap: all free, no fixed fee; the free amount is what they add up to.
    few = (Decimal(100), Decimal(150))
    priced = price_charge("percentage", properties, aggregation(250, 2, event_values=few), "USD")
    details = amount_details_json(priced.details)
    assert (details["free_events"], details["paid_events"], details["free_units"], priced.amount) == (
        2,
        0,
        "250",
        0,
    )


def test_percentage_on_counted_units_runs_totals_of_one_per_unit() -> None:
    # lago-api CountService / UniqueCountService#running_total: (1..units), whatever values are kept.
    cap_only = validate_charge_properties(
        "percentage", {"rate": "10", "fixed_amount": "1", "free_units_per_total_aggregation": "3.5"}
    )
    priced = price_charge("percentage", cap_only, aggregation(10, 10, unit_running_totals=True), "USD")
    details = amount_details_json(priced.details)
    # totals 1…10: 3 below 3.5 → 3 free events; free amount 3.5 → 10 % of 6.5 + 7 x 1 = 7.65
    assert (details["free_events"], details["free_units"], priced.amount) == (3, "3.5", Decimal("7.65"))
    # With free events and a cap, lago-api takes the N-th running total when there are more units.
    both = validate_charge_properties(
        "percentage", {"rate": "10", "free_units_per_events": 5, "free_units_per_total_aggregation": "3"}
    )
    priced = price_charge("percentage", both, aggregation(10, 10, unit_running_totals=True), "USD")
    assert (priced.details["free_units"], priced.details["free_events"]) == (Decimal(5), 2)


def test_percentage_details_as_lago_shows_them() -> None:
    # 5 free events for 3 transactions: Lago shows 3 free, 0 paid, no fixed unit amount, no negative units.
    properties = validate_charge_properties(
        "percentage", {"rate": "1", "fixed_amount": "0.5", "free_units_per_events": 5}
    )
    values = (Decimal(100), Decimal(100), Decimal(100))
    priced = price_charge("percentage", properties, aggregation(300, 3, event_values=values), "USD")
    details = amount_details_json(priced.details)
    assert (details["free_events"], details["paid_events"], details["fixed_fee_unit_amount"]) == (3, 0, "0")
    capped = validate_charge_properties(
        "percentage", {"rate": "1", "free_units_per_total_aggregation": "500"}
    )
    priced = price_charge(
        "percentage", capped, aggregation(-50, 2, event_values=(Decimal(600), Decimal(-650))), "USD"
    )
    assert priced.details["paid_units"] == 0


def test_percentage_min_max_uses_up_the_free_amount_transaction_by_transaction() -> None:
    # Lago: 100 is free (50 of the 150 left); 200 pays on 150 → 1.5 + 0.5 = 2.00; 1000 → 10.5 → max 3.75.
    properties = validate_charge_properties(
        "percentage",
        {
            "rate": "1",
            "fixed_amount": "0.5",
            "free_units_per_total_aggregation": "150",
            "per_transaction_min_amount": "1.75",
            "per_transaction_max_amount": "3.75",
        },
    )
    values = (Decimal(100), Decimal(200), Decimal(1000))
    priced = price_charge("percentage", properties, aggregation(1300, 3, event_values=values), "USD")
    assert priced.amount == Decimal("5.75")
    # Free events alone make whole transactions free, then each pays rate + fixed, clamped.
    free_events = validate_charge_properties(
        "percentage", {"rate": "1", "free_units_per_events": 2, "per_transaction_min_amount": "1.75"}
    )
    priced = price_charge("percentage", free_events, aggregation(1300, 3, event_values=values), "USD")
    assert priced.amount == Decimal("10.00")


def test_percentage_per_transaction_min_and_max() -> None:
    # rate 1 %, fixed 0.5, min 1.75, max 3.75 (spec examples): transactions 10, 200 and 1000.
    properties = validate_charge_properties(
        "percentage",
        {
            "rate": "1",
            "fixed_amount": "0.5",
            "per_transaction_min_amount": "1.75",
            "per_transaction_max_amount": "3.75",
        },
    )
    assert isinstance(properties, PercentageProperties)
    # Its states keep no prefix (no free allowance) and sum each transaction's clamped fee
    assert percentage_keep(properties).events == 0 and percentage_keep(properties).until is None
    assert percentage_keep(properties).clamp == percentage_clamp(properties)
    values = (Decimal(10), Decimal(200), Decimal(1000))
    priced = price_charge("percentage", properties, aggregation(1210, 3, event_values=values), "USD")
    # 0.6 → 1.75 (min); 2.5 stays; 10.5 → 3.75 (max).
    assert priced.amount_cents == 800
    assert priced.details["min_max_adjustment_total_amount"] == Decimal("8.00") - Decimal("13.60")


def test_percentage_without_kept_event_values_never_fails() -> None:
    # Free events set after the events were folded: no values kept, so no free amount is known.
    # 1 % of 1000 + 0.5 x 5 paid events = 12.50.
    properties = validate_charge_properties("percentage", PERCENTAGE)
    assert price_charge("percentage", properties, aggregation(1000, 10), "USD").amount_cents == 1250
    # min/max with fewer values than events: priced without the per-transaction clamp, not an error.
    capped = validate_charge_properties("percentage", {"rate": "1", "per_transaction_max_amount": "0.5"})
    priced = price_charge("percentage", capped, aggregation(300, 3, event_values=(Decimal(100),)), "USD")
    assert priced.amount_cents == 300


def test_prorated_standard_and_volume_price_the_prorated_units() -> None:
    result = aggregation(2, prorated_units=Decimal(46) / 30)
    standard = price_charge(
        "standard", validate_charge_properties("standard", {"amount": "30"}), result, "EUR", prorated=True
    )
    assert standard.amount_cents == 4600
    assert standard.units == 2
    volume = price_charge(
        "volume", validate_charge_properties("volume", VOLUME), result, "EUR", prorated=True
    )
    assert volume.amount_cents == round(Decimal(100) + Decimal(200) * 46 / 30)  # flat 1 + 2/unit on 46/30


def test_pay_in_advance_prices_the_increment() -> None:
    properties = validate_charge_properties("graduated", GRADUATED)
    fee = price_in_advance_event("graduated", properties, aggregation(10, 1), aggregation(12, 2), "USD")
    # 15.00 before, 15 + 5 (flat of tier two) + 2 * 0.4 after.
    assert (fee.amount_cents, fee.units, fee.events_count) == (580, 2, 1)
    standard = validate_charge_properties("standard", {"amount": "2"})
    refund = price_in_advance_event("standard", standard, aggregation(5), aggregation(3), "USD")
    assert refund.amount_cents == 0


def test_pay_in_advance_first_event_pays_the_first_flat_amount_once() -> None:
    # lago-api prices the side without the event at 0 when it has no units (`exclude_event`): the first
    # event pays the first tier's flat amount, the next ones only their increment.
    graduated = validate_charge_properties("graduated", GRADUATED)
    first = price_in_advance_event("graduated", graduated, aggregation(0, 0), aggregation(2, 1), "USD")
    assert first.amount_cents == 1100  # flat 10 + 2 x 0.5
    second = price_in_advance_event("graduated", graduated, aggregation(2, 1), aggregation(3, 2), "USD")
    assert second.amount_cents == 50
    percentage = validate_charge_properties("graduated_percentage", GRADUATED_PERCENTAGE)
    first = price_in_advance_event(
        "graduated_percentage", percentage, aggregation(0, 0), aggregation(50, 1), "EUR"
    )
    assert first.amount_cents == 200  # flat 1 + 2 % of 50


@pytest.mark.parametrize(
    ("fees", "minimum", "active_days", "period_days", "true_up"),
    [
        (700, 1000, None, None, 300),
        (1200, 1000, None, None, 0),
        (100, 3100, 10, 31, 900),  # "Minimum spend … prorated on days of usage" (lago-docs/24-resources.md)
    ],
)
def test_min_amount_true_up(
    fees: int, minimum: int, active_days: int | None, period_days: int | None, true_up: int
) -> None:
    assert true_up_amount_cents(fees, minimum, active_days=active_days, period_days=period_days) == true_up


def test_properties_must_fit_the_model() -> None:
    with pytest.raises(ValueError):
        price_charge(
            "graduated", validate_charge_properties("standard", {"amount": "1"}), aggregation(1), "EUR"
        )
