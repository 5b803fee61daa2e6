"""Invoicing end to end: a Lago user's calls over HTTP, the billing clock driven by `/_local/tick`.

Each test has its own local stack (ticks move every organization's clock, so a shared stack would bill other
tests' subscriptions). Subscriptions start in 2030 (pending now, activated by the tick at their
`subscription_at`) so every amount is fixed; plan changes are requests, which happen at the wall clock, so
those amounts follow today's date with the proration written out next to them.
Invoices are read through lago-python-client: it must parse every invoice Lagoon answers.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStackProcess


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStackProcess]:
    """A fresh local stack of its own for one test."""
    process = LocalStackProcess(tmp_path / "stack").start()
    try:
        yield process
    finally:
        try:
            process.stop()
        except Exception:
            process.kill()


def _ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


class Lago:
    """The calls a Lago user makes, over HTTP."""

    def __init__(self, stack: LocalStackProcess) -> None:
        self.stack = stack
        self.client = stack.lago_client()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return _ok(self.stack.session.post(self.stack.url(f"/api/v1{path}"), json=body))

    def put(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return _ok(self.stack.session.put(self.stack.url(f"/api/v1{path}"), json=body or {}))

    def metric(self, code: str = "storage") -> dict[str, Any]:
        body = {"name": code, "code": code, "aggregation_type": "sum_agg", "field_name": "gb"}
        return self.post("/billable_metrics", {"billable_metric": body})["billable_metric"]  # type: ignore[no-any-return]

    def plan(self, code: str, amount_cents: int, **fields: Any) -> None:
        body = {
            "name": code,
            "code": code,
            "interval": "monthly",
            "amount_cents": amount_cents,
            "amount_currency": "USD",
            "pay_in_advance": False,
            **fields,
        }
        self.post("/plans", {"plan": body})

    def customer(self, external_id: str, **fields: Any) -> None:
        self.post("/customers", {"customer": {"external_id": external_id, "name": external_id, **fields}})

    def subscribe(self, customer: str, plan_code: str, external_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "external_customer_id": customer,
            "plan_code": plan_code,
            "external_id": external_id,
            **fields,
        }
        return self.post("/subscriptions", {"subscription": body})["subscription"]  # type: ignore[no-any-return]

    def usage(self, subscription: str, at: str, gb: int, transaction_id: str | None = None) -> None:
        event = {
            "transaction_id": transaction_id or uuid.uuid4().hex,
            "external_subscription_id": subscription,
            "code": "storage",
            "timestamp": int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()),
            "properties": {"gb": gb},
        }
        self.post("/events", {"event": event})

    def invoices(self, **query: Any) -> list[Any]:
        """Every invoice of the organization, through lago-python-client, oldest first."""
        found = self.client.invoices.find_all({"per_page": 100, **query})["invoices"]
        return sorted(found, key=lambda invoice: (invoice.issuing_date, invoice.number))

    def fees(self, invoice: Any) -> dict[str, int]:
        full = self.client.invoices.find(invoice.lago_id)
        return {f"{fee.item.type}:{fee.item.code}": fee.amount_cents for fee in full.fees.__root__}


@pytest.fixture
def lago(stack: LocalStackProcess) -> Lago:
    return Lago(stack)


def prorated(amount_cents: int, days: int, period_days: int) -> int:
    """Lago's proration: the plan amount per day of the period times the days used, rounded half-up."""
    exact = Decimal(amount_cents) * days / period_days
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_calendar_arrears_mid_period_start_usage_tax_and_coupon(lago: Lago, stack: LocalStackProcess) -> None:
    # Given a $100 monthly plan in arrears with $1/GB and 20 % VAT, a $10 once coupon, and a subscription
    # starting on 2030-01-10
    lago.post("/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    metric = lago.metric()
    charge = {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "properties": {"amount": "1"},
    }
    lago.plan("startup", 10000, charges=[charge], tax_codes=["vat"])
    lago.post(
        "/coupons",
        {
            "coupon": {
                "name": "Ten",
                "code": "ten",
                "coupon_type": "fixed_amount",
                "amount_cents": 1000,
                "amount_currency": "USD",
                "frequency": "once",
                "expiration": "no_expiration",
            }
        },
    )
    lago.customer("acme")
    lago.post("/applied_coupons", {"applied_coupon": {"external_customer_id": "acme", "coupon_code": "ten"}})
    assert lago.subscribe("acme", "startup", "sub_acme", subscription_at="2030-01-10T00:00:00Z")[
        "status"
    ] == ("pending")

    # When the clock reaches the start, 3 GB (and one duplicate) are used, and the month ends
    stack.tick("2030-01-10T00:00:00Z")
    assert lago.client.subscriptions.find("sub_acme").status == "active"
    lago.usage("sub_acme", "2030-01-15T12:00:00Z", 2, transaction_id="t1")
    lago.usage("sub_acme", "2030-01-15T12:00:00Z", 2, transaction_id="t1")
    lago.usage("sub_acme", "2030-01-20T12:00:00Z", 1)
    stack.drain()
    assert lago.invoices() == []
    stack.tick("2030-01-31T23:00:00Z")
    assert lago.invoices() == []
    stack.tick("2030-02-01T00:00:00Z")

    # Then one finalized invoice: 22/31 of $100 = 70.97, usage 3.00, coupon -10.00, VAT 20 % of 63.97 = 12.79
    (invoice,) = lago.invoices()
    assert lago.fees(invoice) == {"subscription:startup": 7097, "charge:storage": 300}
    assert (invoice.fees_amount_cents, invoice.coupons_amount_cents) == (7397, 1000)
    assert invoice.sub_total_excluding_taxes_amount_cents == 6397
    assert invoice.taxes_amount_cents == 1279
    assert invoice.total_amount_cents == 7676 and invoice.total_due_amount_cents == 7676
    assert invoice.status == "finalized" and invoice.issuing_date == "2030-02-01"
    assert invoice.number.endswith("-001-001")

    # And the same tick again bills nothing more; February is the whole month, the coupon used up
    stack.tick("2030-02-01T00:00:00Z")
    assert len(lago.invoices()) == 1
    stack.tick("2030-03-01T00:00:00Z")
    first, second = lago.invoices()
    assert second.issuing_date == "2030-03-01" and second.number.endswith("-001-002")
    # (February has no storage usage: lago-api keeps no fee of 0 units, 0 cents and no event)
    assert lago.fees(second) == {"subscription:startup": 10000}
    assert (second.coupons_amount_cents, second.taxes_amount_cents, second.total_amount_cents) == (
        0,
        2000,
        12000,
    )

    # And a payment marks it paid: nothing left due
    paid = lago.put(f"/invoices/{first.lago_id}", {"invoice": {"payment_status": "succeeded"}})["invoice"]
    assert (paid["total_paid_amount_cents"], paid["total_due_amount_cents"]) == (7676, 0)


def test_anniversary_advance_with_trial(lago: Lago, stack: LocalStackProcess) -> None:
    # Given a $31 monthly plan paid in advance with a 10-day trial, billed on the anniversary of 2030-01-20
    lago.plan("pro", 3100, pay_in_advance=True, trial_period=10)
    lago.customer("acme")
    lago.subscribe(
        "acme", "pro", "sub_acme", subscription_at="2030-01-20T00:00:00Z", billing_time="anniversary"
    )

    # When the subscription starts, nothing is due during the trial
    stack.tick("2030-01-20T00:00:00Z")
    assert lago.invoices() == []
    stack.tick("2030-01-29T23:00:00Z")
    assert lago.invoices() == []

    # Then the trial ends on January 30th: the rest of the period (January 30th to February 19th, 21 of its
    # 31 days) in advance; then each anniversary the whole month in advance
    stack.tick("2030-01-30T00:00:00Z")
    (first,) = lago.invoices()
    assert first.total_amount_cents == prorated(3100, 21, 31) == 2100
    stack.tick("2030-02-19T23:00:00Z")
    assert len(lago.invoices()) == 1
    stack.tick("2030-02-20T00:00:00Z")
    first, second = lago.invoices()
    assert (second.issuing_date, second.total_amount_cents) == ("2030-02-20", 3100)
    assert lago.client.invoices.find(second.lago_id).billing_periods.__root__[
        0
    ].subscription_from_datetime == ("2030-02-20T00:00:00Z")


def test_termination_at_ending_at_bills_at_once(lago: Lago, stack: LocalStackProcess) -> None:
    # Given a $100 monthly plan in arrears with $1/GB from 2030-01-01, ending on 2030-01-17 at 00:00
    metric = lago.metric()
    charge = {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "properties": {"amount": "1"},
    }
    lago.plan("startup", 10000, charges=[charge])
    lago.customer("acme")
    lago.subscribe(
        "acme",
        "startup",
        "sub_acme",
        subscription_at="2030-01-01T00:00:00Z",
        ending_at="2030-01-17T00:00:00Z",
    )
    stack.tick("2030-01-01T00:00:00Z")
    lago.usage("sub_acme", "2030-01-05T12:00:00Z", 2)
    stack.drain()

    # When the clock passes the end
    stack.tick("2030-01-17T00:00:00Z")

    # Then the subscription is terminated and billed: January 1st-16th, 16/31 of $100 = 51.61, and the usage
    assert lago.client.subscriptions.find("sub_acme", {"status": "terminated"}).status == "terminated"
    (invoice,) = lago.invoices()
    assert lago.fees(invoice) == {"subscription:startup": 5161, "charge:storage": 200}
    assert invoice.issuing_date == "2030-01-17" and invoice.total_amount_cents == 5361
    full = lago.client.invoices.find(invoice.lago_id)
    assert full.billing_periods.__root__[0].invoicing_reason == "subscription_terminating"
    # And the end of the month bills nothing more
    stack.tick("2030-02-01T00:00:00Z")
    assert len(lago.invoices()) == 1


def test_grace_period_draft_then_finalization(lago: Lago, stack: LocalStackProcess) -> None:
    # Given a customer with a 3-day grace period on a $100 plan in arrears with $1/GB from 2030-01-01
    metric = lago.metric()
    charge = {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "properties": {"amount": "1"},
    }
    lago.plan("startup", 10000, charges=[charge])
    lago.customer("acme", billing_configuration={"invoice_grace_period": 3})
    lago.subscribe("acme", "startup", "sub_acme", subscription_at="2030-01-01T00:00:00Z")
    stack.tick("2030-01-01T00:00:00Z")

    # When January closes, the invoice is a draft
    stack.tick("2030-02-01T00:00:00Z")
    (draft,) = lago.invoices()
    assert draft.status == "draft" and draft.number.endswith("-DRAFT")
    assert draft.total_amount_cents == 10000

    # And late usage of January still changes it (refresh recomputes)
    lago.usage("sub_acme", "2030-01-31T23:00:00Z", 5)
    stack.drain()
    assert lago.client.invoices.refresh(draft.lago_id).total_amount_cents == 10500

    # And without a refresh call, the next hourly tick brings more late usage into the draft
    lago.usage("sub_acme", "2030-01-20T12:00:00Z", 2)
    stack.drain()
    assert lago.client.invoices.find(draft.lago_id).total_amount_cents == 10500
    stack.tick("2030-02-01T01:00:00Z")
    assert lago.client.invoices.find(draft.lago_id).total_amount_cents == 10700

    # Then the grace period ends on February 4th and the hourly run finalizes and numbers it
    stack.tick("2030-02-03T23:00:00Z")
    assert lago.client.invoices.find(draft.lago_id).status == "draft"
    stack.tick("2030-02-04T00:00:00Z")
    final = lago.client.invoices.find(draft.lago_id)
    assert final.status == "finalized" and final.number.endswith("-001-001")
    assert (final.issuing_date, final.total_amount_cents) == ("2030-02-04", 10700)
    assert final.payment_due_date == "2030-02-04"


def _month_bounds(today: date) -> tuple[date, date, int]:
    days = calendar.monthrange(today.year, today.month)[1]
    first = today.replace(day=1)
    return first, first + timedelta(days=days), days


def test_upgrade_now_and_downgrade_at_the_period_end(lago: Lago, stack: LocalStackProcess) -> None:
    # Given a $31 plan in arrears since the 1st of this month, a $62 plan and a $1 plan paid in advance
    lago.plan("startup", 3100)
    lago.plan("pro", 6200, pay_in_advance=True)
    lago.plan("tiny", 100, pay_in_advance=True)
    lago.customer("acme")
    today = datetime.now(UTC)
    first, next_first, days = _month_bounds(today.date())
    lago.subscribe("acme", "startup", "sub_acme", subscription_at=f"{first.isoformat()}T00:00:00Z")

    # When it upgrades to pro today
    upgraded = lago.subscribe("acme", "pro", "sub_acme")
    if datetime.now(UTC).date() != today.date():  # the request crossed midnight: the day counts changed
        pytest.skip("ran across midnight")
    assert (upgraded["plan_code"], upgraded["previous_plan_code"]) == ("pro", "startup")

    # Then one invoice at once: startup for the days used (a started day counts) in arrears, and pro for
    # the rest of the month (today included) in advance
    (invoice,) = lago.invoices()
    assert lago.fees(invoice) == {
        "subscription:startup": prorated(3100, today.day, days),
        "subscription:pro": prorated(6200, days - today.day + 1, days),
    }

    # When it downgrades to tiny: pro stays until the end of the month
    downgraded = lago.subscribe("acme", "tiny", "sub_acme")
    assert (downgraded["plan_code"], downgraded["next_plan_code"]) == ("pro", "tiny")
    assert downgraded["downgrade_plan_date"] == next_first.isoformat()
    assert len(lago.invoices()) == 1

    # Then at the end of the month tiny starts and is billed its whole month in advance, once
    boundary = f"{next_first.isoformat()}T00:00:00Z"
    stack.tick(boundary)
    stack.tick(boundary)
    current = lago.client.subscriptions.find("sub_acme")
    assert (current.plan_code, current.status) == ("tiny", "active")
    _, second = lago.invoices()
    assert second.issuing_date == next_first.isoformat()
    assert lago.fees(second) == {"subscription:tiny": 100}


def test_pay_in_advance_charge_is_invoiced_at_once_and_not_again_at_the_period_end(
    lago: Lago, stack: LocalStackProcess
) -> None:
    # Given a $50 monthly plan in arrears with a pay-in-advance charge of $2/GB taxed 10 %, from 2030-01-01
    lago.post("/taxes", {"tax": {"name": "VAT", "code": "vat10", "rate": "10"}})
    metric = lago.metric()
    charge = {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "pay_in_advance": True,
        "invoiceable": True,
        "properties": {"amount": "2"},
    }
    lago.plan("metered", 5000, charges=[charge], tax_codes=["vat10"])
    lago.customer("acme")
    lago.subscribe("acme", "metered", "sub_acme", subscription_at="2030-01-01T00:00:00Z")
    stack.tick("2030-01-01T00:00:00Z")

    # When 3 GB arrive on January 15 (and the same event is sent again)
    lago.usage("sub_acme", "2030-01-15T12:00:00Z", 3, transaction_id="t1")
    lago.usage("sub_acme", "2030-01-15T12:00:00Z", 3, transaction_id="t1")
    stack.drain()

    # Then one instant invoice, finalized and numbered: 6.00 + 10 % VAT = 6.60, dated the event's day
    (instant,) = lago.invoices()
    assert lago.fees(instant) == {"charge:storage": 600}
    assert (instant.fees_amount_cents, instant.taxes_amount_cents, instant.total_amount_cents) == (
        600,
        60,
        660,
    )
    assert instant.status == "finalized" and instant.invoice_type == "subscription"
    assert instant.issuing_date == "2030-01-15" and instant.number.endswith("-001-001")

    # And the month's invoice bills the subscription only: the charge was paid in advance
    stack.tick("2030-02-01T00:00:00Z")
    first, period = lago.invoices()
    assert first.lago_id == instant.lago_id
    assert lago.fees(period) == {"subscription:metered": 5000}
    assert (period.total_amount_cents, period.number[-3:]) == (5500, "002")
