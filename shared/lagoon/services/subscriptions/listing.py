"""Listing subscriptions: the filters of `GET /subscriptions`, and the sets invoicing and the cascades read.

One subscription is read from storage (lagoon.data.subscriptions: `get_subscription`, `find_subscription`,
`get_subscription_by_id`, `subscriptions_of`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lagoon.data.subscriptions import customer_subscriptions, organization_subscriptions
from lagoon.domain.subscriptions import Subscription


@dataclass(frozen=True)
class SubscriptionFilters:
    statuses: tuple[str, ...] = ("active",)
    external_customer_id: str | None = None
    plan_code: str | None = None

    def accepts(self, subscription: Subscription) -> bool:
        return (
            subscription.status in self.statuses
            and (
                self.external_customer_id is None
                or subscription.external_customer_id == self.external_customer_id
            )
            and (self.plan_code is None or subscription.plan_code == self.plan_code)
        )


def list_subscriptions(organization_id: str, filters: SubscriptionFilters) -> list[Subscription]:
    """Subscriptions newest first (Lago's order), filtered (default: active only)."""
    return _newest_first(organization_subscriptions(organization_id), filters)


def _newest_first(found: list[Subscription], filters: SubscriptionFilters) -> list[Subscription]:
    return sorted(
        (s for s in found if filters.accepts(s)),
        key=lambda s: (s.created_at, s.created_order, s.lago_id),
        reverse=True,
    )


def customer_billable_subscriptions(organization_id: str, customer_id: str) -> list[Subscription]:
    """One customer's active subscriptions and those terminated but maybe not yet billed, newest first: what
    a termination bills at once, read from the customer's index (never the organization's subscriptions)."""
    filters = SubscriptionFilters(statuses=("active", "terminated"))
    return _newest_first(customer_subscriptions(organization_id, customer_id), filters)


def customer_live_subscriptions(organization_id: str, customer_id: str) -> list[str]:
    """The lago_ids of one customer's active and pending subscriptions, newest first (its deletion ends them)."""
    filters = SubscriptionFilters(statuses=("active", "pending"))
    return [s.lago_id for s in _newest_first(customer_subscriptions(organization_id, customer_id), filters)]


def list_billable_subscriptions(organization_id: str) -> list[Subscription]:
    """Active subscriptions and those terminated but maybe not yet billed (for invoicing runs)."""
    return list_subscriptions(organization_id, SubscriptionFilters(statuses=("active", "terminated")))


def live_subscriptions_where(organization_id: str, accepts: Callable[[Subscription], bool]) -> list[str]:
    """The lago_ids of the active and pending subscriptions `accepts` (a customer's, a plan's)."""
    return [
        s.lago_id
        for s in list_subscriptions(organization_id, SubscriptionFilters(statuses=("active", "pending")))
        if accepts(s)
    ]
