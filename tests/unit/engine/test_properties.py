"""Charge properties: Lago names, error codes and JSON shape (spec: components.schemas.ChargeProperties)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lagoon.engine.properties import (
    AGGREGATION_TYPES,
    CHARGE_MODELS,
    ChargePropertiesError,
    GraduatedProperties,
    PackageProperties,
    PercentageProperties,
    StandardProperties,
    dump_charge_properties,
    validate_charge_properties,
)


def tier(from_value: Any, to_value: Any, per_unit: str = "1", flat: str = "0") -> dict[str, Any]:
    return {"from_value": from_value, "to_value": to_value, "per_unit_amount": per_unit, "flat_amount": flat}


def pct_tier(from_value: Any, to_value: Any, rate: str = "1", flat: str = "0") -> dict[str, Any]:
    return {"from_value": from_value, "to_value": to_value, "rate": rate, "flat_amount": flat}


def test_constants_follow_the_spec_enums() -> None:
    assert set(CHARGE_MODELS) == {
        "standard",
        "graduated",
        "volume",
        "package",
        "percentage",
        "graduated_percentage",
        "dynamic",
    }
    assert set(AGGREGATION_TYPES) == {
        "count_agg",
        "sum_agg",
        "max_agg",
        "unique_count_agg",
        "weighted_sum_agg",
        "latest_agg",
    }


VALID_CASES = [
    pytest.param("standard", {"amount": "0.5"}, {"amount": "0.5"}, id="standard-string"),
    pytest.param("standard", {"amount": 2}, {"amount": "2"}, id="standard-number-echoed-as-string"),
    pytest.param("standard", {"amount": 0.1}, {"amount": "0.1"}, id="standard-float-without-binary-noise"),
    pytest.param(
        "standard",
        {"amount": "1", "grouped_by": ["agent_name"]},
        {"amount": "1", "grouped_by": ["agent_name"]},
        id="standard-grouped-by",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 10, "10", "10"), tier(11, None, "0.5", "0")]},
        {"graduated_ranges": [tier(0, 10, "10", "10"), tier(11, None, "0.5", "0")]},
        id="graduated-spec-example",
    ),
    pytest.param(
        "volume",
        {"volume_ranges": [tier(0, 100, "2"), tier(101, None, "1")]},
        {"volume_ranges": [tier(0, 100, "2"), tier(101, None, "1")]},
        id="volume",
    ),
    pytest.param(
        "package",
        {"amount": "30", "package_size": 1000, "free_units": 100},
        {"amount": "30", "package_size": 1000, "free_units": 100},
        id="package-spec-example",
    ),
    pytest.param(
        "package",
        {"amount": "30", "package_size": 10},
        {"amount": "30", "package_size": 10, "free_units": 0},
        id="package-free-units-default-zero",
    ),
    pytest.param(
        "percentage",
        {
            "rate": "1",
            "fixed_amount": "0.5",
            "free_units_per_events": 5,
            "free_units_per_total_aggregation": "500",
            "per_transaction_min_amount": "1.75",
            "per_transaction_max_amount": "3.75",
        },
        {
            "rate": "1",
            "fixed_amount": "0.5",
            "free_units_per_events": 5,
            "free_units_per_total_aggregation": "500",
            "per_transaction_min_amount": "1.75",
            "per_transaction_max_amount": "3.75",
        },
        id="percentage-spec-example",
    ),
    pytest.param(
        "graduated_percentage",
        {"graduated_percentage_ranges": [pct_tier(0, 10, "1", "10"), pct_tier(11, None, "0.5")]},
        {"graduated_percentage_ranges": [pct_tier(0, 10, "1", "10"), pct_tier(11, None, "0.5")]},
        id="graduated-percentage",
    ),
    # lago-api Validators::RangeBoundsValidator: a tier starts at the previous `to_value` ("adjacent", decimal
    # bounds allowed) or at `to_value + 1`; the first one at 0 or 1.
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 10), tier(10, None)]},
        {"graduated_ranges": [tier(0, 10), tier(10, None)]},
        id="graduated-adjacent",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 0.1), tier(0.1, "1"), tier(1, 10), tier(11, None)]},
        {"graduated_ranges": [tier(0, 0.1), tier(0.1, 1), tier(1, 10), tier(11, None)]},
        id="graduated-decimal-adjacent-then-plus-one",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(1, 10.0), tier(11, None)]},
        {"graduated_ranges": [tier(1, 10), tier(11, None)]},
        id="graduated-first-from-one",
    ),
    pytest.param(
        "graduated_percentage",
        {"graduated_percentage_ranges": [pct_tier(0, 2.5), pct_tier(2.5, None)]},
        {"graduated_percentage_ranges": [pct_tier(0, 2.5), pct_tier(2.5, None)]},
        id="graduated-percentage-adjacent-decimal",
    ),
    # Volume tiers follow `to_value + 1` (lago-api's volume validator adds 1 to the next `from_value` it
    # expects, so `to_value + 2` passes too), never the adjacent bound.
    pytest.param(
        "volume",
        {"volume_ranges": [tier(0, 5), tier(7, 10.5), tier(11.5, None)]},
        {"volume_ranges": [tier(0, 5), tier(7, 10.5), tier(11.5, None)]},
        id="volume-plus-two-and-decimal",
    ),
    pytest.param("dynamic", None, {}, id="dynamic-no-properties"),
    pytest.param("standard", {"amount": "1", "package_size": 3}, {"amount": "1"}, id="foreign-keys-dropped"),
]


@pytest.mark.parametrize(("charge_model", "given", "dumped"), VALID_CASES)
def test_valid_properties_round_trip_as_lago_returns_them(
    charge_model: str, given: dict[str, Any] | None, dumped: dict[str, Any]
) -> None:
    properties = validate_charge_properties(charge_model, given)
    assert dump_charge_properties(properties) == dumped


INVALID_CASES = [
    pytest.param("standard", {}, {"amount": ["invalid_amount"]}, id="standard-missing-amount"),
    pytest.param("standard", {"amount": "-1"}, {"amount": ["invalid_amount"]}, id="standard-negative"),
    pytest.param("standard", {"amount": "abc"}, {"amount": ["invalid_amount"]}, id="standard-not-a-number"),
    pytest.param("standard", {"amount": "NaN"}, {"amount": ["invalid_amount"]}, id="standard-nan"),
    pytest.param(
        "standard", {"amount": "1", "grouped_by": "x"}, {"grouped_by": ["invalid_type"]}, id="grouped-by-str"
    ),
    pytest.param("graduated", {}, {"graduated_ranges": ["missing_graduated_ranges"]}, id="graduated-missing"),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(2, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-first-from-above-one",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 10), tier(9, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-overlap",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 10), tier(12, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-gap",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 0.5), tier(1, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-decimal-gap",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, "0.1000000000000000000001"), tier("0.1000000000000000000001", None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-bound-no-json-number-carries",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, "ten"), tier(11, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-bound-not-a-number",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 10), tier(11, 20)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-last-not-open",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, None), tier(1, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-open-tier-not-last",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, 0), tier(1, None)]},
        {"graduated_ranges": ["invalid_graduated_ranges"]},
        id="graduated-to-not-above-from",
    ),
    pytest.param(
        "graduated",
        {"graduated_ranges": [tier(0, None, "-1", "x")]},
        {"per_unit_amount": ["invalid_amount"], "flat_amount": ["invalid_amount"]},
        id="graduated-bad-amounts",
    ),
    pytest.param(
        "volume", {"volume_ranges": []}, {"volume_ranges": ["missing_volume_ranges"]}, id="volume-empty"
    ),
    pytest.param(
        "volume",
        {"volume_ranges": [tier(0, 5), tier(8, None)]},
        {"volume_ranges": ["invalid_volume_ranges"]},
        id="volume-gap",
    ),
    pytest.param(
        "volume",
        {"volume_ranges": [tier(0, 10), tier(10, None)]},
        {"volume_ranges": ["invalid_volume_ranges"]},
        id="volume-adjacent-refused",
    ),
    pytest.param(
        "graduated_percentage",
        {"graduated_percentage_ranges": [pct_tier(0, 10), pct_tier(10.5, None)]},
        {"graduated_percentage_ranges": ["invalid_graduated_percentage_ranges"]},
        id="graduated-percentage-decimal-gap",
    ),
    pytest.param(
        "package",
        {"amount": "1", "package_size": 0},
        {"package_size": ["invalid_package_size"]},
        id="package-size-zero",
    ),
    pytest.param(
        "package",
        {"amount": "1", "package_size": 10, "free_units": -1},
        {"free_units": ["invalid_free_units"]},
        id="package-negative-free-units",
    ),
    pytest.param(
        "package",
        {},
        {"amount": ["invalid_amount"], "package_size": ["invalid_package_size"]},
        id="package-empty",
    ),
    pytest.param("percentage", {}, {"rate": ["invalid_rate"]}, id="percentage-missing-rate"),
    pytest.param(
        "percentage",
        {"rate": "1", "fixed_amount": "-2"},
        {"fixed_amount": ["invalid_fixed_amount"]},
        id="percentage-negative-fixed",
    ),
    pytest.param(
        "percentage",
        {"rate": "1", "free_units_per_events": 1.5},
        {"free_units_per_events": ["invalid_free_units_per_events"]},
        id="percentage-fractional-free-events",
    ),
    pytest.param(
        "percentage",
        {"rate": "1", "free_units_per_total_aggregation": "x"},
        {"free_units_per_total_aggregation": ["invalid_free_units_per_total_aggregation"]},
        id="percentage-bad-free-aggregation",
    ),
    pytest.param(
        "percentage",
        {"rate": "1", "per_transaction_min_amount": "3", "per_transaction_max_amount": "2"},
        {"per_transaction_max_amount": ["per_transaction_max_lower_than_per_transaction_min"]},
        id="percentage-max-below-min",
    ),
    pytest.param(
        "graduated_percentage",
        {"graduated_percentage_ranges": [pct_tier(0, None, "-1")]},
        {"rate": ["invalid_rate"]},
        id="graduated-percentage-negative-rate",
    ),
    pytest.param(
        "graduated_percentage",
        {},
        {"graduated_percentage_ranges": ["missing_graduated_percentage_ranges"]},
        id="graduated-percentage-missing",
    ),
    pytest.param("unknown", {}, {"charge_model": ["value_is_invalid"]}, id="unknown-charge-model"),
]


@pytest.mark.parametrize(("charge_model", "given", "details"), INVALID_CASES)
def test_invalid_properties_answer_lago_error_codes(
    charge_model: str, given: dict[str, Any], details: dict[str, list[str]]
) -> None:
    with pytest.raises(ChargePropertiesError) as raised:
        validate_charge_properties(charge_model, given)
    assert raised.value.details == details


def test_typed_models_keep_decimals() -> None:
    standard = validate_charge_properties("standard", {"amount": "0.0001"})
    assert isinstance(standard, StandardProperties)
    assert standard.amount == Decimal("0.0001")

    graduated = validate_charge_properties("graduated", {"graduated_ranges": [tier(0, None, "2.5", "1")]})
    assert isinstance(graduated, GraduatedProperties)
    assert graduated.graduated_ranges[0].per_unit_amount == Decimal("2.5")

    package = validate_charge_properties("package", {"amount": "5", "package_size": "10"})
    assert isinstance(package, PackageProperties)
    assert package.package_size == 10


def test_pricing_group_keys_take_precedence_over_deprecated_grouped_by() -> None:
    properties = validate_charge_properties(
        "percentage", {"rate": "1", "grouped_by": ["a"], "pricing_group_keys": ["b", "c"]}
    )
    assert isinstance(properties, PercentageProperties)
    assert properties.group_keys == ("b", "c")
    assert validate_charge_properties("standard", {"amount": "1", "grouped_by": ["a"]}).group_keys == ("a",)
