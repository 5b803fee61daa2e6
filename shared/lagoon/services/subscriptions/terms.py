"""Where a subscription stands in time: the timezone its customer is billed in, and the billing period
containing a moment (the engine's terms: `lagoon.domain.subscriptions.terms_of`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from lagoon import errors
from lagoon.data.organizations import get_organization
from lagoon.domain.customers import Customer, billing_timezone
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription, terms_of
from lagoon.engine.periods import BillingPeriod, billing_period_containing

_ONE_MICROSECOND = timedelta(microseconds=1)


def read_billing_timezone(customer: Customer) -> str:
    """`billing_timezone` of a customer whose organization is not at hand (one read)."""
    if customer.timezone:
        return customer.timezone
    return billing_timezone(customer, get_organization(customer.organization_id))


def current_period(subscription: Subscription, plan: Plan, timezone: str, at: datetime) -> BillingPeriod:
    """The billing period containing `at` (the last one of a terminated subscription)."""
    terms = terms_of(subscription, plan, timezone)
    if terms is None:
        raise errors.NotFound("subscription")
    if terms.terminated_at is not None and at >= terms.terminated_at:
        at = terms.terminated_at - _ONE_MICROSECOND
    if at < terms.started_at:
        at = terms.started_at
    return billing_period_containing(terms, at)
