"""Audit fixes (issue 4): bounded numbers, exact money, negative fees, prorated pay in advance, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from lagoon.engine.aggregation_state import new_state
from lagoon.engine.charge_filters import (
    ChargeFilterDefinition,
    group_key,
    invalid_filter_keys,
    matching_charge_filters,
)
from lagoon.engine.charges import price_charge, price_in_advance_event
from lagoon.engine.folding import fold, fold_events
from lagoon.engine.metric_definitions import MetricDefinition, MetricFilter, UsageEvent, numeric_property
from lagoon.engine.period_units import AggregationResult, finalize
from lagoon.engine.properties import ChargePropertiesError, validate_charge_properties

JAN, FEB = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
SUM = MetricDefinition("gb", "sum_agg", "gb")


def event(index: int, properties: dict[str, Any], at: datetime | None = None) -> UsageEvent:
    return UsageEvent(f"tx-{index}", at or JAN + timedelta(hours=index), properties)


@pytest.mark.parametrize(
    "value",
    [
        "1e400",
        "9" * 5000,
        "NaN",
        "Infinity",
        "-inf",
        10**20,
        10**4000,
        float("inf"),
        float("nan"),
        1e300,
        "١٢٣",
        "1_000",
        " 5",
        "+5",
        "1e3",
        ".5",
        "0." + "0" * 26 + "1",
        True,
    ],
)
def test_out_of_range_or_odd_event_values_are_not_numbers(value: object) -> None:
    assert numeric_property(value) is None
    state = fold_events(new_state(SUM), [event(0, {"gb": value}), event(1, {"gb": "2"})])
    result = finalize(state, JAN, FEB)
    assert (result.units, result.events_count, result.ignored_events_count) == (Decimal(2), 1, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", Decimal(12)),
        ("-3.25", Decimal("-3.25")),
        (7, Decimal(7)),
        (0.1, Decimal("0.1")),
        ("9" * 20, Decimal("9" * 20)),
        ("0." + "0" * 25 + "1", Decimal("1e-26")),
    ],
)
def test_bounded_numbers_are_kept_exactly(value: object, expected: Decimal) -> None:
    assert numeric_property(value) == expected


def test_sums_of_large_precise_values_stay_exact() -> None:
    # 40 significant digits per value: the default 28-digit context would round these.
    value = "12345678901234567890.12345678901234567891"[:41]
    state = fold_events(new_state(SUM), [event(i, {"gb": value}) for i in range(3)])
    assert str(finalize(state, JAN, FEB).units) == "37037036703703703670.37037036703703703673"


def test_a_large_fee_rounds_to_exact_cents_without_error() -> None:
    properties = validate_charge_properties("standard", {"amount": "99999999999999999999.99"})
    units = AggregationResult(
        units=Decimal("99999999999999999999"),
        events_count=1,
        total_aggregated_units=Decimal("99999999999999999999"),
    )
    fee = price_charge("standard", properties, units, "EUR")
    assert fee.amount_cents == 999999999999999999989900000000000000000001


@pytest.mark.parametrize("amount", ["1e400", "9" * 5000, "NaN", "Infinity", "١٢٣", "1_000", 10**21, "1e25"])
def test_unbounded_charge_amounts_are_refused(amount: object) -> None:
    with pytest.raises(ChargePropertiesError) as raised:
        validate_charge_properties("standard", {"amount": amount})
    assert raised.value.details == {"amount": ["invalid_amount"]}


def test_unbounded_range_bounds_are_refused() -> None:
    ranges = [
        {"from_value": 0, "to_value": "9" * 5000, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 10**4000, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
    ]
    with pytest.raises(ChargePropertiesError) as raised:
        validate_charge_properties("graduated", {"graduated_ranges": ranges})
    assert raised.value.details == {"graduated_ranges": ["invalid_graduated_ranges"]}


def test_negative_units_or_amounts_give_a_zero_fee() -> None:
    # Lago's Fees::ChargeService: a fee with negative units or amount becomes 0 units, 0 amount.
    state = fold_events(new_state(SUM), [event(0, {"gb": "5"}), event(1, {"gb": "-8"})])
    aggregation = finalize(state, JAN, FEB)
    assert aggregation.units == Decimal(-3)
    fee = price_charge(
        "standard", validate_charge_properties("standard", {"amount": "2"}), aggregation, "EUR"
    )
    assert (fee.units, fee.amount, fee.amount_cents, fee.unit_amount, fee.events_count) == (0, 0, 0, 0, 2)
    graduated = validate_charge_properties(
        "graduated",
        {
            "graduated_ranges": [
                {"from_value": 0, "to_value": None, "per_unit_amount": "1", "flat_amount": "3"}
            ]
        },
    )
    assert price_charge("graduated", graduated, aggregation, "EUR").amount_cents == 0


def test_prorated_pay_in_advance_prices_the_days_left() -> None:
    # A seat added on September 15th of a 30-day period: 16/30 of 30 = 16.00 (Lago ceils 16/30 to 0.53334).
    metric = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
    sep, october = datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 10, 1, tzinfo=UTC)
    state = new_state(metric)
    before = finalize(state, sep, october)
    after = finalize(
        fold(state, event(0, {"seats": 1}, at=datetime(2024, 9, 15, 10, tzinfo=UTC))), sep, october
    )
    standard = validate_charge_properties("standard", {"amount": "30"})
    prorated = price_in_advance_event("standard", standard, before, after, "EUR", prorated=True)
    assert (prorated.amount, prorated.amount_cents) == (Decimal("16.00020"), 1600)
    full = price_in_advance_event("standard", standard, before, after, "EUR")
    assert full.amount_cents == 3000


def test_boolean_properties_match_filters_as_json_text() -> None:
    filters = [
        ChargeFilterDefinition(values={"premium": ["true"]}),
        ChargeFilterDefinition(values={"premium": ["false"]}),
    ]
    assert matching_charge_filters({"premium": True}, filters) == (0,)
    assert matching_charge_filters({"premium": False}, filters) == (1,)
    metric = MetricDefinition("calls", "count_agg", filters=(MetricFilter("premium", ("true", "false")),))
    assert invalid_filter_keys(metric, {"premium": True}) == ()
    assert group_key({"premium": False}, ["premium"]) == ("false",)


def test_prorated_graduated_prices_each_step_in_the_tier_its_full_units_reach() -> None:
    # Lago's ProratedGraduatedService. September (30 days): +6 seats on the 1st (30/30), +8 on the 16th
    # (15/30). Full units 0-6 and 6-10 fill tier 1 (6 + 4 x 0.5 = 8 prorated → 8.00), 10-14 go to tier 2
    # (4 x 0.5 = 2 prorated x 2 = 4.00, + flat 5.00) → 17.00.
    metric = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
    sep, october = datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 10, 1, tzinfo=UTC)
    state = new_state(metric)
    fold(state, event(0, {"seats": 6}, at=datetime(2024, 9, 1, 8, tzinfo=UTC)))
    fold(state, event(1, {"seats": 8}, at=datetime(2024, 9, 16, 8, tzinfo=UTC)))
    result = finalize(state, sep, october)
    graduated = validate_charge_properties(
        "graduated",
        {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "2", "flat_amount": "5"},
            ]
        },
    )
    fee = price_charge("graduated", graduated, result, "EUR", prorated=True)
    assert (fee.units, fee.amount_cents) == (Decimal(14), 1700)
    tiers = fee.details["graduated_ranges"]
    assert [row["units"] for row in tiers] == [Decimal(8), Decimal(2)]
    # Not prorated: 10 x 1 + 4 x 2 + 5 = 23.00.
    assert price_charge("graduated", graduated, result, "EUR").amount_cents == 2300


def test_prorated_graduated_flat_amounts_follow_the_highest_units_reached() -> None:
    # lago-api ProratedGraduatedService decides the flat amounts from `max_full_sum`. September (30 days):
    # +14 seats on the 1st, -8 on the 16th (6 left): the full units reached 14, so tier 2 (flat 5) was
    # reached although they end at 6 (the final units alone priced tier 1 only: 8.00).
    metric = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
    sep, october = datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 10, 1, tzinfo=UTC)
    state = new_state(metric)
    fold(state, event(0, {"seats": 14}, at=datetime(2024, 9, 1, 8, tzinfo=UTC)))
    fold(state, event(1, {"seats": -8}, at=datetime(2024, 9, 16, 8, tzinfo=UTC)))
    result = finalize(state, sep, october)
    graduated = validate_charge_properties(
        "graduated",
        {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "2", "flat_amount": "5"},
            ]
        },
    )
    fee = price_charge("graduated", graduated, result, "EUR", prorated=True)
    # 14 x 30/30 - 8 x 15/30 = 10 prorated: the -8 takes back tier 2's 4 seats first (4 x 15/30 = 2 left
    # there), then 4 of tier 1's (10 - 2 = 8 there). Tier 1: 8 x 1; tier 2: 2 x 2 + flat 5 → 17.00
    assert [row["units"] for row in fee.details["graduated_ranges"]] == [Decimal(8), Decimal(2)]
    assert (fee.units, fee.amount_cents) == (Decimal(6), 1700)
    # The same seats, all removed on the 16th: both tiers were reached, their prorated days still paid
    gone = new_state(metric)
    fold(gone, event(0, {"seats": 14}, at=datetime(2024, 9, 1, 8, tzinfo=UTC)))
    fold(gone, event(1, {"seats": -14}, at=datetime(2024, 9, 16, 8, tzinfo=UTC)))
    fee = price_charge("graduated", graduated, finalize(gone, sep, october), "EUR", prorated=True)
    # 10 x 15/30 = 5 in tier 1, 4 x 15/30 = 2 in tier 2 (x 2 + flat 5) → 14.00
    assert (fee.units, fee.amount_cents) == (Decimal(0), 1400)
