"""Pay-in-advance charges on recurring metrics price each event against everything the subscription carries,
not only the period's own events (lago-api `Fees::CreatePayInAdvanceService`: the aggregation of a recurring
metric is read without the period's lower bound, `UniqueCountService#compute_pay_in_advance_aggregation` checks
the whole history for an active value, `ApplyPayInAdvanceChargeModelService` prices the event's units on top
of the cumulative units)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe
from tests.integration.usage.conftest import at, send


def _fees(organization_id: str) -> list[tuple[str, int, str]]:
    """(transaction, amount_cents, units) of the event fees, by transaction id."""
    from lagoon.data import entities

    fees = sorted(entities.query(organization_id, "fee"), key=lambda f: f["event_transaction_id"])
    return [(f["event_transaction_id"], f["amount_cents"], f["units"]) for f in fees]


def _seat(transaction_id: str, day: str, user: str, **properties: Any) -> dict[str, Any]:
    return event(transaction_id, code="seats", at=f"{day}T10:00:00Z", item_id=user, **properties)


@pytest.mark.parametrize(("prorated", "february_seat_cents"), [(False, 3000), (True, 2586)])
def test_adding_a_seat_carried_from_an_earlier_period_bills_nothing(
    api, org, stream, prorated, february_seat_cents
):
    # Given a recurring unique count of seats, 30 a seat paid in advance, a plan started January 1st
    metric = create_metric(
        api, "seats", aggregation_type="unique_count_agg", field_name="item_id", recurring=True
    )
    fields = {
        "pay_in_advance": True,
        "invoiceable": False,
        "prorated": prorated,
        "properties": {"amount": "30"},
    }
    create_plan(api, charges=[charge(metric, **fields)])
    subscribe(api)
    # And in January user_1 added on the 1st; user_2 added on the 1st and removed on the 20th
    send(
        api,
        stream,
        _seat("tx_1", "2024-01-01", "user_1"),
        _seat("tx_2", "2024-01-01", "user_2"),
        _seat("tx_3", "2024-01-20", "user_2", operation_type="remove"),
    )
    # When February 5th adds user_1 (still active: carried into February), user_2 (removed) and user_3
    send(
        api,
        stream,
        _seat("tx_4", "2024-02-05", "user_1"),
        _seat("tx_5", "2024-02-05", "user_2"),
        _seat("tx_6", "2024-02-05", "user_3"),
    )
    # Then user_1 is not billed again; user_2 and user_3 are (prorated: 30 x 25/29 = 25.86)
    assert _fees(org.id)[3:] == [
        ("tx_4", 0, "0"),
        ("tx_5", february_seat_cents, "1"),
        ("tx_6", february_seat_cents, "1"),
    ]


GRADUATED = [
    {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
    {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
]
GRADUATED_PERCENTAGE = [
    {"from_value": 0, "to_value": 1000, "rate": "1", "flat_amount": "0"},
    {"from_value": 1001, "to_value": None, "rate": "0.5", "flat_amount": "0"},
]


@pytest.mark.parametrize(
    ("model", "properties", "values", "cents"),
    [
        # 8 in January: 8.00; 5 more in February climb from 8 to 13: 2 x 1 + 3 x 0.5 = 3.50 (from zero: 5.00)
        ("graduated", {"graduated_ranges": GRADUATED}, (8, 5), (800, 350)),
        # The 9th unit stays in the package of 10 paid in January (from zero: a new package, 10.00)
        ("package", {"amount": "10", "package_size": 10, "free_units": 0}, (8, 1), (1000, 0)),
        # 800 at 1 %; 500 more: 200 at 1 % and 300 at 0.5 % = 3.50 (from zero: 5.00)
        (
            "graduated_percentage",
            {"graduated_percentage_ranges": GRADUATED_PERCENTAGE},
            (800, 500),
            (800, 350),
        ),
    ],
)
def test_a_tiered_charge_prices_a_new_period_s_increment_from_the_carried_level(
    api, org, stream, model, properties, values, cents
):
    # Given a recurring sum, paid in advance on a tiered charge (not prorated; volume cannot be paid in advance),
    # a plan started January 1st
    metric = create_metric(api, recurring=True)
    fields = {"charge_model": model, "pay_in_advance": True, "invoiceable": False, "properties": properties}
    create_plan(api, charges=[charge(metric, **fields)])
    subscribe(api)
    january, february = values
    # When January brings `january` units, then February `february` more
    send(api, stream, event("tx_1", gb=january, at="2024-01-10T10:00:00Z"))
    send(api, stream, event("tx_2", gb=february, at="2024-02-05T10:00:00Z"))
    # Then February's event is priced on top of the units January carried
    assert [(tx, amount) for tx, amount, _ in _fees(org.id)] == [("tx_1", cents[0]), ("tx_2", cents[1])]


def test_a_late_event_of_the_previous_period_moves_the_level_the_next_one_climbs_from(api, org, stream):
    # Given the graduated recurring sum paid in advance, 8 units in January
    metric = create_metric(api, recurring=True)
    fields = {"charge_model": "graduated", "pay_in_advance": True, "invoiceable": False}
    create_plan(api, charges=[charge(metric, properties={"graduated_ranges": GRADUATED}, **fields)])
    subscribe(api)
    send(api, stream, event("tx_1", gb=8, at="2024-01-10T10:00:00Z"))
    # When one batch brings 2 more January units (late) and 4 February ones
    send(
        api,
        stream,
        event("tx_2", gb=2, at="2024-01-30T10:00:00Z"),
        event("tx_3", gb=4, at="2024-02-05T10:00:00Z"),
    )
    # Then January's late units complete the first tier (2.00), and February's 4 are all in the second (2.00)
    assert [(tx, amount) for tx, amount, _ in _fees(org.id)] == [("tx_1", 800), ("tx_2", 200), ("tx_3", 200)]


class Crash(Exception):
    pass


def test_a_replay_after_a_lost_write_prices_each_event_once(api, org, stream):
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from lagoon.data.usage_store import UsageStore
    from lagoon.ingestion.aggregator import Aggregator
    from lagoon.ingestion.kinesis import decode_kinesis_record
    from lagoon.services.invoicing.in_advance_fees import record_in_advance_fees
    from lagoon.services.usage.current import subscription_usage

    # Given the graduated recurring sum paid in advance, 8 units in January
    metric = create_metric(api, recurring=True)
    fields = {"charge_model": "graduated", "pay_in_advance": True, "invoiceable": False}
    create_plan(api, charges=[charge(metric, properties={"graduated_ranges": GRADUATED}, **fields)])
    subscription = subscribe(api)
    send(api, stream, event("tx_1", gb=8, at="2024-01-10T10:00:00Z"))
    # And a batch of a late January event (2 units) and a February one (4) on the stream
    late = [event("tx_2", gb=2, at="2024-01-30T10:00:00Z"), event("tx_3", gb=4, at="2024-02-05T10:00:00Z")]
    assert api.post("/events/batch", {"events": late}).status == 200
    records = [decode_kinesis_record(KinesisStreamRecord(r)) for r in stream.pending()]

    class LosingFebruary(UsageStore):
        """Writes all but February's aggregate, then the process dies."""

        def batch_write(self, items):
            super().batch_write(
                [(table, item) for table, item in items if not item["sk"]["S"].startswith("2024-02")]
            )
            raise Crash

    # When the aggregator loses February's aggregate and dies, and the batch is replayed twice
    with pytest.raises(Crash):
        Aggregator(LosingFebruary(), in_advance_hooks=[record_in_advance_fees]).apply(records)
    for _ in range(2):
        Aggregator(UsageStore(), in_advance_hooks=[record_in_advance_fees]).apply(records)

    # Then each event has one fee, priced on the units before it: 8.00, 2.00 (8 → 10), 2.00 (10 → 14)
    assert [(tx, amount) for tx, amount, _ in _fees(org.id)] == [("tx_1", 800), ("tx_2", 200), ("tx_3", 200)]
    # And February counts the 14 units once
    from lagoon.data.subscriptions import get_subscription_by_id

    stored = get_subscription_by_id(org.id, subscription["lago_id"])
    [february] = subscription_usage(org.id, stored, at=at("2024-02-10T00:00:00Z")).charges
    assert (february.units, february.events_count) == (14, 3)
