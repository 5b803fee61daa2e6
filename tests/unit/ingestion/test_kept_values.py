"""What a percentage charge's aggregates keep of each event's value (lagoon.ingestion.directory): what its
default price and every filter need, as lago-api reads the running totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.plans import Charge, ChargeFilter
from lagoon.engine.aggregation_state import KEEP_EVERY_EVENT_VALUE
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


@pytest.mark.parametrize(
    ("charge", "kept"),
    [
        (_charge({"amount": "1"}, model="standard"), (0, None)),
        (_charge({"rate": "1"}), (0, None)),
        (_charge({"rate": "1", "free_units_per_events": 3}), (3, None)),
        (_charge({"rate": "1", "free_units_per_total_aggregation": "500"}), (0, Decimal(500))),
        # The filters need more than the default price: the state keeps what any of them needs.
        (
            _charge({"rate": "1"}, {"rate": "1", "free_units_per_total_aggregation": "50"}),
            (0, Decimal(50)),
        ),
        (
            _charge(
                {"rate": "1", "free_units_per_total_aggregation": "500"},
                {"rate": "1", "free_units_per_total_aggregation": "800"},
            ),
            (0, Decimal(800)),
        ),
        # Free events on one price, a free amount on another: only every value serves both.
        (
            _charge(
                {"rate": "1", "free_units_per_events": 2},
                {"rate": "1", "free_units_per_total_aggregation": "9"},
            ),
            (KEEP_EVERY_EVENT_VALUE, None),
        ),
        (_charge({"rate": "1", "per_transaction_max_amount": "2"}), (KEEP_EVERY_EVENT_VALUE, None)),
    ],
)
def test_a_percentage_charge_keeps_what_its_prices_read(
    charge: Charge, kept: tuple[int, Decimal | None]
) -> None:
    assert _kept_values(charge, _metric()) == kept


def test_counted_units_keep_no_values_unless_each_transaction_is_clamped() -> None:
    # lago-api's running totals of a count are 1, 2, …, units: nothing to keep.
    assert _kept_values(
        _charge({"rate": "1", "free_units_per_total_aggregation": "500"}), _metric("count_agg")
    ) == (
        0,
        None,
    )
    clamped = _charge({"rate": "1", "per_transaction_min_amount": "1"})
    assert _kept_values(clamped, _metric("count_agg")) == (KEEP_EVERY_EVENT_VALUE, None)
