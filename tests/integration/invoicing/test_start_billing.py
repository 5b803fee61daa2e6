"""A pay-in-advance plan is invoiced when its subscription starts, as Lago's `Subscriptions::ActivateService`
does: at once on `POST /subscriptions` for a subscription starting now, when the clock starts a pending one,
and — with a trial — when the clock ends the trial (`Subscriptions::FreeTrialBillingService`). The hourly run
never bills that start again."""

from __future__ import annotations

from typing import Any

from tests.contract import assert_matches_contract
from tests.integration.invoicing.conftest import (
    at,
    create_plan,
    invoice,
    invoices_of,
    outbox,
    run_billing,
    scheduled_event,
    subscribe_at,
)


def _run_clock(gateway: Any, time: str) -> Any:
    return gateway.functions.invoke("SubscriptionClockFunction", scheduled_event(time))


def test_post_subscriptions_invoices_an_in_advance_plan_at_once(api, gateway, customer):
    # Given a $31 monthly plan paid in advance, billed on the anniversary (a whole first period from today)
    create_plan(api, "pro", pay_in_advance=True, amount_cents=3100)

    # When the subscription is created through the API, starting now
    body = {
        "external_customer_id": "cus_1",
        "plan_code": "pro",
        "external_id": "sub_1",
        "billing_time": "anniversary",
    }
    response = api.post("/subscriptions", {"subscription": body})
    assert response.status == 200, response.body
    subscription = response.json["subscription"]

    # Then its first period is invoiced in the same request: the whole $31, finalized, announced once
    (only,) = invoices_of(api)
    found = invoice(api, only["lago_id"])
    assert [(f["item"]["code"], f["amount_cents"]) for f in found["fees"]] == [("pro", 3100)]
    assert found["status"] == "finalized" and found["total_amount_cents"] == 3100
    (period,) = found["billing_periods"]
    assert period["invoicing_reason"] == "subscription_starting"
    assert period["lago_subscription_id"] == subscription["lago_id"]
    assert [m["payload"]["lago_id"] for m in outbox("invoice.created")] == [found["lago_id"]]
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": found})

    # And the hourly run that follows bills nothing more
    run_billing(gateway, subscription["started_at"])
    assert len(invoices_of(api)) == 1 and len(outbox("invoice.created")) == 1


def test_an_in_arrears_plan_owes_nothing_at_its_start(api, org, customer):
    create_plan(api, "startup", amount_cents=3100)
    subscribe_at(org.id, "2024-01-20T00:00:00Z", subscription_at=at("2024-01-20T00:00:00Z"))
    assert invoices_of(api) == []


def test_a_pending_subscription_is_invoiced_when_the_clock_starts_it(api, org, gateway, customer):
    # Given an in-advance plan subscribed on January 10th, starting on the 20th
    create_plan(api, "pro", pay_in_advance=True, amount_cents=3100)
    pending = subscribe_at(
        org.id, "2024-01-10T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-20T00:00:00Z")
    )
    assert pending.status == "pending" and invoices_of(api) == []

    # When the clock starts it
    _run_clock(gateway, "2024-01-20T00:05:00Z")

    # Then its first period is invoiced at once: January 20th to 31st, 12/31 of $31
    (only,) = invoices_of(api)
    found = invoice(api, only["lago_id"])
    assert found["total_amount_cents"] == 1200 and found["issuing_date"] == "2024-01-20"
    assert found["billing_periods"][0]["invoicing_reason"] == "subscription_starting"
    assert found["billing_periods"][0]["subscription_from_datetime"] == "2024-01-20T00:00:00Z"

    # And neither the next clock run nor the hourly run bills it again; February comes at its boundary
    _run_clock(gateway, "2024-01-20T00:10:00Z")
    run_billing(gateway, "2024-01-20T01:00:00Z")
    assert len(invoices_of(api)) == 1
    run_billing(gateway, "2024-02-01T00:00:00Z")
    found_all = sorted(invoices_of(api), key=lambda i: i["issuing_date"])
    assert [i["total_amount_cents"] for i in found_all] == [1200, 3100]
    assert len(outbox("invoice.created")) == 2


def test_a_trial_defers_the_invoice_to_the_clock_that_ends_it(api, org, gateway, customer):
    # Given an in-advance plan with a 10-day trial, subscribed on January 1st
    create_plan(api, "pro", pay_in_advance=True, amount_cents=3100, trial_period=10)
    subscribe_at(org.id, "2024-01-01T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-01T00:00:00Z"))

    # Then nothing is invoiced while the trial runs (Lago: not `in_trial_period?`)
    assert invoices_of(api) == []
    _run_clock(gateway, "2024-01-05T00:05:00Z")
    assert invoices_of(api) == []

    # When the clock ends the trial on January 11th
    _run_clock(gateway, "2024-01-11T00:05:00Z")

    # Then the trial_ended webhook and the first paid days come together: 21/31 of $31
    assert len(outbox("subscription.trial_ended")) == 1
    (only,) = invoices_of(api)
    found = invoice(api, only["lago_id"])
    assert found["total_amount_cents"] == 2100
    assert found["billing_periods"][0]["invoicing_reason"] == "subscription_starting"
    assert found["issuing_date"] == "2024-01-11"

    # And the hourly run does not bill it again
    run_billing(gateway, "2024-01-11T01:00:00Z")
    assert len(invoices_of(api)) == 1 and len(outbox("invoice.created")) == 1


def test_a_start_that_cannot_be_billed_at_once_is_billed_by_the_hourly_run(
    api, org, gateway, customer, monkeypatch
):
    from lagoon import errors
    from lagoon.services.invoicing import run

    # Given a start whose billing fails (the storage is unavailable for a moment)
    create_plan(api, "pro", pay_in_advance=True, amount_cents=3100)

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise errors.TransientFailure("storage unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(run, "bill_customer", unavailable)
        created = subscribe_at(
            org.id, "2024-01-20T00:00:00Z", plan_code="pro", subscription_at=at("2024-01-20T00:00:00Z")
        )

    # Then the subscription is created all the same, and the next hourly run bills its start once
    assert created.status == "active" and invoices_of(api) == []
    run_billing(gateway, "2024-01-20T01:00:00Z")
    run_billing(gateway, "2024-01-20T02:00:00Z")
    (only,) = invoices_of(api)
    assert only["total_amount_cents"] == 1200
