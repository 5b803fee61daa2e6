"""Pay-in-advance charges: each event is priced as the aggregator folds it — one fee (kind `fee`) and one
`fee.created` webhook per event, exactly once under redelivery and crashes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract import assert_matches_contract, defer_contract_check
from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, outbox, subscribe
from tests.integration.usage.conftest import send


def _fees(organization_id: str) -> list[dict[str, Any]]:
    from lagoon.data import entities

    return sorted(entities.query(organization_id, "fee"), key=lambda f: f["event_transaction_id"])


def _invoice(api, lago_id: str) -> dict[str, Any]:
    response = api.get(f"/invoices/{lago_id}")
    assert response.status == 200, response.body
    defer_contract_check("/invoices/{lago_id}", "get", 200, response.json)
    return response.json["invoice"]  # type: ignore[no-any-return]


def _graduated_in_advance(api, **fields: Any) -> dict[str, Any]:
    metric = create_metric(api)
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    plan = create_plan(
        api,
        charges=[
            charge(
                metric,
                charge_model="graduated",
                pay_in_advance=True,
                properties={"graduated_ranges": ranges},
                **fields,
            )
        ],
    )
    subscribe(api)
    return plan


def test_each_event_gets_its_increment_as_a_fee_with_a_webhook(api, org, stream):
    # Given a graduated pay-in-advance charge: 1 per gb up to 10, then 0.5
    plan = _graduated_in_advance(api)
    # When 6 gb then 8 gb arrive
    send(api, stream, event("tx_1", gb=6), event("tx_2", gb=8))
    # Then the first costs 6.00, the second 4 x 1 + 4 x 0.5 = 6.00
    fees = _fees(org.id)
    assert [(f["event_transaction_id"], f["amount_cents"], f["units"]) for f in fees] == [
        ("tx_1", 600, "6"),
        ("tx_2", 600, "8"),
    ]
    fee = fees[1]
    assert fee["pay_in_advance"] is True and fee["invoiceable"] is True
    assert fee["lago_charge_id"] == plan["charges"][0]["lago_id"]
    assert fee["external_subscription_id"] == "sub_1" and fee["external_customer_id"] == "cus_1"
    assert fee["from_date"] == "2024-01-01T00:00:00Z" and fee["to_date"] == "2024-01-31T23:59:59Z"
    assert fee["item"]["code"] == "storage" and fee["item"]["type"] == "charge"
    # And each fee went out once as fee.created, shaped as the contract's webhook, pointing at its invoice
    messages = outbox("fee.created")
    assert sorted(m["payload"]["lago_id"] for m in messages) == sorted(f["lago_id"] for f in fees)
    assert {m["payload"]["lago_invoice_id"] for m in messages} == {f["lago_invoice_id"] for f in fees}
    # And each fee was billed at once on an instant invoice of its own, finalized and numbered
    bodies = [_invoice(api, f["lago_invoice_id"]) for f in fees]
    assert [(b["status"], b["payment_status"], b["invoice_type"]) for b in bodies] == [
        ("finalized", "pending", "subscription")
    ] * 2
    assert [(b["fees_amount_cents"], b["taxes_amount_cents"], b["total_amount_cents"]) for b in bodies] == [
        (600, 0, 600),
        (600, 0, 600),
    ]
    assert [b["sequential_id"] for b in bodies] == [1, 2]
    assert bodies[0]["number"] != bodies[1]["number"] and "DRAFT" not in bodies[0]["number"]
    assert [[f["lago_id"] for f in b["fees"]] for b in bodies] == [[f["lago_id"]] for f in fees]
    assert bodies[0]["issuing_date"] == "2024-01-15"
    assert [p["invoicing_reason"] for p in bodies[0]["billing_periods"]] == ["in_advance_charge"]
    assert [s["external_id"] for s in bodies[0]["subscriptions"]] == ["sub_1"]
    created = outbox("invoice.created")
    assert sorted(m["payload"]["lago_id"] for m in created) == sorted(b["lago_id"] for b in bodies)
    # And an invoiced fee can no longer be changed
    assert api.delete(f"/fees/{fees[0]['lago_id']}").status == 405
    # And each fee is shaped as the contract's fee
    for fee in fees:
        assert_matches_contract("/fees/{lago_id}", "get", 200, {"fee": fee})


def test_invoiceable_false_records_the_fee_only(api, org, stream):
    _graduated_in_advance(api, invoiceable=False)
    send(api, stream, event("tx_1", gb=3))
    [fee] = _fees(org.id)
    assert (fee["amount_cents"], fee["invoiceable"], fee["lago_invoice_id"]) == (300, False, None)
    assert len(outbox("fee.created")) == 1
    assert outbox("invoice.created") == []


def test_a_redelivered_batch_creates_no_new_fee(api, org, stream):
    # Given the fees of two events
    _graduated_in_advance(api)
    send(api, stream, event("tx_1", gb=6), event("tx_2", gb=8))
    assert stream.pending() == []
    stream.positions.clear()  # replay what was delivered
    delivered = stream.pending()
    before = [(f["lago_id"], f["amount_cents"]) for f in _fees(org.id)]
    # When the whole batch is delivered again (Lambda retries it)
    stream.deliver(delivered)
    # Then fees, amounts and webhooks are unchanged
    assert [(f["lago_id"], f["amount_cents"]) for f in _fees(org.id)] == before
    assert len(outbox("fee.created")) == 2
    # And no second invoice was made: still the two numbered ones
    listed = api.get("/invoices").json["invoices"]
    assert sorted(i["sequential_id"] for i in listed) == [1, 2]
    assert len(outbox("invoice.created")) == 2


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash", ["inside the fee hook", "after the aggregates are written"])
def test_a_crash_then_a_replay_prices_each_event_once(api, org, stream, crash):
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from lagoon.data.usage_store import UsageStore
    from lagoon.ingestion.aggregator import Aggregator
    from lagoon.ingestion.kinesis import decode_kinesis_record
    from lagoon.services.invoicing.in_advance_fees import record_in_advance_fees

    # Given three events of a pay-in-advance charge on the stream
    _graduated_in_advance(api)
    events = [event("tx_1", gb=6), event("tx_2", gb=8), event("tx_3", gb=2)]
    assert api.post("/events/batch", {"events": events}).status == 200
    records = [decode_kinesis_record(KinesisStreamRecord(r)) for r in stream.pending()]

    def first_fee_then_crash(folds):
        record_in_advance_fees(folds[:1])
        raise Crash

    def crash_after_write(count: int) -> None:
        raise Crash

    hooks = [record_in_advance_fees]  # as functions/aggregator wires it

    # When the aggregator dies (with one fee written, or with everything written) and the batch is replayed
    with pytest.raises(Crash):
        if crash == "inside the fee hook":
            Aggregator(UsageStore(), in_advance_hooks=[first_fee_then_crash]).apply(records)
        else:
            Aggregator(UsageStore(after_write=crash_after_write), in_advance_hooks=hooks).apply(records)
    Aggregator(UsageStore(), in_advance_hooks=hooks).apply(records)
    Aggregator(UsageStore(), in_advance_hooks=hooks).apply(records)
    # Then each event has exactly one fee, priced from the state before it: 6.00, 6.00 (4 + 2 x 0.5), 1.00
    fees = _fees(org.id)
    assert [(f["event_transaction_id"], f["amount_cents"]) for f in fees] == [
        ("tx_1", 600),
        ("tx_2", 600),
        ("tx_3", 100),
    ]
    assert len(outbox("fee.created")) == 3
    # And each was invoiced once, the numbers gapless
    listed = api.get("/invoices").json["invoices"]
    assert sorted((i["sequential_id"], i["total_amount_cents"]) for i in listed) == [
        (1, 600),
        (2, 600),
        (3, 100),
    ]
    assert len(outbox("invoice.created")) == 3


def test_in_arrears_charges_create_no_fee(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    send(api, stream, event("tx_1", gb=3))
    assert _fees(org.id) == []
    assert outbox("fee.created") == []


def test_a_prorated_recurring_charge_prices_the_days_left_in_the_period(api, org, stream):
    # Given a recurring sum metric on a prorated standard pay-in-advance charge: 31 per gb per January
    metric = create_metric(api, recurring=True)
    create_plan(
        api,
        charges=[charge(metric, pay_in_advance=True, prorated=True, properties={"amount": "31"})],
    )
    subscribe(api)
    # When 2 gb arrive on January 15 (17 days left, the 15th included)
    send(api, stream, event("tx_1", gb=2, at="2024-01-15T12:00:00Z"))
    # Then the fee is 2 x 31 x 17/31 = 34.00, not the full month's 62.00
    [fee] = _fees(org.id)
    assert (fee["amount_cents"], fee["units"], fee["event_transaction_id"]) == (3400, "2", "tx_1")


def test_a_sum_that_went_down_pays_again_only_above_its_highest_level(api, org, stream):
    # Given the graduated pay-in-advance charge: 1 per gb up to 10, then 0.5
    _graduated_in_advance(api)
    # When 12 gb arrive, 7 go, then 4 and 5 come back in later batches
    send(api, stream, event("tx_1", gb=12, at="2024-01-10T12:00:00Z"))
    send(api, stream, event("tx_2", gb=-7, at="2024-01-11T12:00:00Z"))
    send(api, stream, event("tx_3", gb=4, at="2024-01-12T12:00:00Z"))
    send(api, stream, event("tx_4", gb=5, at="2024-01-13T12:00:00Z"))
    # Then the first pays 10 + 2 x 0.5 = 11.00; back to 9 gb, below the 12 reached, is paid already; 14 gb
    # pays only the 2 above 12 (1.00), as lago-api's `max_aggregation` — not 1 + 4 x 0.5 and 5 x 0.5 again
    fees = _fees(org.id)
    assert [(f["event_transaction_id"], f["amount_cents"], f["units"]) for f in fees] == [
        ("tx_1", 1100, "12"),
        ("tx_2", 0, "0"),
        ("tx_3", 0, "4"),
        ("tx_4", 100, "2"),
    ]
    assert [f["total_aggregated_units"] for f in fees] == ["12", "0", "4", "2"]
