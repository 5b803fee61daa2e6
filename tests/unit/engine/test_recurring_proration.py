"""Recurring metrics across periods (issue 17): prorated units divided by the days of the whole charges
interval, also in a first or last partial period (lago-api `ProratedAggregations::*`, `charges_duration`), and
the events count of a recurring sum since the subscription started (lago-api `Aggregations::SumService`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.charges import price_charge, price_in_advance_event
from lagoon.engine.folding import fold, merge
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.period_units import finalize, open_next_period
from lagoon.engine.periods import SubscriptionTerms, billing_period_containing, charges_period_days
from lagoon.engine.properties import validate_charge_properties

SEATS = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
USERS = MetricDefinition("users", "unique_count_agg", "user_id", recurring=True)
STANDARD_31 = validate_charge_properties("standard", {"amount": "31"})
JAN_7, FEB_1 = datetime(2024, 1, 7, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)


def at(day: int, month: int = 1, hour: int = 10) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def event(name: str, moment: datetime, **properties: Any) -> UsageEvent:
    return UsageEvent(name, moment, properties)


def test_a_first_partial_period_divides_by_the_days_of_the_whole_month() -> None:
    # Given a monthly calendar plan started January 7th (25 of January's 31 days), one seat added on the 7th
    # and one on the 15th, at 31 per seat and month
    state = new_state(SEATS)
    fold(state, event("tx_1", at(7), seats=1))
    fold(state, event("tx_2", at(15), seats=1))
    # When the period's units are finalized against the whole month
    result = finalize(state, JAN_7, FEB_1, period_days=31)
    # Then the seats count 25/31 and 17/31 (Lago: 42.00, where dividing by the 25 active days gave 52.08)
    assert (result.units, result.prorated_units) == (Decimal(2), Decimal("1.35484"))
    fee = price_charge("standard", STANDARD_31, result, "EUR", prorated=True)
    assert fee.amount_cents == 4200


def test_a_first_partial_period_of_a_unique_count_divides_by_the_whole_month() -> None:
    state = new_state(USERS)
    fold(state, event("tx_1", at(7), user_id="u1"))
    fold(state, event("tx_2", at(15), user_id="u2"))
    result = finalize(state, JAN_7, FEB_1, period_days=31)
    # (25 + 17) / 31 = 1.354838… ceiled to 5 decimals
    assert (result.units, result.prorated_units) == (Decimal(2), Decimal("1.35484"))
    assert price_charge("standard", STANDARD_31, result, "EUR", prorated=True).amount_cents == 4200


def test_a_pay_in_advance_increment_in_a_first_partial_period_counts_its_days_of_the_whole_month() -> None:
    # A seat added on January 7th, the subscription's first day: 25 of 31 days → 25.00, not 31.00
    state = new_state(SEATS)
    before = finalize(state, JAN_7, FEB_1, period_days=31)
    after = finalize(fold(state, event("tx_1", at(7), seats=1)), JAN_7, FEB_1, period_days=31)
    fee = price_in_advance_event("standard", STANDARD_31, before, after, "EUR", prorated=True)
    assert fee.amount_cents == 2500


def test_a_terminated_period_bills_the_carried_units_for_the_days_it_lasted() -> None:
    # lago-api recurring_fees_spec: 5 seats carried into July, terminated on July 15th: 5 x 30 x 15/31 = 72.58
    june = new_state(SEATS)
    for index in range(5):
        fold(june, event(f"tx_{index}", at(11 + index, month=6), seats=1))
    july = open_next_period(june)
    july_1, terminated = datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 15, 1, 10, tzinfo=UTC)
    result = finalize(july, july_1, terminated, period_days=31)
    assert result.prorated_units == Decimal("2.41936")  # 75/31 ceiled to 5 decimals
    standard_30 = validate_charge_properties("standard", {"amount": "30"})
    assert price_charge("standard", standard_30, result, "EUR", prorated=True).amount_cents == 7258


def test_a_terminated_unique_count_bills_each_carried_value_for_the_days_it_lasted() -> None:
    june = new_state(USERS)
    for index in range(5):
        fold(june, event(f"tx_{index}", at(11 + index, month=6), user_id=f"user_{index}"))
    july_1, terminated = datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 15, 1, 10, tzinfo=UTC)
    result = finalize(open_next_period(june), july_1, terminated, period_days=31)
    standard_30 = validate_charge_properties("standard", {"amount": "30"})
    assert price_charge("standard", standard_30, result, "EUR", prorated=True).amount_cents == 7258


def test_prorated_graduated_steps_divide_by_the_whole_month_in_a_terminated_period() -> None:
    # 10 seats carried into July, terminated on July 15th (15 of 31 days): the carried step counts 15/31
    # (Lago: recurring value x persisted_pro_rata), priced in tier 1 → 10 x 15/31 = 4.83871 → 4.84.
    june = fold(new_state(SEATS), event("tx_1", at(3, month=6), seats=10))
    july_1, terminated = datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 15, 1, tzinfo=UTC)
    result = finalize(open_next_period(june), july_1, terminated, period_days=31)
    graduated = validate_charge_properties(
        "graduated",
        {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
            ]
        },
    )
    assert price_charge("graduated", graduated, result, "EUR", prorated=True).amount_cents == 484


def test_the_whole_charges_interval_gives_the_days_to_divide_by() -> None:
    # The first period of a calendar plan started January 7th: January's 31 days
    calendar = SubscriptionTerms("monthly", JAN_7)
    assert charges_period_days(calendar, JAN_7) == 31
    # An anniversary month from February 10th to March 10th of a leap year: 29 days
    anniversary = SubscriptionTerms("monthly", datetime(2024, 1, 10, tzinfo=UTC), billing_time="anniversary")
    assert charges_period_days(anniversary, at(20, month=2)) == 29
    # A yearly plan billing its charges monthly prorates charges on the month, not on the year
    yearly = SubscriptionTerms("yearly", JAN_7, bill_charges_monthly=True)
    assert charges_period_days(yearly, at(20, month=2)) == 29
    assert charges_period_days(SubscriptionTerms("yearly", JAN_7), at(20, month=2)) == 366
    # A terminated period still divides by its whole month
    ended = SubscriptionTerms("monthly", JAN_7, terminated_at=at(15, month=3))
    assert billing_period_containing(ended, at(2, month=3)).charges_to_datetime == at(15, month=3)
    assert charges_period_days(ended, at(2, month=3)) == 31


def test_a_recurring_sum_counts_its_events_since_the_subscription_started() -> None:
    # Two events in January, one in February: February's usage counts 3 events (lago-api reads a recurring
    # sum's events without the period's lower bound), and March, without events, still 3.
    january = fold(new_state(SEATS), event("tx_1", at(10), seats=2))
    fold(january, event("tx_2", at(12), seats=1))
    february_delta = fold(new_state(SEATS), event("tx_3", at(3, month=2), seats=1))
    february = merge(open_next_period(january), february_delta)
    mar_1, apr_1 = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    assert (finalize(february, FEB_1, mar_1).units, finalize(february, FEB_1, mar_1).events_count) == (4, 3)
    march = open_next_period(february)
    assert (finalize(march, mar_1, apr_1).units, finalize(march, mar_1, apr_1).events_count) == (4, 3)
    # The count survives the state's JSON form (the estimate copies a chained state that way)
    assert finalize(AggregationState.from_dict(march.to_dict()), mar_1, apr_1).events_count == 3
    # A period's own aggregate (opened at zero) keeps its JSON form unchanged
    assert "opening_events_count" not in february_delta.to_dict()


def test_metered_sums_and_other_recurring_metrics_count_the_period_s_events() -> None:
    metered = MetricDefinition("gb", "sum_agg", "gb")
    january = fold(new_state(metered), event("tx_1", at(10), gb=2))
    february = merge(open_next_period(january), fold(new_state(metered), event("tx_2", at(3, 2), gb=1)))
    assert finalize(february, FEB_1, datetime(2024, 3, 1, tzinfo=UTC)).events_count == 1
    # A recurring weighted sum counts the period's events (lago-api `WeightedSumService`)
    weighted = MetricDefinition("memory", "weighted_sum_agg", "gb", recurring=True)
    january = fold(new_state(weighted), event("tx_1", at(10), gb=2))
    february = open_next_period(january)
    assert finalize(february, FEB_1, datetime(2024, 3, 1, tzinfo=UTC)).events_count == 0
