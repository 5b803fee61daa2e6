"""Charges on recurring metrics across periods, through the real aggregator and billing handlers (issue 17):
prorated charges divided by the days of the whole period in a first, partial one (lago-api
`ProratedAggregations::*` over `charges_duration`), and pay-in-advance charges billed again at each renewal for
the units carried into the new period (lago-api `Invoices::CalculateFeesService`, `recurring_fees_spec`)."""

from __future__ import annotations

from typing import Any

import pytest

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


def _charge_fees(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in body["fees"] if f["item"]["type"] == "charge"]


def _event_fees(organization_id: str) -> list[dict[str, Any]]:
    from lagoon.data import entities

    fees = [f for f in entities.query(organization_id, "fee") if f["event_transaction_id"]]
    return sorted(fees, key=lambda f: f["event_transaction_id"])


def _fees_without_invoice(organization_id: str) -> list[dict[str, Any]]:
    """Fees of no invoice and no event: the renewals of non-invoiceable pay-in-advance charges."""
    from lagoon.data import entities

    fees = entities.query(organization_id, "fee")
    found = [f for f in fees if f["lago_invoice_id"] is None and f["event_transaction_id"] is None]
    return sorted(found, key=lambda f: f["from_date"])


def _seats_plan(api: Any, **charge_fields: Any) -> dict[str, Any]:
    """lago-api's recurring_fees_spec: a 49.99 monthly plan paid in advance with a prorated, pay-in-advance
    charge of 30 per seat on a recurring unique count of `item_id`."""
    metric = create_metric(
        api, "seats", aggregation_type="unique_count_agg", field_name="item_id", recurring=True
    )
    fields = {"pay_in_advance": True, "prorated": True, "properties": {"amount": "30"}, **charge_fields}
    return create_plan(api, "pro", amount_cents=4999, pay_in_advance=True, charges=[charge(metric, **fields)])


def _five_seats_in_june(api: Any, org: Any, gateway: Any, stream: Any) -> None:
    """Subscribed June 5th 12:12 (billed then), a seat added each day from June 11th to 15th."""
    subscribe_at(org.id, "2024-06-05T12:12:00Z", plan_code="pro", subscription_at=at("2024-06-05T12:12:00Z"))
    run_billing(gateway, "2024-06-05T12:12:00Z")
    for day in range(11, 16):
        seat = event(
            f"user_{day - 10}", code="seats", at=f"2024-06-{day}T10:00:00Z", item_id=f"user_{day - 10}"
        )
        api.post("/events", {"event": seat})
    stream.drain()


# --- prorated charges in a first, partial period --------------------------------------------------------------


def test_a_prorated_charge_in_a_first_partial_period_divides_by_the_whole_month(api, org, gateway, stream):
    # Given a monthly calendar plan in arrears with a prorated charge of 31 per seat (a recurring sum),
    # subscribed on January 7th, one seat added on the 7th and one on the 15th
    metric = create_metric(api, "seats", field_name="seats", recurring=True)
    create_plan(api, "startup", charges=[charge(metric, prorated=True, properties={"amount": "31"})])
    subscription = subscribe_at(org.id, "2024-01-07T00:00:00Z", subscription_at=at("2024-01-07T00:00:00Z"))
    api.post("/events", {"event": event("t1", code="seats", at="2024-01-07T10:00:00Z", seats=1)})
    api.post("/events", {"event": event("t2", code="seats", at="2024-01-15T10:00:00Z", seats=1)})
    stream.drain()

    # When January is billed
    run_billing(gateway, "2024-02-01T00:00:00Z")

    # Then the seats cost 31 x (25 + 17) / 31 = 42.00 — January's 31 days, not the subscription's 25 (52.08)
    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    [fee] = _charge_fees(body)
    assert (fee["units"], fee["amount_cents"], fee["events_count"]) == ("2", 4200, 2)
    assert fee["from_date"] == "2024-01-07T00:00:00Z" and fee["to_date"] == "2024-01-31T23:59:59Z"
    # And the usage shown during January said the same
    from lagoon.services.usage.current import subscription_usage

    usage = subscription_usage(org.id, subscription, at=at("2024-01-20T00:00:00Z"))
    assert [(c.units, c.amount_cents) for c in usage.charges] == [(2, 4200)]
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})


