"""Lago's subscription bodies: `SubscriptionObject`, and `SubscriptionObjectExtended` (with its plan)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lagoon.contract.plans import render_plan
from lagoon.data.lookups import Lookups
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription, terms_of
from lagoon.domain.times import iso
from lagoon.engine.periods import billing_period_containing


def _current_billing_period(
    subscription: Subscription, plan: Plan, now: datetime | None, lookups: Lookups
) -> tuple[str | None, str | None]:
    """(started_at, ending_at) of an active subscription's current billing period, else (None, None)."""
    if subscription.status != "active":
        return None, None
    customer = lookups.customer(subscription.lago_customer_id)
    terms = terms_of(subscription, plan, lookups.timezone(customer))
    if terms is None:
        return None, None
    moment = max(now or datetime.now(UTC), terms.started_at)
    period = billing_period_containing(terms, moment)
    return iso(period.from_datetime), iso(period.inclusive_to_datetime)


def render_subscription(
    subscription: Subscription,
    plan: Plan | None = None,
    *,
    now: datetime | None = None,
    lookups: Lookups | None = None,
) -> dict[str, Any]:
    """SubscriptionObject of the contract (`lookups`: reads shared with the caller's other renders)."""
    if lookups is None:
        lookups = Lookups(subscription.organization_id)
    plan = plan or lookups.plan(subscription.plan_id)
    period_from, period_to = _current_billing_period(subscription, plan, now, lookups)
    return {
        "lago_id": subscription.lago_id,
        "external_id": subscription.external_id,
        "lago_customer_id": subscription.lago_customer_id,
        "external_customer_id": subscription.external_customer_id,
        "billing_time": subscription.billing_time,
        "name": subscription.name,
        "plan_code": subscription.plan_code,
        "plan_amount_cents": plan.amount_cents,
        "plan_amount_currency": plan.amount_currency,
        "status": subscription.status,
        "created_at": subscription.created_at,
        "canceled_at": subscription.canceled_at,
        "started_at": subscription.started_at,
        "activated_at": subscription.started_at,
        "ending_at": subscription.ending_at,
        "subscription_at": subscription.subscription_at,
        "terminated_at": subscription.terminated_at,
        "previous_plan_code": subscription.previous_plan_code,
        "next_plan_code": subscription.next_plan_code,
        "downgrade_plan_date": subscription.downgrade_plan_date,
        "trial_ended_at": subscription.trial_ended_at,
        "current_billing_period_started_at": period_from,
        "current_billing_period_ending_at": period_to,
        # DECISIONS.md: until credit notes exist, terminations behave as `skip`.
        "on_termination_credit_note": "skip",
        "on_termination_invoice": "generate",
    }


def render_subscription_extended(subscription: Subscription, plan: Plan) -> dict[str, Any]:
    """SubscriptionObjectExtended: the subscription with its plan's `PlanObject`."""
    rendered_plan = render_plan(plan)
    body = render_subscription(subscription, plan)
    body["plan"] = rendered_plan
    return body
