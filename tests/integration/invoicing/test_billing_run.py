"""The hourly billing run through the real handler, at chosen scheduled times: every amount in cents."""

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
    outbox,
    run_billing,
    subscribe_at,
)


def _fees(body: dict[str, Any]) -> dict[str, int]:
    return {f["item"]["type"] + ":" + f["item"]["code"]: f["amount_cents"] for f in body["fees"]}


def test_arrears_plan_mid_period_start_bills_prorated_fee_and_usage(api, org, gateway, stream, customer):
    # Given a $100 monthly plan in arrears with $1/GB, started January 10th, and 3 GB used
    metric = create_metric(api, "storage")
    create_plan(api, "startup", charges=[charge(metric)])
    subscribe_at(org.id, "2024-01-10T00:00:00Z", subscription_at=at("2024-01-10T00:00:00Z"))
    api.post("/events", {"event": event("t1", at="2024-01-15T12:00:00Z", gb=3)})
    stream.drain()

    # When the run of February 1st, 00:00 fires
    run_billing(gateway, "2024-02-01T00:00:00Z")

    # Then one finalized invoice: 22/31 of $100 = 70.97 + 3.00
    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    assert _fees(body) == {"subscription:startup": 7097, "charge:storage": 300}
    assert body["fees_amount_cents"] == 7397 and body["total_amount_cents"] == 7397
    assert body["status"] == "finalized" and body["number"].endswith("-001-001")
    assert body["issuing_date"] == "2024-02-01"
    assert body["billing_periods"][0]["charges_from_datetime"] == "2024-01-10T00:00:00Z"
    assert body["billing_periods"][0]["charges_to_datetime"] == "2024-01-31T23:59:59Z"
    created = outbox("invoice.created")
    assert [m["payload"]["lago_id"] for m in created] == [body["lago_id"]]
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})


def test_a_period_without_usage_bills_the_first_tiers_flat_amounts(api, org, gateway, stream, customer):
    # Given graduated (flat 5.00), volume (flat 2.00) and graduated percentage (flat 1.50) charges, no events
    metric = create_metric(api, "storage")
    graduated = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "5"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "3"},
    ]
    volume = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "2"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "4"},
    ]
    percentage = [
        {"from_value": 0, "to_value": 100, "rate": "1", "flat_amount": "1.5"},
        {"from_value": 101, "to_value": None, "rate": "2", "flat_amount": "1"},
    ]
    create_plan(
        api,
        "startup",
        amount_cents=0,
        charges=[
            charge(metric, charge_model="graduated", properties={"graduated_ranges": graduated}),
            charge(metric, charge_model="volume", properties={"volume_ranges": volume}),
            charge(
                metric,
                charge_model="graduated_percentage",
                properties={"graduated_percentage_ranges": percentage},
            ),
        ],
    )
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))

    # When January is billed
    run_billing(gateway, "2024-02-01T00:00:00Z")

    # Then each charge is a fee of 0 units at its first tier's flat amount, as lago-api bills it (#5760)
    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    charges = [f for f in body["fees"] if f["item"]["type"] == "charge"]
    assert sorted((f["units"], f["amount_cents"]) for f in charges) == [("0", 150), ("0", 200), ("0", 500)]
    details = {f["amount_cents"]: f["amount_details"] for f in charges}
    assert details[500] == {
        "graduated_ranges": [
            {
                "units": "0",
                "from_value": 0,
                "to_value": 10,
                "flat_unit_amount": "5",
                "per_unit_amount": "0",
                "per_unit_total_amount": "0",
                "total_with_flat_amount": "5",
            }
        ]
    }
    assert details[200] == {"flat_unit_amount": "2", "per_unit_amount": "0", "per_unit_total_amount": "0"}
    assert body["fees_amount_cents"] == 850 and body["total_amount_cents"] == 850
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})


def test_the_same_run_twice_creates_nothing_more(api, org, gateway, stream, customer):
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    run_billing(gateway, "2024-02-01T00:00:00Z")
    run_billing(gateway, "2024-02-01T01:00:00Z")
    (only,) = invoices_of(api)
    assert only["total_amount_cents"] == 10000
    assert len(outbox("invoice.created")) == 1