def test_a_prorated_pay_in_advance_charge_in_a_first_partial_period_counts_the_days_of_the_month(
    api, org, gateway, stream
):
    # Given the same plan with the charge paid in advance, subscribed on January 7th
    metric = create_metric(api, "seats", field_name="seats", recurring=True)
    create_plan(
        api,
        "startup",
        charges=[charge(metric, pay_in_advance=True, prorated=True, properties={"amount": "31"})],
    )
    subscribe_at(org.id, "2024-01-07T00:00:00Z", subscription_at=at("2024-01-07T00:00:00Z"))
    # When a seat is added on the 7th, then one on the 15th
    api.post("/events", {"event": event("t1", code="seats", at="2024-01-07T10:00:00Z", seats=1)})
    api.post("/events", {"event": event("t2", code="seats", at="2024-01-15T10:00:00Z", seats=1)})
    stream.drain()
    # Then they cost 31 x 25/31 = 25.00 and 31 x 17/31 = 17.00 (not 31.00 and 21.08)
    assert [(f["event_transaction_id"], f["amount_cents"]) for f in _event_fees(org.id)] == [
        ("t1", 2500),
        ("t2", 1700),
    ]


def test_a_prorated_charge_in_arrears_bills_a_terminated_period_for_the_days_it_lasted(
    api, org, gateway, stream
):
    # Given lago-api's recurring_fees_spec in arrears: five seats added June 11th to 15th at 30 each, prorated
    _seats_plan(api, pay_in_advance=False)
    _five_seats_in_june(api, org, gateway, stream)
    # When June is billed on July 1st
    run_billing(gateway, "2024-07-01T00:10:00Z")
    # Then each seat counts its days of June's 30: 20 + 19 + 18 + 17 + 16 = 90.00
    [june] = [invoice(api, i["lago_id"]) for i in invoices_of(api) if i["issuing_date"] == "2024-07-01"]
    assert [(f["units"], f["amount_cents"]) for f in _charge_fees(june)] == [("5", 9000)]
    # When the subscription is terminated on July 15th
    from lagoon.services import lifecycle

    lifecycle.terminate_subscription(org.id, "sub_1", now=at("2024-07-15T01:10:00Z"))
    # Then the 5 carried seats are billed 15 of July's 31 days: 5 x 30 x 15/31 = 72.58 (not the whole 150.00)
    [last] = [invoice(api, i["lago_id"]) for i in invoices_of(api) if i["issuing_date"] == "2024-07-15"]
    assert [(f["units"], f["amount_cents"]) for f in _charge_fees(last)] == [("5", 7258)]


# --- pay-in-advance charges on recurring metrics at renewal ------------------------------------------------------


def test_the_renewal_invoice_bills_the_carried_seats_of_an_invoiceable_charge_once(api, org, gateway, stream):
    # Given lago-api's recurring_fees_spec: five seats added June 11th to 15th, each billed at once for the
    # days left in June (30 x 20/30 = 20.00 down to 16.00)
    plan = _seats_plan(api, invoiceable=True)
    _five_seats_in_june(api, org, gateway, stream)
    assert [f["amount_cents"] for f in _event_fees(org.id)] == [2000, 1900, 1800, 1700, 1600]

    # When July 1st is billed, twice
    run_billing(gateway, "2024-07-01T00:10:00Z")
    run_billing(gateway, "2024-07-01T01:10:00Z")

    # Then one renewal invoice bills July in advance: the plan and the 5 seats carried into July, in full
    renewals = [i for i in invoices_of(api) if i["issuing_date"] == "2024-07-01"]
    assert len(renewals) == 1
    body = invoice(api, renewals[0]["lago_id"])
    [fee] = _charge_fees(body)
    assert (fee["units"], fee["amount_cents"], fee["events_count"]) == ("5", 15000, 5)
    assert fee["pay_in_advance"] is False and fee["invoiceable"] is True
    assert fee["lago_charge_id"] == plan["charges"][0]["lago_id"]
    assert (fee["from_date"], fee["to_date"]) == ("2024-07-01T00:00:00Z", "2024-07-31T23:59:59Z")
    assert (body["fees_amount_cents"], body["total_amount_cents"]) == (4999 + 15000, 4999 + 15000)
    assert len(invoices_of(api)) == 7  # the start, five seats, the renewal
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})

    # And a termination on July 15th bills no seat again: July was paid at its start
    from lagoon.services import lifecycle

    lifecycle.terminate_subscription(org.id, "sub_1", now=at("2024-07-15T01:10:00Z"))
    run_billing(gateway, "2024-08-01T00:10:00Z")
    later = [invoice(api, i["lago_id"]) for i in invoices_of(api) if i["issuing_date"] > "2024-07-01"]
    assert [_charge_fees(b) for b in later] == [[] for _ in later]


