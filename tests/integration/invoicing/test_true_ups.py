"""`min_amount_cents` true-up fees on the period's invoice: their amounts and their links to the charge fee
they complete (Lago's `Fees::CreateTrueUpService`: a copy of the charge's first fee without a filter)."""

from __future__ import annotations

from typing import Any

from tests.contract import assert_matches_contract
from tests.integration.invoicing.conftest import (
    at,
    charge,
    create_metric,
    create_plan,
    event,
    invoice,
    invoices_of,
    run_billing,
    subscribe_at,
)


def _january_invoice(api: Any, org: Any, gateway: Any, stream: Any) -> dict[str, Any]:
    # $1/GB with a $10 minimum, the same metric's US filter at $2/GB with a $20 minimum, and $1 per call
    # grouped by model with a $5 minimum; 3 GB used in the US and one call of model "a" in January
    storage = create_metric(api, "storage", filters=[{"key": "region", "values": ["us", "eu"]}])
    calls = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    us_only = {"values": {"region": ["us"]}, "properties": {"amount": "2"}, "invoice_display_name": "US"}
    create_plan(
        api,
        "startup",
        charges=[
            charge(storage, min_amount_cents=1000),
            charge(storage, min_amount_cents=2000, invoice_display_name="Regional", filters=[us_only]),
            charge(calls, min_amount_cents=500, properties={"amount": "1", "pricing_group_keys": ["model"]}),
        ],
    )
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    api.post("/events", {"event": event("t1", at="2024-01-15T12:00:00Z", gb=3, region="us")})
    api.post("/events", {"event": event("t2", code="calls", at="2024-01-15T12:00:00Z", model="a")})
    stream.drain()
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (listed,) = invoices_of(api)
    return invoice(api, listed["lago_id"])


def test_each_true_up_and_the_charge_fee_it_completes_name_each_other(api, org, gateway, stream, customer):
    body = _january_invoice(api, org, gateway, stream)
    by_id = {fee["lago_id"]: fee for fee in body["fees"]}
    true_ups = [fee for fee in body["fees"] if fee["lago_true_up_parent_fee_id"]]
    # Then each charge below its minimum has a one-unit true-up for the shortfall…
    parents = {fee["lago_true_up_parent_fee_id"]: fee for fee in true_ups}
    assert len(parents) == 3 and set(parents) <= set(by_id)  # no true-up names a fee the invoice lacks
    summary = {
        (by_id[parent]["item"]["invoice_display_name"], by_id[parent]["amount_cents"]): (
            fee["amount_cents"],
            fee["units"],
            fee["events_count"],
        )
        for parent, fee in parents.items()
    }
    # $10 - $3; $20 - $6 (the US filter's fee) - $0 (the fee without filter, the parent); $5 - $1
    assert summary == {
        ("Storage", 300): (700, "1", 0),
        ("Regional", 0): (1400, "1", 0),
        ("Calls", 100): (400, "1", 0),
    }
    # …and the fee it completes names it back (`lago_true_up_fee_id`), the only fee to name a true-up
    for parent, fee in parents.items():
        assert by_id[parent]["lago_true_up_fee_id"] == fee["lago_id"]
        assert by_id[parent]["lago_charge_filter_id"] is None
        assert (fee["lago_charge_id"], fee["lago_charge_filter_id"]) == (
            by_id[parent]["lago_charge_id"],
            None,
        )
    assert sum(1 for fee in body["fees"] if fee["lago_true_up_fee_id"]) == 3
    # A true-up is a copy of its parent: the grouped charge's true-up keeps the group of its parent
    calls_true_up = next(fee for fee in true_ups if fee["item"]["code"] == "calls")
    assert calls_true_up["item"]["grouped_by"] == {"model": "a"}
    # And the fees resource says the same
    parent_id = next(iter(parents))
    assert api.get(f"/fees/{parent_id}").json["fee"]["lago_true_up_fee_id"] == parents[parent_id]["lago_id"]
    assert body["fees_amount_cents"] == 10000 + 300 + 600 + 100 + 700 + 1400 + 400
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})


def test_the_invoice_pdf_prints_each_true_up_under_the_fee_it_completes(api, org, gateway, stream, customer):
    from tests.integration.documents.conftest import pdf_text, stored_object

    body = _january_invoice(api, org, gateway, stream)
    download = api.post(f"/invoices/{body['lago_id']}/download")
    assert download.status == 200, download.body
    text = pdf_text(stored_object(download.json["invoice"]["file_url"])).splitlines()
    # Each true-up line comes right under its charge, named after the charge alone ($3.00 of $10.00 used…)
    assert text[text.index("Storage 3 $1.00 0% $3.00") + 1] == "Storage - True-up 1 $7.00 0% $7.00"
    # …a filtered charge's under the fee without filter it completes, shown although it billed nothing…
    regional = text.index("Regional 0 $0.00 0% $0.00")
    assert text[regional + 1] == "Regional - True-up 1 $14.00 0% $14.00"
    # …and a grouped charge's under its group's fee, without the group's value
    assert text[text.index("Calls • a 1 $1.00 0% $1.00") + 1] == "Calls - True-up 1 $4.00 0% $4.00"
