"""Recurring units across a plan change: the new subscription keeps the external_id, and lago-api reads a
recurring metric's events by external subscription id without the period's lower bound, so it starts with the
units the previous subscription carried — in its usage, its invoices, its pay-in-advance fees and its renewals
(`recurring_fee_upgrade_spec`, `recurring_fee_downgrade_spec`)."""

from __future__ import annotations

from typing import Any

from tests.contract import assert_matches_contract
from tests.integration.ingestion.conftest import epoch
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


def _charge_fees(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in body["fees"] if f["item"]["type"] == "charge"]


def _event_fees(organization_id: str) -> list[tuple[str, int]]:
    from lagoon.data import entities

    fees = [f for f in entities.query(organization_id, "fee") if f["event_transaction_id"]]
    return sorted((f["event_transaction_id"], f["amount_cents"]) for f in fees)


def _renewals(organization_id: str) -> list[dict[str, Any]]:
    """Fees of no invoice and no event: the renewals of non-invoiceable pay-in-advance charges."""
    from lagoon.data import entities

    fees = entities.query(organization_id, "fee")
    found = [f for f in fees if f["lago_invoice_id"] is None and f["event_transaction_id"] is None]
    return sorted(
        found, key=lambda f: (f["from_date"], f["lago_subscription_id"], str(f["item"]["grouped_by"]))
    )


def _seat(api: Any, transaction_id: str, moment: str, user: str, **properties: Any) -> None:
    body = event(transaction_id, code="seats", at=moment, item_id=user, **properties)
    assert api.post("/events", {"event": body}).status == 200


def _seats_metric(api: Any) -> dict[str, Any]:
    return create_metric(
        api, "seats", aggregation_type="unique_count_agg", field_name="item_id", recurring=True
    )


def test_an_upgrade_keeps_the_seats_the_old_plan_carried(api, org, gateway, stream):
    # Given lago-api's recurring_fee_upgrade_spec: seats grouped by item_id, paid in advance, prorated and not
    # invoiceable, 30 a seat on "basic" (49.99) and 60 on "upgraded" (99.99), both plans paid in advance
    metric = _seats_metric(api)
    fields = {"pay_in_advance": True, "invoiceable": False, "prorated": True}
    for code, amount_cents, price in (("basic", 4999, "30"), ("upgraded", 9999, "60")):
        properties = {"amount": price, "grouped_by": ["item_id"]}
        create_plan(
            api,
            code,
            amount_cents=amount_cents,
            pay_in_advance=True,
            charges=[charge(metric, properties=properties, **fields)],
        )
    subscribe_at(
        org.id, "2024-06-01T00:00:00Z", plan_code="basic", subscription_at=at("2024-06-01T00:00:00Z")
    )
    run_billing(gateway, "2024-06-01T00:00:00Z")
    _seat(api, "tx_1", "2024-06-05T00:00:00Z", "user_1")
    _seat(api, "tx_2", "2024-06-15T10:05:59Z", "user_2")
    stream.drain()
    # When the subscription is upgraded on June 15th at 10:06, and users 3 and 4 join on the 19th, user_1 again
    new = subscribe_at(org.id, "2024-06-15T10:06:00Z", plan_code="upgraded")
    assert new.previous_subscription_id is not None
    _seat(api, "tx_3", "2024-06-19T00:00:00Z", "user_3")
    _seat(api, "tx_4", "2024-06-19T00:00:00Z", "user_4")
    _seat(api, "tx_5", "2024-06-20T00:00:00Z", "user_1")
    stream.drain()

    # Then users 3 and 4 pay 60 x 12/30 = 24.00 each; user_1, carried from the old plan, nothing more
    assert _event_fees(org.id) == [
        ("tx_1", 2600),
        ("tx_2", 1600),
        ("tx_3", 2400),
        ("tx_4", 2400),
        ("tx_5", 0),
    ]
    # And the new subscription's usage counts the four seats
    from lagoon.services.usage.current import subscription_usage

    usage = subscription_usage(org.id, new, at=at("2024-06-25T00:00:00Z"))
    assert sorted((str(c.grouped_by), c.units) for c in usage.charges) == [
        (str({"item_id": f"user_{n}"}), 1) for n in range(1, 5)
    ]
    # And estimating user_2 again (carried) says 0, a new user_9 60 x 11/30 = 22.00
    for user, cents in (("user_2", 0), ("user_9", 2200)):
        estimate = {"external_subscription_id": "sub_1", "code": "seats", "properties": {"item_id": user}}
        response = api.post(
            "/events/estimate_fees", {"event": {**estimate, "timestamp": epoch("2024-06-20T10:00:00Z")}}
        )
        assert [f["amount_cents"] for f in response.json["fees"]] == [cents]

    # When July 1st is billed, twice
    run_billing(gateway, "2024-07-01T00:10:00Z")
    run_billing(gateway, "2024-07-01T01:10:00Z")
    # Then the renewal bills the four seats for July, in full, at the new plan's 60 — once each
    july = [f for f in _renewals(org.id) if f["from_date"] == "2024-07-01T00:00:00Z"]
    assert [(f["item"]["grouped_by"], f["units"], f["amount_cents"]) for f in july] == [
        ({"item_id": f"user_{n}"}, "1", 6000) for n in range(1, 5)
    ]
    assert {f["lago_subscription_id"] for f in july} == {new.lago_id}
    # And no fee was made for the new subscription at the upgrade itself
    assert [f["from_date"] for f in _renewals(org.id)] == ["2024-07-01T00:00:00Z"] * 4
    assert_matches_contract("/fees/{lago_id}", "get", 200, {"fee": july[0]})