def test_a_non_invoiceable_charge_gets_a_fee_without_invoice_at_each_renewal(api, org, gateway, stream):
    # Given the same seats on a charge that is not invoiced
    _seats_plan(api, invoiceable=False)
    _five_seats_in_june(api, org, gateway, stream)

    # When July 1st is billed, twice
    run_billing(gateway, "2024-07-01T00:10:00Z")
    run_billing(gateway, "2024-07-01T01:10:00Z")

    # Then one fee without invoice bills the 5 seats for July in full, with its fee.created
    [july] = _fees_without_invoice(org.id)
    assert (july["units"], july["amount_cents"], july["events_count"]) == ("5", 15000, 5)
    assert (july["pay_in_advance"], july["invoiceable"]) == (True, False)
    assert (july["from_date"], july["to_date"]) == ("2024-07-01T00:00:00Z", "2024-07-31T23:59:59Z")
    assert [
        m["payload"]["lago_id"] for m in outbox("fee.created") if m["payload"]["lago_id"] == july["lago_id"]
    ] == [july["lago_id"]]
    # And the renewal invoice bills only the plan
    [renewal] = [i for i in invoices_of(api) if i["issuing_date"] == "2024-07-01"]
    assert _charge_fees(invoice(api, renewal["lago_id"])) == []

    # When two seats join on July 12th and August 1st is billed
    for name in ("user_july_1", "user_july_2"):
        seat = event(name, code="seats", at="2024-07-12T01:10:00Z", item_id=name)
        api.post("/events", {"event": seat})
    stream.drain()
    run_billing(gateway, "2024-08-01T01:10:00Z")

    # Then August's fee bills the 7 seats
    august = _fees_without_invoice(org.id)[1]
    assert (august["units"], august["amount_cents"]) == ("7", 21000)
    assert (august["from_date"], august["to_date"]) == ("2024-08-01T00:00:00Z", "2024-08-31T23:59:59Z")

    # And a termination on August 15th bills nothing more
    from lagoon.services import lifecycle

    lifecycle.terminate_subscription(org.id, "sub_1", now=at("2024-08-15T01:10:00Z"))
    run_billing(gateway, "2024-09-01T00:10:00Z")
    assert len(_fees_without_invoice(org.id)) == 2
    renewals = [m for m in outbox("fee.created") if m["payload"]["event_transaction_id"] is None]
    assert sorted(m["payload"]["units"] for m in renewals) == ["5", "7"]
    assert_matches_contract("/fees/{lago_id}", "get", 200, {"fee": august})


def test_a_run_that_stops_before_its_invoice_commits_leaves_the_fee_for_the_next_one(
    api, org, gateway, stream, monkeypatch
):
    # Given the non-invoiceable seats, and a billing run that crashes as it commits July's invoice
    from lagoon.data import entities
    from lagoon.domain.invoices import KIND as INVOICE_KIND
    from lagoon.services.invoicing.run import run_billing as run_in_process

    _seats_plan(api, invoiceable=False)
    _five_seats_in_june(api, org, gateway, stream)
    commit = entities.Writes.commit

    def crash_at_the_invoice(writes: Any) -> None:
        if any(getattr(record, "kind", None) == INVOICE_KIND for _, record, _ in writes._actions):
            raise RuntimeError("the run stops before the invoice's transaction")
        commit(writes)

    monkeypatch.setattr(entities.Writes, "commit", crash_at_the_invoice)
    with pytest.raises(RuntimeError, match="stops before"):
        run_in_process(at("2024-07-01T00:10:00Z"))
    monkeypatch.setattr(entities.Writes, "commit", commit)
    [written] = _fees_without_invoice(org.id)
    assert [i["issuing_date"] for i in invoices_of(api) if i["issuing_date"] == "2024-07-01"] == []

    # When the next run bills July
    run_billing(gateway, "2024-07-01T01:10:00Z")

    # Then July has its invoice, and still the one fee and the one webhook
    assert len([i for i in invoices_of(api) if i["issuing_date"] == "2024-07-01"]) == 1
    assert _fees_without_invoice(org.id) == [written]
    renewals = [m for m in outbox("fee.created") if m["payload"]["event_transaction_id"] is None]
    assert [m["payload"]["lago_id"] for m in renewals] == [written["lago_id"]]


