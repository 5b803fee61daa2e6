"""Drafts, finalization, terminations, plan changes, payment status and overdue invoices."""

from __future__ import annotations

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


def _grace_period_subscription(api, org) -> None:
    """A customer with a 3-day grace period on a $100 monthly plan in arrears with $1/GB, from 2024-01-01."""
    api.post(
        "/customers",
        {"customer": {"external_id": "cus_1", "billing_configuration": {"invoice_grace_period": 3}}},
    )
    metric = create_metric(api, "storage")
    create_plan(api, "startup", charges=[charge(metric)])
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))


def test_grace_period_keeps_a_draft_that_late_usage_changes_until_it_is_finalized(api, org, gateway, stream):
    _grace_period_subscription(api, org)
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (draft,) = invoices_of(api)
    assert draft["status"] == "draft" and draft["number"].endswith("-DRAFT")
    assert draft["total_amount_cents"] == 10000
    assert len(outbox("invoice.drafted")) == 1

    # A late event of January, then a refresh
    api.post("/events", {"event": event("late", at="2024-01-31T23:00:00Z", gb=5)})
    stream.drain()
    refreshed = api.put(f"/invoices/{draft['lago_id']}/refresh")
    assert refreshed.status == 200
    assert refreshed.json["invoice"]["total_amount_cents"] == 10500

    # The grace period ends on February 4th: the hourly run finalizes it
    run_billing(gateway, "2024-02-03T23:00:00Z")
    assert invoice(api, draft["lago_id"])["status"] == "draft"
    run_billing(gateway, "2024-02-04T00:00:00Z")
    final = invoice(api, draft["lago_id"])
    assert final["status"] == "finalized" and final["number"].endswith("-001-001")
    assert final["issuing_date"] == "2024-02-04" and final["total_amount_cents"] == 10500
    assert len(outbox("invoice.created")) == 1

    # An event of January arriving now is stored but not billed any more
    api.post("/events", {"event": event("too_late", at="2024-01-31T23:30:00Z", gb=7)})
    stream.drain()
    assert api.put(f"/invoices/{draft['lago_id']}/refresh").json["invoice"]["total_amount_cents"] == 10500
    assert_matches_contract("/invoices/{lago_id}/refresh", "put", 200, refreshed.json)


def _drop_refresh_flags() -> int:
    from lagoon.data.usage_keys import REFRESH_PK
    from lagoon.data.usage_store import UsageStore, aggregates_table

    store = UsageStore()
    flags = list(store.query(aggregates_table(), REFRESH_PK))
    for flag in flags:
        store.delete_item(
            aggregates_table(),
            (REFRESH_PK, flag["sk"]["S"]),
            condition="attribute_exists(#pk)",
            names={"#pk": "pk"},
            values={},
        )
    return len(flags)


def test_the_hourly_run_refreshes_a_draft_that_late_events_changed(api, org, gateway, stream):
    _grace_period_subscription(api, org)
    api.post("/events", {"event": event("on_time", at="2024-01-20T10:00:00Z", gb=2)})
    stream.drain()
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (draft,) = invoices_of(api)
    assert draft["status"] == "draft" and draft["total_amount_cents"] == 10200

    # Late January events, one sent twice; the batch is folded, its draft flag lost (as if the aggregator
    # stopped before writing it), then the batch redelivered: the flag is written again, nothing counted twice
    api.post("/events", {"event": event("late_1", at="2024-01-31T23:00:00Z", gb=5)})
    api.post("/events", {"event": event("late_1", at="2024-01-31T23:00:00Z", gb=5)})
    api.post("/events", {"event": event("late_2", at="2024-01-15T08:00:00Z", gb=1)})
    records = stream.pending()
    stream.deliver(records)
    assert _drop_refresh_flags() == 1
    stream.deliver(records)
    stream.mark_delivered(records)
    # February usage belongs to the next period and leaves the draft alone
    api.post("/events", {"event": event("february", at="2024-02-01T06:00:00Z", gb=40)})
    stream.drain()
    assert invoice(api, draft["lago_id"])["total_amount_cents"] == 10200
    result = run_billing(gateway, "2024-02-01T01:00:00Z")
    assert result["refreshed"] == 1
    body = invoice(api, draft["lago_id"])
    assert body["status"] == "draft" and body["total_amount_cents"] == 10800
    assert {f["item"]["type"]: f["units"] for f in body["fees"]} == {"subscription": "1", "charge": "8"}
    # Nothing new: the next run refreshes nothing
    assert run_billing(gateway, "2024-02-01T02:00:00Z")["refreshed"] == 0

    # Finalized at the end of the grace period, a later January event no longer flags nor changes it
    run_billing(gateway, "2024-02-04T00:00:00Z")
    assert invoice(api, draft["lago_id"])["status"] == "finalized"
    api.post("/events", {"event": event("too_late", at="2024-01-31T23:30:00Z", gb=7)})
    stream.drain()
    assert run_billing(gateway, "2024-02-04T01:00:00Z")["refreshed"] == 0
    assert invoice(api, draft["lago_id"])["total_amount_cents"] == 10800
    assert len(outbox("invoice.created")) == 1


