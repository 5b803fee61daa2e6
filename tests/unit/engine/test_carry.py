"""Carried units (engine/carry): a bucket's periods chained, and what a subscription inherits from the one it
replaces after a plan change (lago-api reads a recurring metric's events by external subscription id)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lagoon.engine.aggregation_state import new_state
from lagoon.engine.carry import (
    ChargeBuckets,
    carried_out,
    filter_signature,
    handed_over,
    inherited_states,
    opening_state,
    state_for_period,
)
from lagoon.engine.folding import fold
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.period_units import finalize

SEATS = MetricDefinition("seats", "sum_agg", "seats", recurring=True)
USERS = MetricDefinition("users", "unique_count_agg", "user_id", recurring=True)
GB = MetricDefinition("gb", "sum_agg", "gb")
JAN, FEB, MAR, APR = "2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(hour=10, tzinfo=UTC)


def folded(metric: MetricDefinition, *events: tuple[str, str, dict[str, Any]]) -> Any:
    state = new_state(metric)
    for transaction_id, day, properties in events:
        fold(state, UsageEvent(transaction_id, moment(day), properties))
    return state


def units(state: Any, start: str, end: str) -> Decimal:
    return finalize(state, moment(start), moment(end)).units


def test_a_period_opens_with_what_its_earlier_periods_carry() -> None:
    # 3 seats in January, 2 more in March: February opens with 3, April with 5, January with nothing
    periods = [
        (MAR, folded(SEATS, ("tx_2", "2024-03-05", {"seats": 2}))),
        (JAN, folded(SEATS, ("tx_1", "2024-01-05", {"seats": 3}))),
    ]
    assert opening_state(periods, JAN) is None
    assert units(opening_state(periods, FEB), FEB, MAR) == 3
    assert units(opening_state(periods, APR), APR, "2024-05-01") == 5
    # March is its own events on top of the carried 3; February, without events, the carried 3
    assert units(state_for_period(periods, MAR), MAR, APR) == 5
    assert units(state_for_period(periods, FEB), FEB, MAR) == 3
    assert units(carried_out(periods), APR, "2024-05-01") == 5


def test_a_metered_metric_carries_nothing() -> None:
    periods = [(JAN, folded(GB, ("tx_1", "2024-01-05", {"gb": 3})))]
    assert units(opening_state(periods, FEB), FEB, MAR) == 0
    assert state_for_period(periods, FEB) is None


def test_a_subscription_opens_with_what_it_inherited() -> None:
    # 4 seats inherited, 1 of its own in February: 5; the inherited units carry on into March too
    inherited = carried_out([(JAN, folded(SEATS, ("tx_1", "2024-01-05", {"seats": 4})))])
    own = [(FEB, folded(SEATS, ("tx_2", "2024-02-05", {"seats": 1})))]
    assert units(state_for_period(own, FEB, inherited), FEB, MAR) == 5
    assert units(state_for_period(own, MAR, inherited), MAR, APR) == 5
    # Counted once: the inherited state is not changed by being chained
    assert units(inherited, FEB, MAR) == 4


def charge(
    charge_id: str,
    *filters: tuple[str, dict[str, list[str]] | None],
    metric: str = "m_seats",
    groups: tuple[str, ...] = (),
) -> ChargeBuckets:
    signatures = tuple((fid, None if values is None else filter_signature(values)) for fid, values in filters)
    return ChargeBuckets(charge_id, metric, signatures or (("-", None),), groups)


def test_buckets_are_handed_over_to_the_charge_with_the_same_metric_filters_and_groups() -> None:
    state_eu, state_us, state_default = (folded(SEATS, ("tx", "2024-01-05", {"seats": n})) for n in (1, 2, 3))
    carried = {
        ("old", "f_eu", '["a"]'): state_eu,
        ("old", "f_us", '["a"]'): state_us,
        ("old", "-", '["a"]'): state_default,
    }
    previous = [
        charge(
            "old", ("f_eu", {"region": ["eu"]}), ("f_us", {"region": ["us"]}), ("-", None), groups=("team",)
        )
    ]
    # The new charge lists the same filters in another order, with other ids
    following = [
        charge(
            "new", ("-", None), ("g_us", {"region": ["us"]}), ("g_eu", {"region": ["eu"]}), groups=("team",)
        ),
        charge("other_groups", ("-", None), ("h_eu", {"region": ["eu"]}), ("h_us", {"region": ["us"]})),
        charge(
            "other_metric",
            ("-", None),
            ("i_eu", {"region": ["eu"]}),
            ("i_us", {"region": ["us"]}),
            metric="m_gb",
            groups=("team",),
        ),
    ]
    assert handed_over(carried, previous, following) == {
        ("new", "g_eu", '["a"]'): state_eu,
        ("new", "g_us", '["a"]'): state_us,
        ("new", "-", '["a"]'): state_default,
    }


def test_a_subscription_inherits_through_two_plan_changes_once() -> None:
    # Users 1 and 2 on the first plan (user_2 removed before the change), user_3 on the second: the third
    # subscription starts with users 1 and 3
    first = {
        ("c1", "-", "-"): [
            (
                JAN,
                folded(
                    USERS,
                    ("tx_1", "2024-01-05", {"user_id": "u1"}),
                    ("tx_2", "2024-01-06", {"user_id": "u2"}),
                    ("tx_3", "2024-01-20", {"user_id": "u2", "operation_type": "remove"}),
                ),
            )
        ]
    }
    second = {("c2", "-", "-"): [(FEB, folded(USERS, ("tx_4", "2024-02-05", {"user_id": "u3"})))]}
    lineage = [([charge("c1")], first), ([charge("c2")], second)]
    inherited = inherited_states(lineage, [charge("c3")])
    assert list(inherited) == [("c3", "-", "-")]
    assert sorted(inherited[("c3", "-", "-")].unique_values) == ["u1", "u3"]
    assert units(inherited[("c3", "-", "-")], MAR, APR) == 2
    # A plan without a charge on the metric in between carries nothing on
    assert (
        inherited_states([([charge("c1")], first), ([charge("x", metric="m_other")], {})], [charge("c3")])
        == {}
    )