def test_advance_plan_pays_at_start_then_each_period(api, org, gateway, customer):
    create_plan(api, "pro", pay_in_advance=True, amount_cents=3100)
    subscribe_at(org.id, "2024-01-20T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-20T00:00:00Z"))
    run_billing(gateway, "2024-01-20T00:00:00Z")
    run_billing(gateway, "2024-02-01T00:00:00Z")
    found = sorted(invoices_of(api), key=lambda i: i["issuing_date"])
    # 12/31 of 31.00 = 12.00 at the start, then the whole of February in advance
    assert [i["total_amount_cents"] for i in found] == [1200, 3100]
    assert [i["number"][-3:] for i in found] == ["001", "002"]


def test_missed_hours_bill_every_boundary_in_order(api, org, gateway, customer):
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-03-01T05:00:00Z")
    found = sorted(invoices_of(api), key=lambda i: i["issuing_date"])
    assert [(i["issuing_date"], i["total_amount_cents"]) for i in found] == [
        ("2024-02-01", 10000),
        ("2024-03-01", 10000),
    ]


def test_past_subscription_at_does_not_bill_past_periods(api, org, gateway, customer):
    create_plan(api, "startup")
    # Created on March 10th with a subscription_at in January
    subscribe_at(org.id, "2024-03-10T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-04-01T00:00:00Z")
    (only,) = invoices_of(api)
    assert only["issuing_date"] == "2024-04-01" and only["total_amount_cents"] == 10000


def test_trial_defers_the_in_advance_fee_to_the_trial_end(api, org, gateway, customer):
    create_plan(api, "pro", pay_in_advance=True, amount_cents=3100, trial_period=10)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-01-01T00:00:00Z")
    assert invoices_of(api) == []
    run_billing(gateway, "2024-01-11T00:00:00Z")
    (first,) = invoices_of(api)
    # January 11th to 31st: 21/31 of 31.00
    assert first["total_amount_cents"] == 2100


def test_taxes_and_coupons_in_lago_order(api, org, gateway, stream, customer):
    metric = create_metric(api, "storage")
    assert api.post("/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}}).status == 200
    create_plan(api, "startup", charges=[charge(metric)], tax_codes=["vat"], amount_cents=5000)
    coupon = {
        "name": "Ten",
        "code": "ten",
        "coupon_type": "fixed_amount",
        "frequency": "once",
        "expiration": "no_expiration",
        "amount_cents": 1000,
        "amount_currency": "USD",
    }
    assert api.post("/coupons", {"coupon": coupon}).status == 200
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    applied = {"external_customer_id": "cus_1", "coupon_code": "ten"}
    assert api.post("/applied_coupons", {"applied_coupon": applied}).status == 200
    api.post("/events", {"event": event("t1", at="2024-01-15T12:00:00Z", gb=20)})
    stream.drain()

    run_billing(gateway, "2024-02-01T00:00:00Z")

    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    # 50 + 20 - 10 coupon = 60, VAT 20 % = 12 → 72
    assert body["fees_amount_cents"] == 7000
    assert body["coupons_amount_cents"] == 1000
    assert body["sub_total_excluding_taxes_amount_cents"] == 6000
    assert body["taxes_amount_cents"] == 1200
    assert body["total_amount_cents"] == 7200
    assert body["applied_taxes"][0]["tax_code"] == "vat" and body["applied_taxes"][0]["amount_cents"] == 1200
    assert body["credits"][0]["amount_cents"] == 1000 and body["credits"][0]["item"]["code"] == "ten"
    # The once coupon is used up
    coupons = api.get("/applied_coupons", query={"status": "terminated"}).json["applied_coupons"]
    assert [c["coupon_code"] for c in coupons] == ["ten"]
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})


def test_zero_amount_invoice_skipped_by_the_customer_is_closed(api, org, gateway):
    api.post("/customers", {"customer": {"external_id": "cus_1", "finalize_zero_amount_invoice": "skip"}})
    create_plan(api, "free", amount_cents=0)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="free", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    assert invoices_of(api) == []
    (closed,) = invoices_of(api, **{"statuses[]": ["closed"]})
    assert closed["status"] == "closed" and closed["number"].endswith("-DRAFT")
    assert outbox("invoice.created") == []


