"""Pay-in-advance sums and unique counts that go down (issue 17): only what passes the highest level the
period reached is paid again, as lago-api's pay-in-advance aggregations keep `max_aggregation`
(`Aggregations::SumService` / `UniqueCountService#compute_pay_in_advance_aggregation`,
`ApplyPayInAdvanceChargeModelService`: price(level) - price(level - units paid))."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.charges import ChargeResult, price_in_advance_event
from lagoon.engine.folding import merge
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.period_units import finalize, fold_in_advance, open_next_period
from lagoon.engine.properties import validate_charge_properties

STORAGE = MetricDefinition("storage", "sum_agg", "gb")
SEATS = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
USERS = MetricDefinition("users", "unique_count_agg", "user_id")
JUNE, JULY = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
GRADUATED = validate_charge_properties(
    "graduated",
    {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "0.5", "flat_amount": "10"},
            {"from_value": 11, "to_value": 20, "per_unit_amount": "0.4", "flat_amount": "5"},
            {"from_value": 21, "to_value": None, "per_unit_amount": "0.1", "flat_amount": "0"},
        ]
    },
)


def _fees(
    charge_model: str, properties: Any, state: AggregationState, events: list[dict[str, Any]], **options: Any
) -> list[ChargeResult]:
    """Each event folded in turn and priced as the aggregator bills it."""
    fees = []
    for index, props in enumerate(events):
        moment = props.pop("at", datetime(2024, 6, 10 + index, tzinfo=UTC))
        before, after = fold_in_advance(
            state, UsageEvent(f"tx_{index}", moment, props), JUNE, JULY, period_days=30
        )
        fees.append(price_in_advance_event(charge_model, properties, before, after, "USD", **options))
    return fees


def test_a_sum_that_went_down_pays_only_what_passes_its_highest_level() -> None:
    # Given a graduated charge in advance (0-10: flat 10 + 0.5, 11-20: flat 5 + 0.4), +10 GB, -5, +3, +4
    fees = _fees("graduated", GRADUATED, new_state(STORAGE), [{"gb": 10}, {"gb": -5}, {"gb": 3}, {"gb": 4}])
    # Then the first pays the first tier (10 + 5.00); the way down and back up to 8 pays nothing (it was
    # 1.50 with the tier flat amounts kept once); 8 → 12 pays only 10 → 12: flat 5 + 2 x 0.4 = 5.80 (not 6.80)
    assert [(fee.amount_cents, fee.units) for fee in fees] == [(1500, 10), (0, 0), (0, 3), (580, 2)]
    assert [fee.total_aggregated_units for fee in fees] == [10, 0, 3, 2]


def test_the_first_tier_flat_amount_is_paid_once_even_when_the_level_comes_back_to_zero() -> None:
    # +5, -5 (back to 0 units), +0, then +2: the flat amount of 10 is paid by the first event only
    fees = _fees("graduated", GRADUATED, new_state(STORAGE), [{"gb": 5}, {"gb": -5}, {"gb": 0}, {"gb": 7}])
    assert [fee.amount_cents for fee in fees] == [1250, 0, 0, 100]  # 10 + 2.50, then 5 → 7: 2 x 0.5


def test_a_first_event_that_removes_sets_the_highest_level_below_the_start() -> None:
    # lago-api's first event sets `max_aggregation` to its own value, even below zero: -3, then +3 pays the 3
    # units back to 0 (standard, 2 a unit), then +1 pays 1
    standard = validate_charge_properties("standard", {"amount": "2"})
    fees = _fees("standard", standard, new_state(STORAGE), [{"gb": -3}, {"gb": 3}, {"gb": 1}])
    assert [(fee.amount_cents, fee.units) for fee in fees] == [(0, 0), (600, 3), (200, 1)]


def test_a_unique_count_pays_a_user_again_only_above_the_most_users_reached() -> None:
    # 30 a user: u1 added, removed, u2 added (1 user, as many as before: free), u3 added (2 users: paid)
    standard = validate_charge_properties("standard", {"amount": "30"})
    events: list[dict[str, Any]] = [
        {"user_id": "u1"},
        {"user_id": "u1", "operation_type": "remove"},
        {"user_id": "u2"},
        {"user_id": "u3"},
    ]
    fees = _fees("standard", standard, new_state(USERS), events)
    assert [(fee.amount_cents, fee.units) for fee in fees] == [(3000, 1), (0, 0), (0, 1), (3000, 1)]


def test_a_prorated_sum_pays_the_days_left_of_the_units_passing_its_highest_level() -> None:
    # A recurring seat at 30 a month, prorated, in June (30 days): +1 on the 1st (30.00), -1 on the 10th,
    # +1 on the 21st (back to 1: nothing, where the increment alone was 10 days = 10.00), +2 on the 21st
    # (3 seats, 2 above the highest: 2 x 30 x 10/30 = 20.00)
    standard = validate_charge_properties("standard", {"amount": "30"})
    events: list[dict[str, Any]] = [
        {"seats": 1, "at": datetime(2024, 6, 1, 10, tzinfo=UTC)},
        {"seats": -1, "at": datetime(2024, 6, 10, 10, tzinfo=UTC)},
        {"seats": 1, "at": datetime(2024, 6, 21, 10, tzinfo=UTC)},
        {"seats": 2, "at": datetime(2024, 6, 21, 11, tzinfo=UTC)},
    ]
    fees = _fees("standard", standard, new_state(SEATS), events, prorated=True)
    assert [(fee.amount_cents, fee.units) for fee in fees] == [(3000, 1), (0, 0), (0, 1), (2000, 2)]


def test_the_highest_level_is_stored_and_starts_again_each_period() -> None:
    state = new_state(STORAGE)
    _fees("standard", validate_charge_properties("standard", {"amount": "1"}), state, [{"gb": 8}, {"gb": -6}])
    # Kept with the state (what the aggregate item stores), shown by the period's results
    restored = AggregationState.from_dict(state.to_dict())
    assert restored.peak == 8
    result = finalize(restored, JUNE, JULY)
    assert (result.units, result.paid_units) == (2, 8)
    # An opening state carries no peak; merged with it, the period's own state keeps its own
    assert open_next_period(restored).peak is None
    assert merge(open_next_period(new_state(STORAGE)), restored).peak == 8
    # States never folded in advance track none
    assert finalize(new_state(STORAGE), JUNE, JULY).paid_units is None
    assert "peak" not in new_state(STORAGE).to_dict()
    assert Decimal(8) == restored.peak