def test_manual_finalize(api, org, gateway):
    api.post(
        "/customers",
        {"customer": {"external_id": "cus_1", "billing_configuration": {"invoice_grace_period": 5}}},
    )
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (draft,) = invoices_of(api)
    response = api.put(f"/invoices/{draft['lago_id']}/finalize")
    assert response.status == 200, response.body
    assert response.json["invoice"]["status"] == "finalized"
    # The timer finds it finalized: no second number, no second webhook
    run_billing(gateway, "2024-02-06T00:00:00Z")
    assert len(outbox("invoice.created")) == 1
    assert api.put("/invoices/00000000-0000-4000-8000-000000000000/finalize").status == 404
    assert_matches_contract("/invoices/{lago_id}/finalize", "put", 200, response.json)


def test_termination_bills_at_once(api, org, gateway, stream, customer):
    metric = create_metric(api, "storage")
    create_plan(api, "startup", charges=[charge(metric)])
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    from lagoon.services import lifecycle

    api.post("/events", {"event": event("t1", at="2024-01-05T12:00:00Z", gb=2)})
    stream.drain()
    lifecycle.terminate_subscription(org.id, "sub_1", now=at("2024-01-16T10:00:00Z"))
    (only,) = invoices_of(api)
    body = invoice(api, only["lago_id"])
    # 16/31 of 100.00 = 51.61 in arrears, and the usage until then
    assert body["fees_amount_cents"] == 5161 + 200
    assert body["billing_periods"][0]["invoicing_reason"] == "subscription_terminating"
    run_billing(gateway, "2024-02-01T00:00:00Z")
    assert len(invoices_of(api)) == 1


def test_upgrade_terminates_and_starts_on_one_invoice(api, org, gateway, customer):
    create_plan(api, "startup", amount_cents=3100)
    create_plan(api, "pro", amount_cents=6200, pay_in_advance=True)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    subscribe_at(org.id, "2024-01-11T00:00:00Z", plan_code="pro")
    (only,) = invoices_of(api)
    body = invoice(api, only["lago_id"])
    amounts = sorted((f["item"]["code"], f["amount_cents"]) for f in body["fees"])
    # startup: January 1st-10th, 10/31 of 31.00 in arrears; pro: 21/31 of 62.00 in advance
    assert amounts == [("pro", 4200), ("startup", 1000)]
    assert {p["invoicing_reason"] for p in body["billing_periods"]} == {
        "subscription_terminating",
        "subscription_starting",
    }


def test_downgrade_switches_at_the_period_end(api, org, gateway, customer):
    create_plan(api, "pro", amount_cents=6200, pay_in_advance=True)
    create_plan(api, "startup", amount_cents=3100, pay_in_advance=True)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-01T00:00:00Z"))
    subscribe_at(org.id, "2024-01-11T00:00:00Z", plan_code="startup")
    # The hourly run comes before the clock: it leaves the downgrading subscription to it
    run_billing(gateway, "2024-02-01T00:00:00Z")
    gateway.functions.invoke("SubscriptionClockFunction", {"time": "2024-02-01T00:00:00Z"})
    run_billing(gateway, "2024-02-01T01:00:00Z")
    found = sorted(invoices_of(api), key=lambda i: i["issuing_date"])
    assert [(i["issuing_date"], i["total_amount_cents"]) for i in found] == [
        ("2024-01-01", 6200),
        ("2024-02-01", 3100),
    ]


