"""Events that arrive while their subscription is pending wait for it: once it starts they count, once — as in
Lago, where an event belongs to the subscription whose life covers its timestamp, whenever it was sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.integration.ingestion.conftest import aggregates, charge, create_metric, create_plan, event
from tests.integration.invoicing.conftest import at, invoice, invoices_of, run_billing, subscribe_at


def _run_clock(time: str) -> Any:
    from lagoon.services.lifecycle import run_clock

    return run_clock(at(time))


def _totals(org_id: str, subscription_id: str) -> dict[str, Decimal]:
    return {a["period_from"]: Decimal(a["state"]["total"]) for a in aggregates(org_id, subscription_id)}


def _setup(api: Any) -> None:
    """A $1/GB metered plan in arrears ($31 a month) and a $1 plan with the same charge."""
    assert api.post("/customers", {"customer": {"external_id": "cus_1"}}).status == 200
    metric = create_metric(api, "storage")
    create_plan(api, "startup", charges=[charge(metric)], amount_cents=3100)
    create_plan(api, "tiny", charges=[charge(metric)], amount_cents=100)


def test_events_sent_while_pending_count_once_the_subscription_starts(api, org, gateway, stream):
    # Given a subscription created on January 10th that starts on the 20th
    _setup(api)
    pending = subscribe_at(org.id, "2024-01-10T00:00:00Z", subscription_at=at("2024-01-20T00:00:00Z"))

    # When events arrive while it is pending: one before its start, two after
    api.post(
        "/events/batch",
        {
            "events": [
                event("before", at="2024-01-15T12:00:00Z", gb=100),
                event("after-1", at="2024-01-22T12:00:00Z", gb=3),
                event("after-2", at="2024-01-25T12:00:00Z", gb=4),
            ]
        },
    )
    stream.drain()
    assert _totals(org.id, pending.lago_id) == {}

    # And the clock starts it (and runs again), and the stream is drained twice
    _run_clock("2024-01-20T00:05:00Z")
    _run_clock("2024-01-20T00:10:00Z")
    stream.drain()
    stream.drain()

    # Then the events after the start count, once; the one before it does not
    assert _totals(org.id, pending.lago_id) == {"2024-01-20T00:00:00Z": Decimal(7)}
    assert api.get("/events/after-1").json["event"]["lago_subscription_id"] == pending.lago_id
    assert api.get("/events/before").json["event"]["lago_subscription_id"] is None

    # And the period's invoice bills them: 12/31 of $31 and 7 GB
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (only,) = invoices_of(api)
    fees = {f["item"]["code"]: (f["amount_cents"], f["units"]) for f in invoice(api, only["lago_id"])["fees"]}
    assert fees == {"startup": (1200, "1"), "storage": (700, "7")}


def test_events_after_a_downgrade_date_count_on_the_plan_that_starts_then(api, org, gateway, stream):
    # Given startup since January 1st, downgraded on January 10th to tiny from February 1st
    _setup(api)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    subscribe_at(org.id, "2024-01-10T00:00:00Z", plan_code="tiny")

    # When an event of January and one of February arrive before the downgrade takes effect
    api.post(
        "/events/batch",
        {
            "events": [
                event("jan", at="2024-01-15T12:00:00Z", gb=2),
                event("feb", at="2024-02-03T12:00:00Z", gb=5),
            ]
        },
    )
    stream.drain()
    _run_clock("2024-02-01T00:05:00Z")
    stream.drain()

    # Then January's counts on startup (billed at the switch) and February's on tiny
    (first,) = invoices_of(api)
    fees = {f["item"]["code"]: f["amount_cents"] for f in invoice(api, first["lago_id"])["fees"]}
    assert first["issuing_date"] == "2024-02-01" and fees == {"startup": 3100, "storage": 200}
    tiny = api.get("/subscriptions/sub_1").json["subscription"]
    assert tiny["plan_code"] == "tiny"
    assert _totals(org.id, tiny["lago_id"]) == {"2024-02-01T00:00:00Z": Decimal(5)}
    run_billing(gateway, "2024-03-01T00:00:00Z")
    latest = max(invoices_of(api), key=lambda i: i["issuing_date"])
    fees = {f["item"]["code"]: f["amount_cents"] for f in invoice(api, latest["lago_id"])["fees"]}
    assert fees == {"tiny": 100, "storage": 500}


def test_events_waiting_for_a_canceled_downgrade_count_on_the_subscription_that_stays(api, org, stream):
    from lagoon.services import lifecycle

    # Given startup since January 1st with a downgrade to tiny pending for February 1st
    _setup(api)
    active = subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    subscribe_at(org.id, "2024-01-10T00:00:00Z", plan_code="tiny")
    api.post("/events", {"event": event("feb", at="2024-02-03T12:00:00Z", gb=5)})
    stream.drain()
    assert _totals(org.id, active.lago_id) == {}

    # When the downgrade is canceled
    lifecycle.terminate_subscription(org.id, "sub_1", status="pending", now=at("2024-01-12T00:00:00Z"))
    stream.drain()
    stream.drain()

    # Then the event counts on startup, which goes on into February
    assert _totals(org.id, active.lago_id) == {"2024-02-01T00:00:00Z": Decimal(5)}


def test_an_event_the_aggregator_read_as_pending_while_the_clock_started_it_still_counts(
    api, org, stream, monkeypatch
):
    from lagoon.ingestion.directory import Directory

    # Given a pending subscription, and an event after its start on the stream
    _setup(api)
    pending = subscribe_at(org.id, "2024-01-10T00:00:00Z", subscription_at=at("2024-01-20T00:00:00Z"))
    api.post("/events", {"event": event("racing", at="2024-01-22T12:00:00Z", gb=6)})

    # When the clock starts the subscription (and replays what waits for it) right after the aggregator read it
    # as pending, before the aggregator stored the event as waiting
    real = Directory.subscriptions
    reads: list[int] = []

    def read_then_start(self: Directory, pairs: Any) -> Any:
        found = real(self, pairs)
        if not reads:
            _run_clock("2024-01-20T00:05:00Z")
        reads.append(1)
        return found

    monkeypatch.setattr(Directory, "subscriptions", read_then_start)
    stream.drain()
    monkeypatch.setattr(Directory, "subscriptions", real)
    stream.drain()
    stream.drain()

    # Then the event counts, once
    assert _totals(org.id, pending.lago_id) == {"2024-01-20T00:00:00Z": Decimal(6)}


class Crash(Exception):
    pass


def test_a_batch_retried_after_its_subscription_started_counts_its_event_once(api, org, stream):
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from lagoon.data.usage_store import UsageStore
    from lagoon.ingestion.aggregator import Aggregator
    from lagoon.ingestion.kinesis import decode_kinesis_record

    # Given a pending subscription, and an event after its start on the stream
    _setup(api)
    pending = subscribe_at(org.id, "2024-01-10T00:00:00Z", subscription_at=at("2024-01-20T00:00:00Z"))
    api.post("/events", {"event": event("retried", at="2024-01-22T12:00:00Z", gb=6)})
    delivered = stream.pending()
    stream.mark_delivered(delivered)
    records = [decode_kinesis_record(KinesisStreamRecord(r)) for r in delivered]

    # When the aggregator stores it as waiting, then dies before the end of its batch
    def crash(count: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        Aggregator(UsageStore(after_write=crash)).apply(records)
    # And the clock starts the subscription (its replay finds the waiting event), then Lambda retries the batch
    _run_clock("2024-01-20T00:05:00Z")
    Aggregator(UsageStore()).apply(records)
    stream.drain()
    stream.drain()

    # Then the retry counts the event, and the replay does not count it again
    assert _totals(org.id, pending.lago_id) == {"2024-01-20T00:00:00Z": Decimal(6)}
