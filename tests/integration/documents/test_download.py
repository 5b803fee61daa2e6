"""Invoice PDFs: generated once at finalization, stored in the documents bucket, downloaded through a
presigned SigV4 URL; drafts have none (Lago downloads finalized invoices only)."""

from __future__ import annotations

from tests.contract import assert_matches_contract, assert_webhook_matches_contract
from tests.integration.documents.conftest import (
    at,
    create_customer,
    create_plan,
    envelope,
    invoices_of,
    outbox,
    pdf_text,
    run_billing,
    run_documents,
    stored_object,
    subscribe_at,
)


def test_the_pdf_is_stored_after_finalization_and_downloaded_through_its_url(api, org, gateway, finalized):
    from lagoon.data import documents_store

    # Given a finalized invoice: the billing run leaves its PDF to the documents function
    assert outbox("invoice.generated") == []
    key = f"invoices/{org.id}/{finalized['lago_id']}.pdf"
    assert not documents_store.exists(key)
    # whose next run (a minute later) stores it, with one invoice.generated webhook; a second run does nothing
    assert run_documents(gateway, "2024-02-01T00:01:00Z") == {"rendered": 1}
    assert run_documents(gateway, "2024-02-01T00:02:00Z") == {"rendered": 0}
    assert documents_store.exists(key)
    (generated,) = outbox("invoice.generated")
    assert generated["payload"]["lago_id"] == finalized["lago_id"]

    # When it is downloaded
    response = api.post(f"/invoices/{finalized['lago_id']}/download")

    # Then the answer is the invoice with a file_url whose object is the PDF of that invoice
    assert response.status == 200, response.body
    body = response.json["invoice"]
    assert body["lago_id"] == finalized["lago_id"] and body["status"] == "finalized"
    text = pdf_text(stored_object(body["file_url"]))
    assert finalized["number"] in text
    assert "$100.00" in text and "Startup" in text and "Zażółć GmbH" in text
    # A second download serves the same object: nothing is generated again
    again = api.post(f"/invoices/{finalized['lago_id']}/download").json["invoice"]
    assert stored_object(again["file_url"]) == stored_object(body["file_url"])
    assert len(outbox("invoice.generated")) == 1
    assert documents_store.exists(
        f"invoices/{outbox('invoice.generated')[0]['organization_id']}/{body['lago_id']}.pdf"
    )
    assert_matches_contract("/invoices/{lago_id}/download", "post", 200, response.json)
    assert_webhook_matches_contract(envelope(generated))


def test_a_missing_pdf_is_generated_on_demand(api, org, finalized):
    from lagoon.data import documents_store

    # Given a finalized invoice whose PDF the documents function has not rendered yet
    key = f"invoices/{org.id}/{finalized['lago_id']}.pdf"
    assert not documents_store.exists(key)

    # When it is downloaded, it is rendered again, stored, and served
    body = api.post(f"/invoices/{finalized['lago_id']}/download").json["invoice"]
    assert finalized["number"] in pdf_text(stored_object(body["file_url"]))
    assert documents_store.exists(key)


def test_the_document_is_rendered_in_the_customer_locale(api, org, gateway):
    create_customer(api, currency="EUR", billing_configuration={"document_locale": "fr"})
    create_plan(api, "startup", amount_currency="EUR", amount_cents=123456)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (listed,) = invoices_of(api)
    text = pdf_text(
        stored_object(api.post(f"/invoices/{listed['lago_id']}/download").json["invoice"]["file_url"])
    )
    assert "Facture" in text and "Total à payer 1\u202f234,56\xa0€" in text


def test_drafts_and_unknown_invoices_have_no_document(api, org, gateway):
    from lagoon.data import documents_store
    from lagoon.data.connection import aws_client

    # Given a draft (grace period of 3 days)
    create_customer(api, currency="USD", billing_configuration={"invoice_grace_period": 3})
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (draft,) = invoices_of(api)
    assert draft["status"] == "draft"

    # Then no PDF is generated and the download is a 404 (Lago: `invoices.finalized.find_by`)
    assert run_documents(gateway, "2024-02-01T00:01:00Z") == {"rendered": 0}
    stored = aws_client("s3").list_objects_v2(Bucket=documents_store.bucket()).get("KeyCount", 0)
    assert stored == 0 and outbox("invoice.generated") == []
    response = api.post(f"/invoices/{draft['lago_id']}/download")
    assert response.status == 404 and response.json["code"] == "invoice_not_found"
    assert api.post("/invoices/00000000-0000-4000-8000-000000000000/download").status == 404

    # When the grace period ends, the finalization asks the documents function for it
    run_billing(gateway, "2024-02-04T00:00:00Z")
    assert run_documents(gateway, "2024-02-04T00:01:00Z") == {"rendered": 1}
    assert len(outbox("invoice.generated")) == 1
    assert api.post(f"/invoices/{draft['lago_id']}/download").status == 200


def test_the_customers_metadata_for_invoices_is_on_the_document(api, org, gateway):
    # Given a customer with a purchase order to show on invoices and an internal note not to
    metadata = [
        {"key": "PO number", "value": "PO-4471", "display_in_invoice": True},
        {"key": "Account owner", "value": "jane@internal", "display_in_invoice": False},
    ]
    create_customer(api, currency="USD", metadata=metadata)
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (listed,) = invoices_of(api)
    # When its invoice's PDF is downloaded, then the purchase order is printed and the note is not
    text = pdf_text(
        stored_object(api.post(f"/invoices/{listed['lago_id']}/download").json["invoice"]["file_url"])
    ).splitlines()
    assert "PO number PO-4471" in text
    assert not [line for line in text if "Account owner" in line or "jane@internal" in line]