def test_payment_status_update_and_overdue(api, org, gateway):
    api.post("/customers", {"customer": {"external_id": "cus_1", "net_payment_term": 10}})
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (first,) = invoices_of(api)
    assert first["payment_due_date"] == "2024-02-11"
    run_billing(gateway, "2024-02-11T23:00:00Z")
    assert invoice(api, first["lago_id"])["payment_overdue"] is False
    run_billing(gateway, "2024-02-12T00:00:00Z")
    run_billing(gateway, "2024-02-12T01:00:00Z")
    assert invoice(api, first["lago_id"])["payment_overdue"] is True
    assert len(outbox("invoice.payment_overdue")) == 1
    assert invoices_of(api, payment_overdue="true")[0]["lago_id"] == first["lago_id"]

    body = {"invoice": {"payment_status": "succeeded", "metadata": [{"key": "ref", "value": "X-1"}]}}
    response = api.put(f"/invoices/{first['lago_id']}", body)
    assert response.status == 200, response.body
    updated = response.json["invoice"]
    assert updated["payment_status"] == "succeeded" and updated["payment_overdue"] is False
    assert updated["metadata"][0]["key"] == "ref"
    assert [m["payload"]["payment_status"] for m in outbox("invoice.payment_status_updated")] == ["succeeded"]
    assert invoices_of(api, status="finalized", payment_status="succeeded")[0]["lago_id"] == first["lago_id"]
    assert invoices_of(api, **{"payment_statuses[]": ["pending"]}) == []
    assert_matches_contract("/invoices/{lago_id}", "put", 200, response.json)


def test_customer_deletion_bills_and_finalizes_its_drafts(api, org, gateway):
    api.post(
        "/customers",
        {"customer": {"external_id": "cus_1", "billing_configuration": {"invoice_grace_period": 3}}},
    )
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    # (the deletion happens at the wall clock: the termination bills every month since, at once)
    assert api.delete("/customers/cus_1").status == 200
    statuses = {i["status"] for i in invoices_of(api)}
    assert statuses == {"finalized"} and len(invoices_of(api)) >= 2


def test_list_contract_customer_invoices_and_deferred_routes(api, org, gateway, customer):
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    listed = api.get("/invoices", query={"external_customer_id": "cus_1", "issuing_date_from": "2024-02-01"})
    assert listed.json["meta"]["total_count"] == 1
    per_customer = api.get("/customers/cus_1/invoices")
    assert len(per_customer.json["invoices"]) == 1
    assert api.get("/customers/nobody/invoices").status == 404
    assert api.get("/invoices", query={"currency": "EUR"}).json["invoices"] == []
    # An issuing date that is not a date is a Lago validation error, not an empty or wrong list
    for path in ("/invoices", "/customers/cus_1/invoices"):
        bad = api.get(path, query={"issuing_date_to": "2024-13-01"})
        assert (bad.status, bad.json["error_details"]) == (422, {"issuing_date_to": ["invalid_date"]})
    early = api.get("/invoices", query={"issuing_date_to": "2024-01-31"})
    assert early.json["invoices"] == []
    # Issue 9 serves one-off invoices, deletion, download, void and the payment actions
    # (tests/integration/documents); preview stays deferred.
    response = api.request("POST", "/invoices/preview", {})
    assert response.status == 405, response.body
    assert response.json["code"] == "not_implemented"
    assert_matches_contract("/invoices", "get", 200, listed.json)
    assert_matches_contract("/customers/{external_customer_id}/invoices", "get", 200, per_customer.json)


def test_upgrade_in_the_second_of_creation_still_bills_the_days_used(api, org, gateway, customer):
    # Given a subscription created on January 10th at 10:00:00.2 with a subscription_at on January 1st
    create_plan(api, "startup", amount_cents=3100)
    create_plan(api, "pro", amount_cents=6200, pay_in_advance=True)
    subscribe_at(org.id, "2024-01-10T10:00:00.200000Z", subscription_at=at("2024-01-01T00:00:00Z"))
    # When it upgrades within the same second (created_at and terminated_at are both 10:00:00)
    subscribe_at(org.id, "2024-01-10T10:00:00.700000Z", plan_code="pro")
    # Then January 1st-10th of startup is owed in arrears, and pro from the 10th in advance
    (only,) = invoices_of(api)
    amounts = sorted((f["item"]["code"], f["amount_cents"]) for f in invoice(api, only["lago_id"])["fees"])
    assert amounts == [("pro", 4400), ("startup", 1000)]
