"""Charge fees with nothing in them are left off the invoice, as lago-api leaves them unsaved
(`Fees::ChargeService#should_persist_fee?`: a fee of 0 units, 0 cents and no event is kept only when a true-up
completes it, or in the `:recurring` context of fees without invoice); current usage still lists them all."""

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


def _charge_fees(body: dict[str, Any]) -> list[tuple[str, str, str, int, int]]:
    return sorted(
        (
            fee["item"]["code"],
            fee["item"]["filter_invoice_display_name"] or "-",
            fee["units"],
            fee["amount_cents"],
            fee["events_count"],
        )
        for fee in body["fees"]
        if fee["item"]["type"] == "charge"
    )


def test_empty_charge_fees_are_not_on_the_invoice(api, org, gateway, stream, customer):
    # Given storage at $1/GB with a US filter at $2/GB, API calls at $1 (no call in January), a graduated
    # charge whose first tier has no flat amount, and one with a $5 minimum spend and no usage
    storage = create_metric(api, "storage", filters=[{"key": "region", "values": ["us", "eu"]}])
    calls = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    seats = create_metric(api, "seats", field_name="seats")
    minimum = create_metric(api, "minimum", field_name="gb")
    us_only = {"values": {"region": ["us"]}, "properties": {"amount": "2"}, "invoice_display_name": "US"}
    tiers = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "3"},
    ]
    create_plan(
        api,
        "startup",
        charges=[
            charge(storage, filters=[us_only]),
            charge(calls),
            charge(seats, charge_model="graduated", properties={"graduated_ranges": tiers}),
            charge(minimum, min_amount_cents=500),
        ],
    )
    subscription = subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    api.post("/events", {"event": event("t1", at="2024-01-15T12:00:00Z", gb=3, region="us")})
    # an event worth nothing still makes a fee (lago-api keeps a fee with events)
    api.post("/events", {"event": event("t2", at="2024-01-16T12:00:00Z", gb=0)})
    stream.drain()

    # When January is billed
    run_billing(gateway, "2024-02-01T00:00:00Z")

    # Then the invoice has the US storage fee, the storage default fee of the event worth nothing, and the
    # minimum's empty fee that its true-up completes; the calls and seats fees, empty, are not on it
    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    assert _charge_fees(body) == [
        ("minimum", "-", "0", 0, 0),
        ("minimum", "-", "1", 500, 0),
        ("storage", "-", "0", 0, 1),
        ("storage", "US", "3", 600, 1),
    ]
    assert body["fees_amount_cents"] == 10000 + 600 + 500 and body["total_amount_cents"] == 11100
    # And the fees resource lists what the invoice holds, nothing more
    listed_fees = api.get("/fees", query={"external_subscription_id": "sub_1", "fee_type": "charge"})
    assert listed_fees.status == 200, listed_fees.body
    assert sorted((f["item"]["code"], f["amount_cents"]) for f in listed_fees.json["fees"]) == [
        ("minimum", 0),
        ("minimum", 500),
        ("storage", 0),
        ("storage", 600),
    ]
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})

    # While current usage of the period lists every charge, empty ones included (lago-api hydrates them)
    from lagoon.services.usage.current import subscription_usage

    usage = subscription_usage(org.id, subscription, at=at("2024-01-20T00:00:00Z"))
    assert sorted({result.charge.billable_metric_id for result in usage.charges}) == sorted(
        metric["lago_id"] for metric in (storage, calls, seats, minimum)
    )
