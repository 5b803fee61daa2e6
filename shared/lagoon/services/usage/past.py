"""Past usage: the charges periods invoicing has closed, each priced from its aggregates —
`GET /customers/{id}/past_usage`, and the invoiced part of lifetime usage."""

from __future__ import annotations

from collections.abc import Sequence

from lagoon import errors
from lagoon.data import catalog, customers
from lagoon.data.aggregates import closed_periods, read_bucket_periods
from lagoon.data.subscriptions import subscriptions_of
from lagoon.domain.customers import Customer
from lagoon.domain.plans import Charge, Plan
from lagoon.domain.subscriptions import Subscription, terms_of
from lagoon.domain.times import parse_iso
from lagoon.domain.usage import SubscriptionUsage
from lagoon.engine.carry import state_for_period
from lagoon.engine.periods import billing_period_containing, charges_period_days
from lagoon.services.subscriptions.terms import read_billing_timezone
from lagoon.services.usage.charges import inherited_states, plan_metrics, price_states
from lagoon.services.usage.totals import priced_usage


def past_usage(
    organization_id: str,
    external_customer_id: str,
    external_subscription_id: str,
    *,
    billable_metric_code: str | None = None,
    periods_count: int | None = None,
) -> list[SubscriptionUsage]:
    """`GET /customers/{id}/past_usage`: the closed periods of the subscription, newest first, priced from
    their aggregates (one Query for the closed markers, one for the aggregates of the periods shown)."""
    customer = customers.get_customer(organization_id, external_customer_id)
    found = [
        s
        for s in subscriptions_of(organization_id, external_subscription_id)
        if s.lago_customer_id == customer.lago_id and s.started_at is not None
    ]
    if not found:
        raise errors.NotFound("subscription")
    subscription = found[-1]
    plan = catalog.PLANS.get_by_id(organization_id, subscription.plan_id, include_deleted=True)
    charges: Sequence[Charge] | None = None
    if billable_metric_code is not None:
        metric = catalog.METRICS.find(organization_id, billable_metric_code)
        if metric is None:
            raise errors.NotFound("billable_metric")
        charges = [c for c in plan.charges if c.billable_metric_id == metric.lago_id]
    timezone = read_billing_timezone(customer)
    return closed_usages(organization_id, customer, subscription, plan, timezone, charges, periods_count)


def closed_usages(
    organization_id: str,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    timezone: str,
    charges: Sequence[Charge] | None,
    periods_count: int | None,
) -> list[SubscriptionUsage]:
    """The usage of the subscription's closed periods, newest first (the `periods_count` newest), each priced
    with taxes (`charges`: only these; default the plan's)."""
    terms = terms_of(subscription, plan, timezone)
    starts = closed_periods(organization_id, subscription.lago_id)
    if periods_count is not None:
        starts = starts[:periods_count]
    if terms is None or not starts:
        return []
    metrics = plan_metrics(organization_id, plan)
    buckets = read_bucket_periods(organization_id, subscription.lago_id, starts[0], with_earlier=True)
    inherited = inherited_states(organization_id, subscription, plan, metrics)
    usages = []
    for start in starts:
        period = billing_period_containing(terms, parse_iso(start))
        states = {
            bucket: state
            for bucket in buckets.keys() | inherited.keys()
            if (state := state_for_period(buckets.get(bucket, ()), start, inherited.get(bucket)))
        }
        results = price_states(
            plan,
            metrics,
            states,
            period.charges_from_datetime,
            period.charges_to_datetime,
            timezone=timezone,
            charges=charges,
            period_days=charges_period_days(terms, period.charges_from_datetime),
        )
        usages.append(priced_usage(organization_id, customer, subscription, plan, period, timezone, results))
    return usages
