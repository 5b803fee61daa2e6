"""Fees API: list with the contract's filters, read, payment status and deletion of fees not invoiced yet
(pay-in-advance fees), and 405 `invoiced_fee` for fees attached to an invoice."""

from __future__ import annotations

from tests.contract import assert_matches_contract, defer_contract_check
from tests.integration.documents.conftest import create_add_on, create_customer, one_off
from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe
from tests.integration.usage.conftest import send

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _world(api, stream):
    """Two pay-in-advance fees (not invoiced) of sub_1 and a one-off invoice's add-on fee."""
    create_customer(api, currency="USD")
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, pay_in_advance=True, invoiceable=False)])
    subscribe(api)
    send(api, stream, event("tx_1", gb=6), event("tx_2", gb=8))
    create_add_on(api, "setup_fee", 2500, amount_currency="USD")
    invoice = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]
    return invoice


def _fees(api, **query):
    response = api.get("/fees", query=query or None)
    assert response.status == 200, response.body
    defer_contract_check("/fees", "get", 200, response.json)
    return response.json["fees"]


def test_list_and_filters(api, stream):
    invoice = _world(api, stream)
    everything = _fees(api)
    assert len(everything) == 3
    in_advance = _fees(api, fee_type="charge")
    assert sorted(f["event_transaction_id"] for f in in_advance) == ["tx_1", "tx_2"]
    assert sorted(f["amount_cents"] for f in in_advance) == [600, 800]
    (add_on,) = _fees(api, fee_type="add_on")
    assert add_on["lago_invoice_id"] == invoice["lago_id"] and add_on["amount_cents"] == 2500
    assert len(_fees(api, external_subscription_id="sub_1")) == 2
    assert len(_fees(api, external_customer_id="cus_1")) == 3
    assert _fees(api, external_customer_id="nobody") == []
    assert len(_fees(api, billable_metric_code="storage")) == 2
    assert _fees(api, billable_metric_code="setup_fee") == []  # charge fees only, as Lago
    assert len(_fees(api, currency="USD")) == 3 and _fees(api, currency="EUR") == []
    assert [f["event_transaction_id"] for f in _fees(api, event_transaction_id="tx_2")] == ["tx_2"]
    assert len(_fees(api, payment_status="pending")) == 3
    assert len(_fees(api, created_at_from="2000-01-01T00:00:00Z", created_at_to="2999-01-01T00:00:00Z")) == 3
    assert _fees(api, created_at_to="2000-01-01T00:00:00Z") == []
    page = api.get("/fees", query={"per_page": 2, "page": 2}).json
    assert len(page["fees"]) == 1 and page["meta"]["total_count"] == 3 and page["meta"]["prev_page"] == 1
    bad = api.get("/fees", query={"created_at_from": "yesterday"})
    assert bad.status == 422 and bad.json["error_details"] == {"created_at_from": ["invalid_date"]}
    assert api.get("/fees", query={"fee_type": "nope"}).status == 422


def test_a_fee_not_invoiced_takes_a_payment_status_and_can_be_deleted(api, stream):
    _world(api, stream)
    (fee,) = _fees(api, event_transaction_id="tx_1")
    got = api.get(f"/fees/{fee['lago_id']}")
    assert got.status == 200

    paid = api.put(f"/fees/{fee['lago_id']}", {"fee": {"payment_status": "succeeded"}})
    assert paid.status == 200, paid.body
    assert paid.json["fee"]["payment_status"] == "succeeded" and paid.json["fee"]["succeeded_at"]
    assert [f["lago_id"] for f in _fees(api, payment_status="succeeded")] == [fee["lago_id"]]
    assert len(_fees(api, succeeded_at_from="2000-01-01T00:00:00Z")) == 1
    # Only the current status keeps a timestamp (Lago)
    failed = api.put(f"/fees/{fee['lago_id']}", {"fee": {"payment_status": "failed"}}).json["fee"]
    assert failed["succeeded_at"] is None and failed["failed_at"]
    invalid = api.put(f"/fees/{fee['lago_id']}", {"fee": {"payment_status": "paid"}})
    assert invalid.status == 422 and invalid.json["error_details"] == {"payment_status": ["value_is_invalid"]}

    deleted = api.delete(f"/fees/{fee['lago_id']}")
    assert deleted.status == 200
    assert api.get(f"/fees/{fee['lago_id']}").status == 404
    assert len(_fees(api)) == 2
    assert_matches_contract("/fees/{lago_id}", "get", 200, got.json)
    assert_matches_contract("/fees/{lago_id}", "put", 200, paid.json)
    assert_matches_contract("/fees/{lago_id}", "delete", 200, deleted.json)


def test_invoiced_fees_follow_their_invoice(api, stream):
    invoice = _world(api, stream)
    (fee,) = _fees(api, fee_type="add_on")
    for response in (
        api.put(f"/fees/{fee['lago_id']}", {"fee": {"payment_status": "succeeded"}}),
        api.delete(f"/fees/{fee['lago_id']}"),
    ):
        assert response.status == 405
        assert response.json == {"status": 405, "error": "Method Not Allowed", "code": "invoiced_fee"}
    # Paying the invoice pays its fees
    api.put(f"/invoices/{invoice['lago_id']}", {"invoice": {"payment_status": "succeeded"}})
    got = api.get(f"/fees/{fee['lago_id']}").json["fee"]
    assert got["payment_status"] == "succeeded" and got["succeeded_at"]


def test_unknown_fees_and_organizations_are_apart(api, other_api, stream):
    _world(api, stream)
    (fee,) = _fees(api, event_transaction_id="tx_1")
    assert other_api.get(f"/fees/{fee['lago_id']}").status == 404
    assert other_api.get("/fees").json["fees"] == []
    for response in (
        api.get(f"/fees/{UNKNOWN}"),
        api.get("/fees/not-a-uuid"),
        api.put(f"/fees/{UNKNOWN}", {"fee": {"payment_status": "succeeded"}}),
        api.delete(f"/fees/{UNKNOWN}"),
    ):
        assert (response.status, response.json["code"]) == (404, "fee_not_found")
    assert api.post("/fees").status == 405