def test_a_finalized_zero_amount_invoice_is_paid(api, org, gateway):
    # Given a free plan, and a customer whose zero-amount invoices are finalized (the default)
    api.post("/customers", {"customer": {"external_id": "cus_1"}})
    create_plan(api, "free", amount_cents=0)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="free", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    # Then the invoice is numbered and succeeded, as Lago marks an invoice with nothing to collect
    (listed,) = invoices_of(api)
    assert (listed["status"], listed["total_amount_cents"], listed["payment_status"]) == (
        "finalized",
        0,
        "succeeded",
    )
    assert [m["payload"]["payment_status"] for m in outbox("invoice.created")] == ["succeeded"]
    # And it never becomes overdue
    run_billing(gateway, "2024-06-01T00:00:00Z")
    assert invoice(api, listed["lago_id"])["payment_overdue"] is False


def test_per_organization_numbering(api, org, gateway):
    assert (
        api.put("/organizations", {"organization": {"document_numbering": "per_organization"}}).status == 200
    )
    create_plan(api, "startup")
    for n in (1, 2):
        subscribe_at(
            org.id,
            "2024-01-01T00:00:00Z",
            external_id=f"sub_{n}",
            customer=f"cus_{n}",
            subscription_at=at("2024-01-01T00:00:00Z"),
        )
    run_billing(gateway, "2024-02-01T00:00:00Z")
    numbers = sorted(i["number"].split("-", 2)[-1] for i in invoices_of(api))
    assert numbers == ["202402-001", "202402-002"]


def test_customer_timezone_moves_the_boundary(api, org, gateway):
    api.post("/customers", {"customer": {"external_id": "cus_1", "timezone": "America/New_York"}})
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T05:00:00Z", subscription_at=at("2024-01-01T05:00:00Z"))
    run_billing(gateway, "2024-02-01T04:00:00Z")
    assert invoices_of(api) == []
    run_billing(gateway, "2024-02-01T05:00:00Z")
    (only,) = invoices_of(api)
    assert only["issuing_date"] == "2024-02-01" and only["total_amount_cents"] == 10000


def test_minimum_commitment_true_up_of_a_monthly_plan(api, org, gateway, stream, customer):
    # A $100 monthly plan in arrears committing to $150, with $1/GB and 3 GB used in January
    metric = create_metric(api, "storage")
    create_plan(api, "startup", charges=[charge(metric)], minimum_commitment={"amount_cents": 15000})
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    api.post("/events", {"event": event("t1", at="2024-01-15T12:00:00Z", gb=3)})
    stream.drain()

    run_billing(gateway, "2024-02-01T00:00:00Z")

    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    # 150.00 - (100.00 + 3.00) = 47.00
    assert _fees(body) == {"subscription:startup": 10000, "charge:storage": 300, "commitment:startup": 4700}
    assert body["total_amount_cents"] == 15000


def test_yearly_commitment_counts_the_charges_billed_monthly(api, org, gateway, stream, customer):
    # A $1,200 yearly plan in arrears, charges billed monthly at $1/GB, committing to $1,500 a year
    metric = create_metric(api, "storage")
    create_plan(
        api,
        "yearly",
        interval="yearly",
        amount_cents=120000,
        bill_charges_monthly=True,
        charges=[charge(metric)],
        minimum_commitment={"amount_cents": 150000},
    )
    subscribe_at(
        org.id, "2024-01-01T00:00:00Z", plan_code="yearly", subscription_at=at("2024-01-01T00:00:00Z")
    )
    used = {"2024-01-15T12:00:00Z": 10, "2024-06-15T12:00:00Z": 20, "2024-12-15T12:00:00Z": 30}
    for number, (moment, gb) in enumerate(used.items()):
        api.post("/events", {"event": event(f"t{number}", at=moment, gb=gb)})
    stream.drain()

    for month in range(2, 13):
        run_billing(gateway, f"2024-{month:02d}-01T00:00:00Z")
    run_billing(gateway, "2025-01-01T00:00:00Z")

    found = sorted(invoices_of(api), key=lambda i: i["issuing_date"])
    assert [i["issuing_date"] for i in found] == [f"2024-{m:02d}-01" for m in range(2, 13)] + ["2025-01-01"]
    monthly = {i["issuing_date"]: i["total_amount_cents"] for i in found[:-1] if i["total_amount_cents"]}
    assert monthly == {"2024-02-01": 1000, "2024-07-01": 2000}
    last = invoice(api, found[-1]["lago_id"])
    # 1,500.00 - (1,200.00 + 10.00 + 20.00 + 30.00) = 240.00: the commitment covers the whole year
    assert _fees(last) == {"subscription:yearly": 120000, "charge:storage": 3000, "commitment:yearly": 24000}
    assert last["total_amount_cents"] == 147000