def test_an_upgrade_in_arrears_bills_the_carried_units_on_the_new_plan_s_invoice(api, org, gateway, stream):
    # Given a recurring sum of seats billed in arrears, 1 a seat on "startup", 2 on "premium"
    metric = create_metric(api, "seats", field_name="seats", recurring=True)
    create_plan(api, "startup", amount_cents=1000, charges=[charge(metric, properties={"amount": "1"})])
    create_plan(api, "premium", amount_cents=2000, charges=[charge(metric, properties={"amount": "2"})])
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    api.post("/events", {"event": event("tx_1", code="seats", at="2024-01-10T10:00:00Z", seats=5)})
    stream.drain()
    run_billing(gateway, "2024-02-01T00:10:00Z")
    # When it is upgraded on February 10th and one seat is added on the 20th
    new = subscribe_at(org.id, "2024-02-10T00:00:00Z", plan_code="premium")
    api.post("/events", {"event": event("tx_2", code="seats", at="2024-02-20T10:00:00Z", seats=1)})
    stream.drain()
    # Then the new subscription's usage shows the 6 seats (5 carried, not only its own 1)
    from lagoon.services.usage.current import subscription_usage

    usage = subscription_usage(org.id, new, at=at("2024-02-25T00:00:00Z"))
    assert [(c.units, c.amount_cents, c.events_count) for c in usage.charges] == [(6, 1200, 2)]

    # When March 1st is billed, twice
    run_billing(gateway, "2024-03-01T00:10:00Z")
    run_billing(gateway, "2024-03-01T01:10:00Z")
    # Then the old plan billed its 5 seats for January and for February 1st-10th, the new plan 6 seats once
    charges_by_day = sorted(
        (
            i["issuing_date"],
            [(f["units"], f["amount_cents"]) for f in _charge_fees(invoice(api, i["lago_id"]))],
        )
        for i in invoices_of(api)
    )
    assert charges_by_day == [
        ("2024-02-01", [("5", 500)]),
        ("2024-02-10", [("5", 500)]),
        ("2024-03-01", [("6", 1200)]),
    ]


def test_a_downgrade_hands_the_carried_seats_to_the_new_plan_after_billing_them_once(
    api, org, gateway, stream
):
    # Given seats paid in advance and invoiceable, 30 a seat on "pro" (not prorated), 20 on "lite"
    metric = _seats_metric(api)
    for code, amount_cents, price in (("pro", 4999, "30"), ("lite", 1000, "20")):
        seats = charge(metric, pay_in_advance=True, invoiceable=True, properties={"amount": price})
        create_plan(api, code, amount_cents=amount_cents, pay_in_advance=True, charges=[seats])
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-01T00:00:00Z"))
    _seat(api, "tx_1", "2024-01-10T10:00:00Z", "user_1")
    _seat(api, "tx_2", "2024-01-10T10:00:00Z", "user_2")
    stream.drain()
    # And a downgrade to "lite" requested on January 15th, effective February 1st
    subscribe_at(org.id, "2024-01-15T00:00:00Z", plan_code="lite")
    run_billing(gateway, "2024-02-01T00:00:00Z")
    gateway.functions.invoke("SubscriptionClockFunction", {"time": "2024-02-01T00:00:00Z"})
    run_billing(gateway, "2024-02-01T01:00:00Z")
    # When user_1 is added again on February 5th and user_3 joins
    _seat(api, "tx_3", "2024-02-05T10:00:00Z", "user_1")
    _seat(api, "tx_4", "2024-02-05T10:00:00Z", "user_3")
    stream.drain()
    # And March 1st is billed
    run_billing(gateway, "2024-03-01T00:10:00Z")

    # Then February's two seats were billed once, on the old plan's last invoice (2 x 30); user_1 again
    # nothing, user_3 20.00; and March bills the three seats at the new plan's 20
    lite_id = _lite_subscription_id(org.id)
    seat_fees = sorted(
        (f["from_date"][:10], f["units"], f["amount_cents"], f["lago_subscription_id"] == lite_id)
        for i in invoices_of(api)
        for f in _charge_fees(invoice(api, i["lago_id"]))
        if f["event_transaction_id"] is None
    )
    assert seat_fees == [("2024-02-01", "2", 6000, False), ("2024-03-01", "3", 6000, True)]
    assert _event_fees(org.id) == [("tx_1", 3000), ("tx_2", 3000), ("tx_3", 0), ("tx_4", 2000)]


def _lite_subscription_id(organization_id: str) -> str:
    from lagoon.data.subscriptions import subscriptions_of

    return next(s.lago_id for s in subscriptions_of(organization_id, "sub_1") if s.plan_code == "lite")
