"""One-off invoices from add-ons: amounts in cents, unit and amount overrides, the tax hierarchy (fee →
add-on → customer → organization), finalized and numbered at once, `invoice.one_off_created`, a PDF."""

from __future__ import annotations

from tests.contract import assert_matches_contract, assert_webhook_matches_contract
from tests.integration.documents.conftest import (
    create_add_on,
    create_customer,
    create_tax,
    envelope,
    one_off,
    outbox,
    pdf_text,
    stored_object,
)


def test_add_on_fees_with_overrides_and_taxes_in_cents(api):
    # Given an add-on taxed at 20 %, another without taxes, and a customer taxed at 10 %
    create_tax(api, "vat_20", "20")
    create_tax(api, "vat_10", "10")
    create_tax(api, "reduced", "5.5")
    create_add_on(api, "setup_fee", 50000, tax_codes=["vat_20"], description="Onboarding")
    create_add_on(api, "consulting", 12000, invoice_display_name="Consulting day")
    create_customer(api, tax_codes=["vat_10"])

    # When a one-off invoice bills 2.5 units of setup at 12.00 €, 1 consulting day, 3 setups taxed at 5.5 %
    response = one_off(
        api,
        [
            {"add_on_code": "setup_fee", "units": 2.5, "unit_amount_cents": 1200, "description": "Phase 1"},
            {"add_on_code": "consulting"},
            {
                "add_on_code": "setup_fee",
                "units": "3",
                "tax_codes": ["reduced"],
                "invoice_display_name": "Setup",
            },
        ],
        currency="EUR",
    )

    # Then: 3000 (20 %: 600) + 12000 (customer 10 %: 1200) + 150000 (5.5 %: 8250)
    assert response.status == 200, response.body
    invoice = response.json["invoice"]
    assert invoice["invoice_type"] == "one_off" and invoice["status"] == "finalized"
    assert invoice["number"].endswith("-001-001") and invoice["payment_status"] == "pending"
    assert invoice["fees_amount_cents"] == 165000
    assert invoice["taxes_amount_cents"] == 10050
    assert invoice["total_amount_cents"] == 175050
    fees = invoice["fees"]
    assert [f["amount_cents"] for f in fees] == [3000, 12000, 150000]
    assert [f["taxes_amount_cents"] for f in fees] == [600, 1200, 8250]
    assert [f["units"] for f in fees] == ["2.5", "1", "3"]
    assert [f["precise_unit_amount"] for f in fees] == ["12", "120", "500"]
    assert [f["item"]["invoice_display_name"] for f in fees] == ["Setup_Fee", "Consulting day", "Setup"]
    assert fees[0]["item"]["description"] == "Phase 1" and fees[1]["item"]["description"] is None
    assert {f["item"]["type"] for f in fees} == {"add_on"}
    by_code = {t["tax_code"]: (t["amount_cents"], t["fees_amount_cents"]) for t in invoice["applied_taxes"]}
    assert by_code == {"vat_20": (600, 3000), "vat_10": (1200, 12000), "reduced": (8250, 150000)}

    # And the webhook and the PDF
    (created,) = outbox("invoice.one_off_created")
    assert created["payload"]["lago_id"] == invoice["lago_id"]
    assert outbox("invoice.created") == []
    text = pdf_text(
        stored_object(api.post(f"/invoices/{invoice['lago_id']}/download").json["invoice"]["file_url"])
    )
    assert invoice["number"] in text and "Consulting day" in text and "€1,750.50" in text
    assert_matches_contract("/invoices", "post", 200, response.json)
    assert_webhook_matches_contract(envelope(created))


def test_organization_taxes_apply_when_nothing_more_specific_does(api):
    create_tax(api, "org_vat", "19", applied_to_organization=True)
    create_add_on(api, "setup_fee", 999)
    create_customer(api)
    invoice = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]
    # 999 x 19 % = 189.81 → 190 (half-up), currency from the customer
    assert invoice["currency"] == "EUR"
    assert (invoice["fees_amount_cents"], invoice["taxes_amount_cents"], invoice["total_amount_cents"]) == (
        999,
        190,
        1189,
    )


def test_numbers_follow_the_customer_sequence_and_zero_amounts_are_paid(api):
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    first = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]
    free = one_off(api, [{"add_on_code": "setup_fee", "unit_amount_cents": 0}]).json["invoice"]
    assert first["number"].endswith("-001-001") and free["number"].endswith("-001-002")
    assert free["total_amount_cents"] == 0 and free["payment_status"] == "succeeded"
    listed = api.get("/invoices", query={"invoice_type": "one_off"}).json["invoices"]
    assert {i["lago_id"] for i in listed} == {first["lago_id"], free["lago_id"]}


def test_a_reused_external_id_does_not_inherit_the_deleted_customers_invoices(api):
    # Given cus_1 invoiced, deleted, and a new customer created with the same external_id
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    old = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]
    assert api.delete("/customers/cus_1").status == 200
    create_customer(api)
    # Then the new customer's invoices are its own: none yet
    assert api.get("/customers/cus_1/invoices").json["invoices"] == []
    assert api.get("/invoices", query={"external_customer_id": "cus_1"}).json["invoices"] == []
    # And the deleted customer's invoice is still listed and readable
    assert [i["lago_id"] for i in api.get("/invoices").json["invoices"]] == [old["lago_id"]]
    assert api.get(f"/invoices/{old['lago_id']}").status == 200
    # And the new customer's first invoice is listed alone
    new = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]
    assert [i["lago_id"] for i in api.get("/customers/cus_1/invoices").json["invoices"]] == [new["lago_id"]]


def test_errors(api):
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    assert (
        one_off(api, [{"add_on_code": "setup_fee"}], customer="nobody").json["code"] == "customer_not_found"
    )
    assert one_off(api, []).json["code"] == "fees_not_found"
    assert one_off(api, [{"add_on_code": "missing"}]).json["code"] == "add_on_not_found"
    assert one_off(api, [{"add_on_code": "setup_fee", "tax_codes": ["nope"]}]).json["code"] == "tax_not_found"
    mismatch = one_off(api, [{"add_on_code": "setup_fee"}], currency="USD")
    assert mismatch.status == 422
    assert mismatch.json["error_details"] == {"currency": ["currencies_does_not_match"]}
    invalid = one_off(api, [{"add_on_code": "setup_fee", "units": "-1"}])
    assert invalid.status == 422 and invalid.json["error_details"] == {"units": ["value_is_invalid"]}
    assert api.post("/invoices", {"nothing": {}}).status == 400
    assert api.get("/invoices").json["invoices"] == []
    assert outbox("invoice.one_off_created") == []
