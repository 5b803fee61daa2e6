"""Void (finalized and not paid), draft deletion, retry, and the payment-provider actions' clear errors."""

from __future__ import annotations

from tests.contract import assert_matches_contract, assert_webhook_matches_contract
from tests.integration.documents.conftest import (
    at,
    create_customer,
    create_plan,
    envelope,
    invoices_of,
    outbox,
    run_billing,
    subscribe_at,
)

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_void_a_finalized_unpaid_invoice(api, finalized):
    lago_id = finalized["lago_id"]
    response = api.post(f"/invoices/{lago_id}/void")
    assert response.status == 200, response.body
    assert response.json["invoice"]["status"] == "voided"
    assert response.json["invoice"]["payment_overdue"] is False
    (voided,) = outbox("invoice.voided")
    # Voided: not again, no download (Lago serves finalized invoices only), fees follow the invoice
    again = api.post(f"/invoices/{lago_id}/void")
    assert (again.status, again.json["code"]) == (405, "not_voidable")
    assert api.post(f"/invoices/{lago_id}/download").status == 404
    assert len(outbox("invoice.voided")) == 1
    assert_matches_contract("/invoices/{lago_id}/void", "post", 200, response.json)
    assert_webhook_matches_contract(envelope(voided))


def test_a_voided_invoice_cannot_be_updated(api, finalized):
    # Given a voided invoice
    lago_id = finalized["lago_id"]
    assert api.post(f"/invoices/{lago_id}/void").status == 200
    before = api.get(f"/invoices/{lago_id}").json["invoice"]
    # When its payment status or metadata is updated, then Lago's 405 answers (InvoicesController#update)
    for change in ({"payment_status": "succeeded"}, {"metadata": [{"key": "po", "value": "PO-1"}]}):
        response = api.put(f"/invoices/{lago_id}", {"invoice": change})
        assert (response.status, response.json) == (
            405,
            {"status": 405, "error": "Method Not Allowed", "code": "update_on_voided_invoice"},
        ), change
    # And nothing changed: the invoice, its fees, no payment webhook
    assert api.get(f"/invoices/{lago_id}").json["invoice"] == before
    assert outbox("invoice.payment_status_updated") == []
    assert {fee["payment_status"] for fee in before["fees"]} == {"pending"}
    assert {fee["payment_status"] for fee in api.get("/fees").json["fees"]} == {"pending"}
    assert api.put(f"/invoices/{UNKNOWN}", {"invoice": {"payment_status": "succeeded"}}).status == 404


def test_paid_and_draft_invoices_cannot_be_voided(api, finalized):
    lago_id = finalized["lago_id"]
    assert api.put(f"/invoices/{lago_id}", {"invoice": {"payment_status": "succeeded"}}).status == 200
    paid = api.post(f"/invoices/{lago_id}/void", {})
    assert (paid.status, paid.json["code"]) == (405, "not_voidable")
    assert api.post(f"/invoices/{UNKNOWN}/void").status == 404


def test_void_with_a_credit_note_is_deferred(api, finalized):
    response = api.post(
        f"/invoices/{finalized['lago_id']}/void", {"generate_credit_note": True, "refund_amount": 0}
    )
    assert (response.status, response.json["code"]) == (405, "not_implemented")
    assert api.get(f"/invoices/{finalized['lago_id']}").json["invoice"]["status"] == "finalized"


def test_a_failed_invoice_is_the_only_one_to_retry(api, finalized):
    response = api.post(f"/invoices/{finalized['lago_id']}/retry")
    assert (response.status, response.json["code"]) == (405, "invalid_status")
    assert api.post(f"/invoices/{UNKNOWN}/retry").status == 404