def _per_organization_subscriptions(api, org, count: int) -> None:
    assert (
        api.put("/organizations", {"organization": {"document_numbering": "per_organization"}}).status == 200
    )
    create_plan(api, "startup")
    for n in range(count):
        subscribe_at(
            org.id,
            "2024-01-01T00:00:00Z",
            external_id=f"sub_{n}",
            customer=f"cus_{n}",
            subscription_at=at("2024-01-01T00:00:00Z"),
        )


def test_a_run_overtaken_by_a_concurrent_one_invoices_nothing_twice(api, org, gateway, monkeypatch):
    # Two runs for the same "now": the second runs whole between the first's computing its first invoice
    # and committing it (the widest race: every one of the first run's cursors is stale by then)
    from lagoon.data import invoices as invoice_store

    _per_organization_subscriptions(api, org, 4)
    real = invoice_store.advance_cursor
    raced: list[bool] = []

    def overtaken(*args, **kwargs):
        if not raced:
            raced.append(True)
            run_billing(gateway, "2024-02-01T00:00:00Z")
        return real(*args, **kwargs)

    monkeypatch.setattr(invoice_store, "advance_cursor", overtaken)
    run_billing(gateway, "2024-02-01T00:00:00Z")

    assert raced == [True]
    found = invoices_of(api)
    assert sorted(i["customer"]["external_id"] for i in found) == [f"cus_{n}" for n in range(4)]
    assert sorted(i["number"].split("-", 2)[-1] for i in found) == [f"202402-{n:03d}" for n in range(1, 5)]
    assert len(outbox("invoice.created")) == 4
    fees = api.get("/fees", query={"per_page": 100}).json["fees"]
    assert sorted(f["lago_invoice_id"] for f in fees) == sorted(i["lago_id"] for i in found)


def test_a_run_that_crashes_halfway_is_resumed_by_the_next(api, org, gateway, monkeypatch):
    from lagoon.services.invoicing import finalize

    _per_organization_subscriptions(api, org, 5)
    real = finalize.project_invoice
    committed: list[str] = []

    def crash_on_the_third(invoice, previous=None):
        committed.append(invoice.lago_id)
        if len(committed) == 3:
            raise RuntimeError("the function stopped here")
        real(invoice, previous)

    monkeypatch.setattr(finalize, "project_invoice", crash_on_the_third)
    try:
        run_billing(gateway, "2024-02-01T00:00:00Z")
    except RuntimeError:
        pass
    else:
        raise AssertionError("the injected crash did not stop the run")
    # The crash came after the third invoice committed, before its fee documents: two more are left
    assert len(invoices_of(api)) == 3
    assert len(api.get("/fees", query={"per_page": 100}).json["fees"]) == 2

    monkeypatch.setattr(finalize, "project_invoice", real)
    run_billing(gateway, "2024-02-01T01:00:00Z")
    found = invoices_of(api)
    assert len(found) == 5 and {i["total_amount_cents"] for i in found} == {10000}
    assert sorted(i["number"].split("-", 2)[-1] for i in found) == [f"202402-{n:03d}" for n in range(1, 6)]
    fees = api.get("/fees", query={"per_page": 100}).json["fees"]
    assert sorted(f["lago_invoice_id"] for f in fees) == sorted(i["lago_id"] for i in found)
    assert len(outbox("invoice.created")) == 5
