"""Money stays within a signed 64-bit integer of cents (Lago's bigint columns): inputs beyond it are refused
(422 `value_is_invalid`), and an amount computed beyond it from bounded inputs (units x prices, a sum of fees,
their taxes) is never written: 422 `value_is_out_of_range` where a request computes it, a logged failure of
that customer alone in the billing run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.documents.conftest import create_add_on, create_customer, create_tax, one_off
from tests.integration.invoicing.conftest import (
    at,
    charge,
    create_metric,
    create_plan,
    event,
    invoices_of,
    outbox,
    run_billing,
    subscribe_at,
)

MAX = 2**63 - 1
OUT_OF_RANGE = {
    "status": 422,
    "error": "Unprocessable Entity",
    "code": "validation_errors",
    "error_details": {"amount_cents": ["value_is_out_of_range"]},
}


def _invalid(field: str) -> dict[str, object]:
    return {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {field: ["value_is_invalid"]},
    }


@pytest.mark.parametrize(
    ("fee", "field"),
    [
        ({"units": 10**20}, "units"),
        ({"units": "1e308"}, "units"),
        ({"units": "NaN"}, "units"),
        ({"units": "1" * 21}, "units"),
        ({"units": "0." + "1" * 27}, "units"),
        ({"unit_amount_cents": 2**63}, "unit_amount_cents"),
        ({"unit_amount_cents": 1e308}, "unit_amount_cents"),
    ],
)
def test_one_off_units_and_amounts_beyond_bounds_are_invalid(api, fee, field):
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    response = one_off(api, [{"add_on_code": "setup_fee", **fee}])
    assert (response.status, response.json) == (422, _invalid(field))
    assert invoices_of(api) == []


def test_a_one_off_invoice_whose_amounts_no_bigint_holds_is_refused(api):
    create_tax(api, "vat", "20")
    create_add_on(api, "setup_fee", 1000)
    create_add_on(api, "taxed", 1000, tax_codes=["vat"])
    create_customer(api)
    # 2**64 units of the largest amount, or of 10.00 (both used to make an invoice no bigint holds)
    refused = [
        [{"add_on_code": "setup_fee", "units": 2**64, "unit_amount_cents": MAX}],
        [{"add_on_code": "setup_fee", "units": 2**64}],
        # two fees that each fit, and their sum does not
        [
            {"add_on_code": "setup_fee", "unit_amount_cents": MAX},
            {"add_on_code": "setup_fee", "unit_amount_cents": 1},
        ],
        # a fee that fits, and its 20 % tax on top does not
        [{"add_on_code": "taxed", "unit_amount_cents": MAX}],
    ]
    for fees in refused:
        response = one_off(api, fees)
        assert (response.status, response.json) == (422, OUT_OF_RANGE), fees
    assert invoices_of(api) == []
    assert outbox("invoice.one_off_created") == []
    # The largest amount itself is an invoice
    largest = one_off(api, [{"add_on_code": "setup_fee", "unit_amount_cents": MAX}])
    assert largest.status == 200, largest.body
    assert largest.json["invoice"]["total_amount_cents"] == MAX


def test_historical_usage_beyond_a_bigint_is_invalid(api, org):
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    body = {"lifetime_usage": {"external_historical_usage_amount_cents": 2**63}}
    response = api.put("/subscriptions/sub_1/lifetime_usage", body)
    assert (response.status, response.json) == (422, _invalid("external_historical_usage_amount_cents"))


def test_usage_no_bigint_holds_is_never_invoiced(api, org, gateway, stream):
    # Given a price and an event value at the engine's bounds: 10**20 - 1 units at 10**20 - 1 dollars
    metric = create_metric(api, "storage")
    create_plan(api, "huge", amount_cents=0, charges=[charge(metric, properties={"amount": "9" * 20})])
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="huge", subscription_at=at("2024-01-01T00:00:00Z"))
    subscribe_at(
        org.id,
        "2024-01-01T00:00:00Z",
        external_id="sub_2",
        customer="cus_2",
        subscription_at=at("2024-01-01T00:00:00Z"),
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for transaction_id, moment in (("t1", "2024-01-15T12:00:00Z"), ("t2", now)):
        assert api.post("/events", {"event": event(transaction_id, at=moment, gb="9" * 20)}).status == 200
    stream.drain()
    # When the usage is read, it is out of range rather than a number no client's int64 reads
    usage = api.get("/customers/cus_1/current_usage", query={"external_subscription_id": "sub_1"})
    assert (usage.status, usage.json) == (422, OUT_OF_RANGE)
    # And the billing run writes no invoice for it, bills the other customer as usual, and fails loudly (the
    # schedule retries it, then its dead-letter queue)
    with pytest.raises(RuntimeError, match="billing run incomplete: 1 failure"):
        run_billing(gateway, "2024-02-01T00:00:00Z")
    (billed,) = invoices_of(api)
    assert billed["customer"]["external_id"] == "cus_2"
    assert billed["total_amount_cents"] == 10000


def test_a_pay_in_advance_fee_no_bigint_holds_is_counted_and_not_billed(api, org, stream):
    metric = create_metric(api, "storage")
    charges = [charge(metric, pay_in_advance=True, properties={"amount": "9" * 20})]
    create_plan(api, "huge", amount_cents=0, charges=charges)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="huge", subscription_at=at("2024-01-01T00:00:00Z"))
    big = event("t1", at="2024-01-15T12:00:00Z", gb="9" * 20)
    small = event("t2", at="2024-01-15T13:00:00Z", gb="0.000001")
    assert api.post("/events/batch", {"events": [big, small]}).status == 200
    # The aggregator's batch succeeds (failing it would retry it forever), both events are counted
    (answer,) = stream.drain()
    assert answer == {"batchItemFailures": []}
    assert api.get("/events/t1").json["event"]["lago_subscription_id"] is not None
    # No fee holds 10**40 cents: the event is not billed (the error is logged), the next one is
    fees = api.get("/fees").json["fees"]
    assert [fee["event_transaction_id"] for fee in fees] == ["t2"]
    assert all(invoice["total_amount_cents"] <= MAX for invoice in invoices_of(api))
