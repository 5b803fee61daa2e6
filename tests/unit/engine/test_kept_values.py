"""Large aggregates (issue 17): what a percentage charge's aggregate keeps of its values stays bounded
whatever the traffic — a clamped charge sums the fees of the transactions past its free allowance, and
values past `KEPT_VALUES_LIMIT` become running figures — with exact prices in the common cases, and an item
well under DynamoDB's 400 KB at the bound."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lagoon.engine.aggregation_state import KEEP_EVERY_EVENT_VALUE, AggregationState, new_state
from lagoon.engine.charge_models import percentage_clamp, percentage_keep
from lagoon.engine.charges import price_charge
from lagoon.engine.folding import fold, merge
from lagoon.engine.kept_values import KEPT_VALUES_LIMIT, Allowance, Walk
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.period_units import finalize, open_next_period
from lagoon.engine.properties import PercentageProperties, validate_charge_properties

PAYMENTS = MetricDefinition("payments", "sum_agg", "amount")
JUNE, JULY = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
EVENTS = 5 * KEPT_VALUES_LIMIT
DYNAMODB_ITEM_LIMIT = 400 * 1024


def _properties(**fields: Any) -> PercentageProperties:
    properties = validate_charge_properties("percentage", {"rate": "1.5", "fixed_amount": "0.1", **fields})
    assert isinstance(properties, PercentageProperties)
    return properties


def _payments(count: int, seed: int = 7) -> list[UsageEvent]:
    """`count` payments of 0.01 to 300.00, one a minute through June, in timestamp order."""
    draw = random.Random(seed)
    return [
        UsageEvent(
            f"tx_{index}", JUNE + timedelta(minutes=index), {"amount": f"{draw.randint(1, 30000) / 100}"}
        )
        for index in range(count)
    ]


def _reference_cents(properties: PercentageProperties, events: list[UsageEvent]) -> int:
    """The fee priced from every value in timestamp order (what a state keeping them all prices)."""
    state = new_state(PAYMENTS, keep_event_values=KEEP_EVERY_EVENT_VALUE)
    ordered = sorted(events, key=lambda e: e.timestamp)
    state.event_values = [
        (i, e.transaction_id, Decimal(e.properties["amount"])) for i, e in enumerate(ordered)
    ]
    state.events_count = len(ordered)
    state.total = sum((value for _, _, value in state.event_values), Decimal(0))
    return price_charge("percentage", properties, finalize(state, JUNE, JULY), "USD").amount_cents


def _fee_cents(properties: PercentageProperties, state: AggregationState) -> int:
    return price_charge("percentage", properties, finalize(state, JUNE, JULY), "USD").amount_cents


def test_a_clamped_charge_keeps_its_free_allowance_and_sums_the_other_fees_in_any_order() -> None:
    # Given 1.5 % + 0.10 a payment, at least 0.50 and at most 2.00, the first 3 free and 50.00 free
    properties = _properties(
        per_transaction_min_amount="0.5",
        per_transaction_max_amount="2",
        free_units_per_events=3,
        free_units_per_total_aggregation="50",
    )
    events = _payments(EVENTS)
    expected = _reference_cents(properties, events)
    # When 5,000 payments are folded in timestamp order, and (another state) in a random order
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    for order in (events, shuffled):
        state = new_state(PAYMENTS, keep=percentage_keep(properties))
        for event in order:
            fold(state, event)
        # Then the state keeps only the values the free allowance reads, the others as one sum of fees
        assert len(state.event_values) <= 3 and state.clamped_count >= EVENTS - 3
        # And it prices the same as every value kept, to the cent
        assert _fee_cents(properties, state) == expected
    # (the clamps matter: priced without them, from the totals alone, the fee would differ)
    totals_only = new_state(PAYMENTS)
    for event in events:
        fold(totals_only, event)
    assert expected == 801_577 != _fee_cents(properties, totals_only)


def test_an_allowance_over_tiny_values_keeps_running_figures_past_the_limit() -> None:
    # Given a percentage charge whose 1,000,000 free amount needs every one of 5,000 payments of 0.01 to 300
    properties = _properties(free_units_per_total_aggregation="1000000")
    events = _payments(EVENTS)
    state = new_state(PAYMENTS, keep=percentage_keep(properties))
    for event in events:
        fold(state, event)
    # Then the list stays at the limit, its earliest values as figures, and the price is exact
    assert len(state.event_values) <= KEPT_VALUES_LIMIT and state.values_head is not None
    assert state.values_head.count + len(state.event_values) == EVENTS
    assert _fee_cents(properties, state) == _reference_cents(properties, events)
    # As with the first 2,000 free transactions of a charge with many free events
    free_events = _properties(free_units_per_events=2_000, free_units_per_total_aggregation="150000")
    state = new_state(PAYMENTS, keep=percentage_keep(free_events))
    for event in events:
        fold(state, event)
    assert len(state.event_values) <= KEPT_VALUES_LIMIT
    assert _fee_cents(free_events, state) == _reference_cents(free_events, events)


def test_a_value_older_than_the_summarised_ones_counts_as_the_first_after_them() -> None:
    # The documented bound: past the limit, a late value older than the head is read right after it
    properties = _properties(free_units_per_total_aggregation="1000000")
    events = _payments(EVENTS)
    state = new_state(PAYMENTS, keep=percentage_keep(properties))
    for event in events[1:]:
        fold(state, event)
    fold(state, events[0])
    assert state.values_head is not None and state.values_head.count + len(state.event_values) == EVENTS
    # a free amount no payment reaches: every value is free either way, so the price stays exact
    assert _fee_cents(properties, state) == _reference_cents(properties, events)


def test_a_stored_state_that_kept_every_value_stops_at_the_limit_and_prices_with_the_totals() -> None:
    properties = _properties(per_transaction_max_amount="2")
    state = new_state(PAYMENTS, keep_event_values=KEEP_EVERY_EVENT_VALUE)
    for event in _payments(EVENTS):
        fold(state, event)
    assert len(state.event_values) == KEPT_VALUES_LIMIT
    # 1.5 % of the total + 0.10 a payment, without the clamp: never an error
    result = finalize(state, JUNE, JULY)
    total = result.units * Decimal("0.015") + EVENTS * Decimal("0.1")
    assert _fee_cents(properties, state) == int((total * 100).to_integral_value())


def test_kept_values_survive_storage_and_merging_with_the_opening_state() -> None:
    properties = _properties(per_transaction_min_amount="0.5", free_units_per_total_aggregation="100000")
    state = new_state(PAYMENTS, keep=percentage_keep(properties))
    for event in _payments(2 * KEPT_VALUES_LIMIT):
        fold(state, event)
    stored = AggregationState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert stored.to_dict() == state.to_dict()
    merged = merge(open_next_period(new_state(PAYMENTS, keep=percentage_keep(properties))), stored)
    assert _fee_cents(properties, merged) == _fee_cents(properties, state)
    assert merged.clamp == percentage_clamp(properties)


def test_an_aggregate_item_at_the_bound_stays_well_under_dynamodbs_limit() -> None:
    # Given the largest state the bound allows: a clamped charge whose prefix runs until a huge free amount,
    # KEPT_VALUES_LIMIT values of the most digits an event number has, with long transaction ids
    from lagoon.data.aggregates import AggregateKey, StoredAggregate, aggregate_write

    properties = _properties(
        per_transaction_max_amount="2", free_units_per_total_aggregation="9" * 20, free_units_per_events=10**9
    )
    state = new_state(PAYMENTS, keep=percentage_keep(properties))
    widest = "9" * 19 + "." + "9" * 26
    for index in range(3 * KEPT_VALUES_LIMIT):
        moment = JUNE + timedelta(seconds=index)
        fold(state, UsageEvent(f"{index:06d}" + "x" * 250, moment, {"amount": widest}))
    assert KEPT_VALUES_LIMIT * 0.9 <= len(state.event_values) <= KEPT_VALUES_LIMIT
    assert state.values_head is not None
    # When it is written as an aggregate item (100 shards' watermarks)
    key = AggregateKey(
        "o" * 36, "s" * 36, "2024-06-01T00:00:00Z", "c" * 36, "f" * 36, json.dumps(["g" * 200])
    )
    _, item = aggregate_write(
        key,
        StoredAggregate(state, {f"{shard:012d}": 10**56 for shard in range(100)}),
        billable_metric_id="m" * 36,
        period_to="2024-07-01T00:00:00Z",
        updated_at=JULY,
    )
    # Then the item (attribute names and values, as DynamoDB counts it) is under a third of the limit
    size = sum(len(name.encode()) + len(value["S"].encode()) for name, value in item.items())
    assert size < DYNAMODB_ITEM_LIMIT / 3, size


def test_the_walk_and_the_allowance_read_as_lago_api() -> None:
    # 10 free events or 500 free: 600 covers the last 300 of the free amount, then pays on 300
    clamp = percentage_clamp(_properties(per_transaction_max_amount="100"))
    walk = Walk(0, Decimal(500)).steps([Decimal(200), Decimal(600), Decimal(100)], clamp)
    assert (walk.events_left, walk.amount_left, walk.fees) == (0, 0, Decimal("4.6") + Decimal("1.6"))
    allowance = Allowance()
    for value in (Decimal(200), Decimal(600), Decimal(100)):
        allowance = allowance.step(value, 0, Decimal(500))
    assert (allowance.count, allowance.total, allowance.below_cap) == (2, 800, 1)


def test_an_opening_state_kept_otherwise_takes_the_period_states_keep() -> None:
    # A period's state under a clamped price, merged with an opening state of a state kept before (every
    # value): the opening holds no value, so the merged state still prices with the clamped fees
    properties = _properties(per_transaction_min_amount="0.5")
    state = new_state(PAYMENTS, keep=percentage_keep(properties))
    events = _payments(2 * KEPT_VALUES_LIMIT)
    for event in events:
        fold(state, event)
    opening = open_next_period(new_state(PAYMENTS, keep_event_values=KEEP_EVERY_EVENT_VALUE))
    for merged in (merge(opening, state), merge(state, opening)):
        assert merged.clamp == percentage_clamp(properties)
        assert _fee_cents(properties, merged) == _reference_cents(properties, events)