def test_payment_provider_actions_answer_that_no_provider_is_linked(api, finalized):
    lago_id = finalized["lago_id"]
    url = api.post(f"/invoices/{lago_id}/payment_url")
    assert url.status == 422
    assert url.json == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"base": ["no_linked_payment_provider"]},
    }
    retry = api.post(f"/invoices/{lago_id}/retry_payment")
    assert (retry.status, retry.json["code"]) == (422, "no_linked_payment_provider")
    assert "payment providers are not available" in retry.json["error_details"]["message"]
    dispute = api.post(f"/invoices/{lago_id}/lose_dispute")
    assert (dispute.status, dispute.json["code"]) == (405, "not_implemented")
    # Lago's status rules come first: a paid invoice is not retried
    api.put(f"/invoices/{lago_id}", {"invoice": {"payment_status": "succeeded"}})
    paid = api.post(f"/invoices/{lago_id}/retry_payment")
    assert (paid.status, paid.json["code"]) == (405, "invalid_status")
    for action in ("payment_url", "retry_payment", "lose_dispute"):
        assert api.post(f"/invoices/{UNKNOWN}/{action}").status == 404


def test_delete_a_draft(api, org, gateway):
    # Given a draft with a grace period, and its fee documents
    create_customer(api, currency="USD", billing_configuration={"invoice_grace_period": 3})
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (draft,) = invoices_of(api)
    assert api.get("/fees").json["meta"]["total_count"] == 1

    # When it is deleted
    response = api.delete(f"/invoices/{draft['lago_id']}")

    # Then it is gone with its fees and its finalization timer, and `invoice.deleted` is recorded
    assert response.status == 200, response.body
    assert response.json["invoice"]["lago_id"] == draft["lago_id"]
    assert api.get(f"/invoices/{draft['lago_id']}").status == 404
    assert api.get("/fees").json["fees"] == []
    (deleted,) = outbox("invoice.deleted")
    report = run_billing(gateway, "2024-02-04T00:00:00Z")
    assert report["finalized"] == 0 and invoices_of(api) == []
    assert api.delete(f"/invoices/{draft['lago_id']}").status == 404
    assert_matches_contract("/invoices/{lago_id}", "delete", 200, response.json)
    assert_webhook_matches_contract(envelope(deleted))


def test_a_finalized_invoice_cannot_be_deleted(api, finalized):
    response = api.delete(f"/invoices/{finalized['lago_id']}")
    assert (response.status, response.json["code"]) == (405, "not_deletable")


def test_a_draft_takes_neither_a_new_payment_status_nor_metadata(api, org, gateway):
    # Given a draft in its grace period
    create_customer(api, currency="USD", billing_configuration={"invoice_grace_period": 3})
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (draft,) = invoices_of(api)
    lago_id = draft["lago_id"]
    # When its payment status changes or metadata (even none) is sent, Lago's Invoices::UpdateService answers 405
    for change, code in (
        ({"payment_status": "succeeded"}, "payment_status_update_on_draft_invoice"),
        ({"metadata": [{"key": "po", "value": "PO-1"}]}, "metadata_on_draft_invoice"),
        ({"metadata": []}, "metadata_on_draft_invoice"),
    ):
        response = api.put(f"/invoices/{lago_id}", {"invoice": change})
        assert (response.status, response.json) == (
            405,
            {"status": 405, "error": "Method Not Allowed", "code": code},
        ), change
    # The same payment status is no change: accepted, nothing recorded
    same = api.put(f"/invoices/{lago_id}", {"invoice": {"payment_status": draft["payment_status"]}})
    assert same.status == 200, same.body
    assert same.json["invoice"]["metadata"] == []
    assert outbox("invoice.payment_status_updated") == []


def test_an_invoice_takes_at_most_five_metadata(api, finalized):
    lago_id = finalized["lago_id"]
    six = [{"key": f"k{n}", "value": "v"} for n in range(6)]
    response = api.put(f"/invoices/{lago_id}", {"invoice": {"metadata": six}})
    assert (response.status, response.json["error_details"]) == (422, {"metadata": ["invalid_count"]})
    assert api.get(f"/invoices/{lago_id}").json["invoice"]["metadata"] == []
    five = api.put(f"/invoices/{lago_id}", {"invoice": {"metadata": six[:5]}})
    assert [item["key"] for item in five.json["invoice"]["metadata"]] == ["k0", "k1", "k2", "k3", "k4"]