def test_a_draft_renewal_invoice_keeps_its_seats_through_finalization(api, org, gateway, stream):
    # Given a customer with a 3-day grace period and the invoiceable seats
    api.post(
        "/customers",
        {"customer": {"external_id": "cus_1", "billing_configuration": {"invoice_grace_period": 3}}},
    )
    _seats_plan(api, invoiceable=True)
    _five_seats_in_june(api, org, gateway, stream)
    # When July 1st is billed as a draft, then finalized when the grace period ends
    run_billing(gateway, "2024-07-01T00:10:00Z")
    [draft] = [i for i in invoices_of(api) if i["issuing_date"] == "2024-07-01"]
    assert draft["status"] == "draft"
    run_billing(gateway, "2024-07-04T00:10:00Z")
    # Then the finalized invoice bills the 5 seats once
    final = invoice(api, draft["lago_id"])
    assert final["status"] == "finalized"
    assert [(f["units"], f["amount_cents"]) for f in _charge_fees(final)] == [("5", 15000)]


def test_a_downgrade_bills_the_carried_seats_on_the_last_invoice_of_the_old_plan(api, org, gateway, stream):
    # Given the invoiceable seats (not prorated: 30 a seat) on a plan started January 1st, two seats on the 10th,
    # and a downgrade to a cheaper plan requested on the 15th (effective February 1st)
    _seats_plan(api, invoiceable=True, prorated=False)
    create_plan(api, "lite", amount_cents=1000, pay_in_advance=True)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-01T00:00:00Z"))
    for name in ("user_1", "user_2"):
        api.post("/events", {"event": event(name, code="seats", at="2024-01-10T10:00:00Z", item_id=name)})
    stream.drain()
    subscribe_at(org.id, "2024-01-15T00:00:00Z", plan_code="lite")
    # When the downgrade switches plans on February 1st
    run_billing(gateway, "2024-02-01T00:00:00Z")
    gateway.functions.invoke("SubscriptionClockFunction", {"time": "2024-02-01T00:00:00Z"})
    run_billing(gateway, "2024-02-01T01:00:00Z")
    # Then the old plan's last invoice bills its two seats for February, as lago-api does when a downgrade
    # follows (an upgrade or a plain termination would not)
    [february] = [invoice(api, i["lago_id"]) for i in invoices_of(api) if i["issuing_date"] == "2024-02-01"]
    assert [(f["units"], f["amount_cents"], f["from_date"]) for f in _charge_fees(february)] == [
        ("2", 6000, "2024-02-01T00:00:00Z")
    ]


@pytest.mark.parametrize("invoiceable", [True, False])
def test_a_renewal_with_nothing_carried_is_an_invoice_fee_only_without_invoice(
    api, org, gateway, stream, invoiceable
):
    # Given the seats charge, one seat added on June 11th and removed on the 12th, nothing in July
    _seats_plan(api, invoiceable=invoiceable)
    subscribe_at(org.id, "2024-06-05T12:12:00Z", plan_code="pro", subscription_at=at("2024-06-05T12:12:00Z"))
    for name, day, operation in (("add", 11, "add"), ("remove", 12, "remove")):
        seat = event(
            name, code="seats", at=f"2024-06-{day}T10:00:00Z", item_id="user_1", operation_type=operation
        )
        api.post("/events", {"event": seat})
    stream.drain()

    # When July and August are billed
    run_billing(gateway, "2024-07-01T00:10:00Z")
    run_billing(gateway, "2024-08-01T00:10:00Z")

    # Then August's renewal carries nothing: 0 units, 0 cents, no July event. lago-api keeps such a fee
    # only without invoice (its `:recurring` context), so the invoice has no charge fee…
    [august] = [invoice(api, i["lago_id"]) for i in invoices_of(api) if i["issuing_date"] == "2024-08-01"]
    assert _charge_fees(august) == []
    assert august["fees_amount_cents"] == 4999
    # …and the non-invoiceable charge still gets its empty fee without invoice
    renewals = [(f["from_date"][:10], f["units"], f["amount_cents"]) for f in _fees_without_invoice(org.id)]
    assert renewals == ([] if invoiceable else [("2024-07-01", "0", 0), ("2024-08-01", "0", 0)])
