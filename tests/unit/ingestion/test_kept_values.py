"""What a percentage charge's aggregates keep of each event's value (lagoon.ingestion.directory): what its
default price and every filter need, as lago-api reads the running totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.plans import Charge, ChargeFilter
from lagoon.engine.kept_values import Clamp, KeepSpec
from lagoon.ingestion.directory import _kept_values


def _metric(aggregation_type: str = "sum_agg") -> BillableMetric:
    return BillableMetric(
        lago_id="bm",
        organization_id="org",
        name="Payments",
        code="payments",
        aggregation_type=aggregation_type,
        field_name=None if aggregation_type == "count_agg" else "amount",
        created_at="2024-01-01T00:00:00Z",
        updated_at="2024-01-01T00:00:00Z",
    )


def _charge(properties: dict[str, Any], *filters: dict[str, Any], model: str = "percentage") -> Charge:
    return Charge(
        lago_id="ch",
        billable_metric_id="bm",
        billable_metric_code="payments",
        charge_model=model,
        properties=properties,
        filters=[
            ChargeFilter(lago_id=f"f{i}", properties=p, values={"region": ["eu"]})
            for i, p in enumerate(filters)
        ],
        created_at="2024-01-01T00:00:00Z",
    )


CLAMP_MAX_2 = Clamp(Decimal("0.01"), Decimal(0), None, Decimal(2))


@pytest.mark.parametrize(
    ("charge", "kept"),
    [
        (_charge({"amount": "1"}, model="standard"), {}),
        (_charge({"rate": "1"}), {"-": KeepSpec()}),
        (_charge({"rate": "1", "free_units_per_events": 3}), {"-": KeepSpec(3)}),
        (_charge({"rate": "1", "free_units_per_total_aggregation": "500"}), {"-": KeepSpec(0, Decimal(500))}),
        # Each filter keeps what its own price reads
        (
            _charge({"rate": "1"}, {"rate": "1", "free_units_per_total_aggregation": "50"}),
            {"-": KeepSpec(), "f0": KeepSpec(0, Decimal(50))},
        ),
        (
            _charge(
                {"rate": "1", "free_units_per_events": 2},
                {"rate": "1", "free_units_per_total_aggregation": "9"},
            ),
            {"-": KeepSpec(2), "f0": KeepSpec(0, Decimal(9))},
        ),
        # Both free kinds: the first N, the cap kept for the running totals below it
        (
            _charge({"rate": "1", "free_units_per_events": 2, "free_units_per_total_aggregation": "9"}),
            {"-": KeepSpec(2, Decimal(9))},
        ),
        # A clamped price: its free allowance, and the clamped fees of the other transactions
        (_charge({"rate": "1", "per_transaction_max_amount": "2"}), {"-": KeepSpec(clamp=CLAMP_MAX_2)}),
    ],
)
def test_a_percentage_charge_keeps_what_its_prices_read(charge: Charge, kept: dict[str, KeepSpec]) -> None:
    assert _kept_values(charge, _metric()) == kept


def test_counted_units_keep_no_values_unless_each_transaction_is_clamped() -> None:
    # lago-api's running totals of a count are 1, 2, …, units: nothing to keep.
    free_amount = _charge({"rate": "1", "free_units_per_total_aggregation": "500"})
    assert _kept_values(free_amount, _metric("count_agg")) == {"-": KeepSpec()}
    clamped = _charge({"rate": "1", "per_transaction_max_amount": "2"})
    assert _kept_values(clamped, _metric("count_agg")) == {"-": KeepSpec(clamp=CLAMP_MAX_2)}
