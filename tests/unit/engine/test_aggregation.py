"""Aggregations (checklist §3.2-§3.5; lago-docs/13-billable-metrics.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from lagoon.engine.aggregation_state import KEEP_EVERY_EVENT_VALUE, AggregationState, new_state
from lagoon.engine.charge_filters import (
    ChargeFilterDefinition,
    group_key,
    invalid_filter_keys,
    matching_charge_filters,
)
from lagoon.engine.folding import fold, fold_events, merge
from lagoon.engine.metric_definitions import (
    MetricDefinition,
    MetricFilter,
    UsageEvent,
    aggregation_property_error,
)
from lagoon.engine.period_units import apply_rounding, finalize, open_next_period

JAN = datetime(2024, 1, 1, tzinfo=UTC)
FEB = datetime(2024, 2, 1, tzinfo=UTC)


def event(index: int, properties: dict[str, Any], at: datetime | None = None, **kwargs: Any) -> UsageEvent:
    return UsageEvent(f"tx-{index}", at or JAN + timedelta(hours=index), properties, **kwargs)


def units_of(
    metric: MetricDefinition, events: list[UsageEvent], start: datetime = JAN, end: datetime = FEB
) -> Decimal:
    state = fold_events(new_state(metric), events)
    return finalize(state, start, end, metric=metric).units


@pytest.mark.parametrize(
    ("metric", "values", "expected"),
    [
        pytest.param(MetricDefinition("api", "count_agg"), [1, 2, 3], Decimal(3), id="count"),
        pytest.param(MetricDefinition("gb", "sum_agg", "gb"), [1, "2.5", 3], Decimal("6.5"), id="sum"),
        pytest.param(MetricDefinition("gb", "max_agg", "gb"), [1, "7", 3], Decimal(7), id="max"),
        pytest.param(
            MetricDefinition("storage", "latest_agg", "gb"),
            [5, 7, 6],
            Decimal(6),
            id="latest-checklist-3.2-test-vector-5-7-6-gives-6",
        ),
        pytest.param(
            MetricDefinition("users", "unique_count_agg", "gb"), [1, "1", 2, 3, 3], Decimal(3), id="unique"
        ),
    ],
)
def test_aggregation_types(metric: MetricDefinition, values: list[Any], expected: Decimal) -> None:
    assert units_of(metric, [event(i, {"gb": v}) for i, v in enumerate(values)]) == expected


def test_latest_is_by_timestamp_not_arrival_order() -> None:
    metric = MetricDefinition("storage", "latest_agg", "gb")
    events = [event(0, {"gb": 5}), event(2, {"gb": 6}), event(1, {"gb": 7})]
    assert units_of(metric, events) == Decimal(6)


def test_missing_or_non_numeric_values_are_ignored_and_reported() -> None:
    metric = MetricDefinition("gb", "sum_agg", "gb")
    events = [event(0, {"gb": 2}), event(1, {}), event(2, {"gb": "abc"}), event(3, {"gb": None})]
    result = finalize(fold_events(new_state(metric), events), JAN, FEB)
    assert (result.units, result.events_count, result.ignored_events_count) == (Decimal(2), 1, 3)
    assert aggregation_property_error(metric, events[1]) == "missing_aggregation_property"
    assert aggregation_property_error(metric, events[2]) == "invalid_aggregation_property"
    assert aggregation_property_error(metric, events[0]) is None
    assert aggregation_property_error(MetricDefinition("c", "count_agg"), events[1]) is None


def test_count_needs_no_property_and_dynamic_amounts_are_summed() -> None:
    metric = MetricDefinition("api", "count_agg")
    events = [
        event(0, {}, precise_total_amount_cents=Decimal("12.5")),
        event(1, {}, precise_total_amount_cents=Decimal(3)),
    ]
    result = finalize(fold_events(new_state(metric), events), JAN, FEB)
    assert (result.units, result.precise_total_amount_cents) == (Decimal(2), Decimal("15.5"))


@pytest.mark.parametrize(
    ("function", "precision", "value", "expected"),
    [
        ("round", 2, "2.345", "2.35"),  # checklist §3.5 suggested vector
        ("round", -1, "1234", "1230"),  # checklist §3.5 suggested vector
        ("ceil", 0, "2.1", "3"),
        ("floor", 0, "2.9", "2"),
        ("ceil", 1, "2.01", "2.1"),
        (None, None, "2.345", "2.345"),
    ],
)
def test_rounding(function: str | None, precision: int | None, value: str, expected: str) -> None:
    assert apply_rounding(Decimal(value), function, precision) == Decimal(expected)


def test_rounding_applies_to_the_aggregated_units() -> None:
    metric = MetricDefinition("gb", "sum_agg", "gb", rounding_function="ceil", rounding_precision=0)
    assert units_of(metric, [event(0, {"gb": "0.2"}), event(1, {"gb": "0.3"})]) == Decimal(1)


def test_weighted_sum_is_the_time_weighted_level() -> None:
    # 10 GB for the first half of a 30-day period, 10 - 4 = 6 GB for the second half → 8 on average.
    metric = MetricDefinition("memory", "weighted_sum_agg", "gb", weighted_interval="seconds")
    start, end = datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)
    events = [event(0, {"gb": 10}, at=start), event(1, {"gb": -4}, at=start + timedelta(days=15))]
    state = fold_events(new_state(metric), events)
    assert finalize(state, start, end).units == Decimal(8)
    # A metered weighted sum starts the next period from zero (Lago: `initial_value` is 0 unless recurring).
    following = open_next_period(state)
    assert finalize(following, end, datetime(2024, 6, 1, tzinfo=UTC)).units == Decimal(0)
    # A recurring one opens at the carried level of 6 GB.
    recurring = MetricDefinition(
        "memory", "weighted_sum_agg", "gb", recurring=True, weighted_interval="seconds"
    )
    carried = open_next_period(fold_events(new_state(recurring), events))
    assert finalize(carried, end, datetime(2024, 6, 1, tzinfo=UTC)).units == Decimal(6)


def test_weighted_sum_units_are_ceiled_to_20_decimals_and_its_total_is_the_level() -> None:
    # lago-api's scenario (weighted_sum_agg_spec): a recurring weighted sum, +2500 on March 5th 2023 →
    # 2500 x 27/31 days = 2177.419354838709677419354…, which lago-api ceils to 20 decimals
    # (WeightedSumService: `value.ceil(20)`); its fee's total_aggregated_units is the level, 2500.
    metric = MetricDefinition("memory", "weighted_sum_agg", "gb", recurring=True, weighted_interval="seconds")
    march, april, may = (datetime(2023, month, 1, tzinfo=UTC) for month in (3, 4, 5))
    state = fold(new_state(metric), event(0, {"gb": 2500}, at=datetime(2023, 3, 5, tzinfo=UTC)))
    first = finalize(state, march, april, metric=metric)
    assert str(first.units) == "2177.41935483870967741936"
    assert first.total_aggregated_units == 2500
    # April: 2500 for 3 days, 500 for 2, then 300 → 16,000 / 30 = 533.3…34; total 300.
    carried = open_next_period(state)
    fold(carried, event(1, {"gb": -2000}, at=datetime(2023, 4, 4, tzinfo=UTC)))
    fold(carried, event(2, {"gb": -200}, at=datetime(2023, 4, 6, tzinfo=UTC)))
    second = finalize(carried, april, may, metric=metric)
    assert (str(second.units), second.total_aggregated_units) == ("533.33333333333333333334", 300)
    # Exact levels stay as they are.
    assert str(finalize(fold(new_state(metric), event(3, {"gb": 8}, at=march)), march, april).units) == "8"


def test_weighted_sum_of_a_partial_period_divides_by_the_whole_charges_interval() -> None:
    # lago-api's scenario (weighted_sum_agg_spec) as it runs: subscribed on March 5th 2023, so the first
    # charges period is March 5th - April 1st; +2500 that day. lago-api divides the level's seconds by the
    # whole month's (`charges_duration.days`): 2500 x 27/31, not 2500 over the 27 days the period lasts.
    metric = MetricDefinition("memory", "weighted_sum_agg", "gb", recurring=True, weighted_interval="seconds")
    fifth, april = datetime(2023, 3, 5, tzinfo=UTC), datetime(2023, 4, 1, tzinfo=UTC)
    state = fold(new_state(metric), event(0, {"gb": 2500}, at=fifth))
    first = finalize(state, fifth, april, metric=metric, period_days=31)
    assert (str(first.units), first.total_aggregated_units) == ("2177.41935483870967741936", 2500)
    # A period terminated on April 16th: 3100 held 15 of April's 30 days → 1550
    carried = fold(open_next_period(state), event(1, {"gb": 600}, at=april))
    terminated = finalize(carried, april, datetime(2023, 4, 16, tzinfo=UTC), metric=metric, period_days=30)
    assert (terminated.units, terminated.total_aggregated_units) == (1550, 3100)
    # Without `period_days`, the period's own local days
    assert finalize(state, fifth, april, metric=metric).units == 2500


def test_recurring_sum_carries_units_and_prorates_by_started_days() -> None:
    # Added September 15th → 16/30 (a started day counts). Removed October 22nd: Lago's prorated sum weighs
    # every value, the removal's -1 too, by (days from its day to the end + 1) → (31 - 10) / 31; ceiled
    # to 5 decimals as Lago does.
    metric = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
    sep, october, nov = (datetime(2024, m, 1, tzinfo=UTC) for m in (9, 10, 11))
    state = fold(new_state(metric), event(0, {"seats": 1}, at=datetime(2024, 9, 15, 10, tzinfo=UTC)))
    september = finalize(state, sep, october)
    assert september.units == 1
    assert september.prorated_units == Decimal("0.53334")
    following = fold(
        open_next_period(state), event(1, {"seats": -1}, at=datetime(2024, 10, 22, 9, tzinfo=UTC))
    )
    result = finalize(following, october, nov)
    assert result.units == 0
    assert result.prorated_units == Decimal("0.67742")


def test_recurring_unique_count_add_remove_and_proration() -> None:
    # Checklist §3.3 "Recurring count" test vector, with operation_type add/remove (OAS).
    metric = MetricDefinition("users", "unique_count_agg", "user_id", recurring=True)
    sep, october, nov = (datetime(2024, m, 1, tzinfo=UTC) for m in (9, 10, 11))
    state = fold(new_state(metric), event(0, {"user_id": "u1"}, at=datetime(2024, 9, 15, 8, tzinfo=UTC)))
    fold(state, event(1, {"user_id": "u2"}, at=datetime(2024, 9, 1, tzinfo=UTC)))
    september = finalize(state, sep, october)
    assert september.units == 2
    assert september.prorated_units == Decimal("1.53334")  # (30 + 16) / 30, ceiled to 5 decimals
    removal = {"user_id": "u1", "operation_type": "remove"}
    following = fold(open_next_period(state), event(2, removal, at=datetime(2024, 10, 22, 18, tzinfo=UTC)))
    result = finalize(following, october, nov)
    assert result.units == 1
    assert result.prorated_units == Decimal("1.70968")  # (22 + 31) / 31: the removal day counts


def test_metered_unique_count_has_no_proration() -> None:
    metric = MetricDefinition("users", "unique_count_agg", "user_id")
    result = finalize(fold(new_state(metric), event(0, {"user_id": "a"})), JAN, FEB)
    assert (result.units, result.prorated_units) == (1, None)


def test_metered_metrics_reset_each_period() -> None:
    metric = MetricDefinition("gb", "sum_agg", "gb")
    state = fold(new_state(metric), event(0, {"gb": 3}))
    assert finalize(open_next_period(state), FEB, datetime(2024, 3, 1, tzinfo=UTC)).units == 0


def test_proration_days_follow_the_billing_timezone() -> None:
    # 23:30 UTC on September 14th is already September 15th in Paris: 16 of 30 days.
    metric = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
    zone_start = datetime(2024, 8, 31, 22, tzinfo=UTC)
    zone_end = datetime(2024, 9, 30, 22, tzinfo=UTC)
    state = new_state(metric, timezone="Europe/Paris")
    fold(state, event(0, {"seats": 1}, at=datetime(2024, 9, 14, 23, 30, tzinfo=UTC)))
    assert finalize(state, zone_start, zone_end).prorated_units == Decimal("0.53334")


def test_event_values_keep_only_the_earliest_when_bounded() -> None:
    metric = MetricDefinition("payments", "sum_agg", "amount")
    state = new_state(metric, keep_event_values=2)
    for index, value in [(3, 30), (1, 10), (2, 20), (0, 5)]:
        fold(state, event(index, {"amount": value}))
    assert finalize(state, JAN, FEB).event_values == (Decimal(5), Decimal(10))
    every = fold_events(
        new_state(metric, keep_event_values=KEEP_EVERY_EVENT_VALUE),
        [event(i, {"amount": i}) for i in range(5)],
    )
    assert len(finalize(every, JAN, FEB).event_values) == 5


def test_event_values_until_a_total_keep_the_earliest_up_to_the_first_past_it() -> None:
    # What a percentage charge with only `free_units_per_total_aggregation` reads (lago-api
    # SumService#running_total_per_aggregation): the values in time order until their total passes the cap.
    metric = MetricDefinition("payments", "sum_agg", "amount")
    state = new_state(metric, keep_values_until=Decimal(250))
    for index, value in [(4, 500), (2, 100), (3, 100), (1, 100), (5, 7)]:
        fold(state, event(index, {"amount": value}))
    assert finalize(state, JAN, FEB).event_values == (Decimal(100), Decimal(100), Decimal(100))
    # Merging partial states keeps the same prefix, and the state survives its JSON form.
    halves = merge(
        fold_events(new_state(metric, keep_values_until=Decimal(250)), [event(4, {"amount": 500})]),
        fold_events(
            new_state(metric, keep_values_until=Decimal(250)),
            [event(i, {"amount": v}) for i, v in [(2, 100), (3, 100), (1, 100), (5, 7)]],
        ),
    )
    assert halves.event_values == state.event_values
    assert AggregationState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    # Counted units need no values: their running totals are 1, 2, … (lago-api CountService).
    assert finalize(new_state(MetricDefinition("calls", "count_agg")), JAN, FEB).unit_running_totals


@pytest.mark.parametrize(
    "aggregation_type",
    ["count_agg", "sum_agg", "max_agg", "latest_agg", "weighted_sum_agg", "unique_count_agg"],
)
def test_state_survives_a_json_round_trip(aggregation_type: str) -> None:
    metric = MetricDefinition(
        "m", aggregation_type, None if aggregation_type == "count_agg" else "v", recurring=True
    )
    state = fold_events(new_state(metric, keep_event_values=3), [event(i, {"v": str(i)}) for i in range(4)])
    restored = AggregationState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert finalize(restored, JAN, FEB) == finalize(state, JAN, FEB)


def test_merge_refuses_different_aggregations() -> None:
    with pytest.raises(ValueError):
        merge(new_state(MetricDefinition("a", "count_agg")), new_state(MetricDefinition("b", "sum_agg", "v")))


def test_metric_definition_is_checked() -> None:
    with pytest.raises(ValueError):
        MetricDefinition("a", "sum_agg")
    with pytest.raises(ValueError):
        MetricDefinition("a", "custom_agg", "v")
    with pytest.raises(ValueError):
        MetricDefinition("a", "sum_agg", "v", rounding_function="truncate")


CLOUD_FILTERS = [
    ChargeFilterDefinition(values={"cloud": ["aws"]}),
    ChargeFilterDefinition(values={"cloud": ["aws"], "region": ["us-east-1"]}),
    ChargeFilterDefinition(values={"cloud": ["gcp"]}),
]


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        pytest.param({"cloud": "aws", "region": "us-east-1"}, (1,), id="most-specific-filter-wins"),
        pytest.param({"cloud": "aws", "region": "eu-west-1"}, (0,), id="less-specific-filter"),
        pytest.param({"cloud": "gcp"}, (2,), id="other-filter"),
        pytest.param({"cloud": "azure"}, (), id="no-match-goes-to-default-properties"),
        pytest.param({}, (), id="no-properties-goes-to-default"),
    ],
)
def test_charge_filter_matching(properties: dict[str, str], expected: tuple[int, ...]) -> None:
    # Checklist §3.4: filters {values: {cloud: ["aws"], region: ["us-east-1"]}}; default for the rest.
    assert matching_charge_filters(properties, CLOUD_FILTERS) == expected


def test_invalid_filter_values_and_group_keys() -> None:
    metric = MetricDefinition(
        "s", "sum_agg", "gb", filters=(MetricFilter("region", ("us-east-1", "eu-west-1")),)
    )
    assert invalid_filter_keys(metric, {"region": "mars"}) == ("region",)
    assert invalid_filter_keys(metric, {"region": "eu-west-1"}) == ()
    assert group_key({"agent_name": "frodo", "n": 3}, ["agent_name", "n", "missing"]) == ("frodo", "3", None)
