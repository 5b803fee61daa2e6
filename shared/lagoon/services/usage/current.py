"""Current usage: a subscription's priced usage over the charges period containing a moment (default now) —
`GET /customers/{id}/current_usage`, and the current part of lifetime usage."""

from __future__ import annotations

from datetime import UTC, datetime

from lagoon import errors
from lagoon.data import catalog, customers
from lagoon.data.subscriptions import find_subscription
from lagoon.data.usage_store import UsageStore
from lagoon.domain.customers import Customer
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription, terms_of
from lagoon.domain.usage import SubscriptionUsage
from lagoon.engine.periods import BillingPeriod, charges_period_days
from lagoon.services.subscriptions.terms import current_period, read_billing_timezone
from lagoon.services.usage.charges import charges_usage
from lagoon.services.usage.totals import priced_usage


def subscription_usage(
    organization_id: str,
    subscription: Subscription,
    *,
    at: datetime | None = None,
    period: BillingPeriod | None = None,
    apply_taxes: bool = True,
    customer: Customer | None = None,
    plan: Plan | None = None,
    store: UsageStore | None = None,
) -> SubscriptionUsage:
    """A subscription's priced usage over the charges period containing `at` (default: now), or `period`."""
    customer = customer or customers.get_customer_by_id(organization_id, subscription.lago_customer_id)
    plan = plan or catalog.PLANS.get_by_id(organization_id, subscription.plan_id, include_deleted=True)
    timezone = read_billing_timezone(customer)
    if period is None:
        period = current_period(subscription, plan, timezone, at or datetime.now(UTC))
    terms = terms_of(subscription, plan, timezone)
    results = charges_usage(
        organization_id,
        subscription,
        plan,
        period.charges_from_datetime,
        period.charges_to_datetime,
        timezone=timezone,
        store=store,
        period_days=None if terms is None else charges_period_days(terms, period.charges_from_datetime),
    )
    return priced_usage(
        organization_id, customer, subscription, plan, period, timezone, results, apply_taxes=apply_taxes
    )


def _customer_subscription(
    organization_id: str, external_customer_id: str, external_subscription_id: str
) -> tuple[Customer, Subscription]:
    customer = customers.get_customer(organization_id, external_customer_id)
    subscription = find_subscription(organization_id, external_subscription_id)
    if subscription is None or subscription.lago_customer_id != customer.lago_id:
        raise errors.NotFound("subscription")
    return customer, subscription


def current_usage(
    organization_id: str,
    external_customer_id: str,
    external_subscription_id: str,
    *,
    apply_taxes: bool = True,
    at: datetime | None = None,
) -> SubscriptionUsage:
    """`GET /customers/{id}/current_usage`: the active subscription's usage in its current period."""
    customer, subscription = _customer_subscription(
        organization_id, external_customer_id, external_subscription_id
    )
    return subscription_usage(
        organization_id, subscription, at=at, apply_taxes=apply_taxes, customer=customer
    )
