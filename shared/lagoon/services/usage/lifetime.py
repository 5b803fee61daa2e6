"""Lifetime usage of a subscription (`GET/PUT /subscriptions/{external_id}/lifetime_usage`): the current
period's usage, the usage of the periods invoicing has closed, and what the client declared (stored as kind
`lifetime_usage`, key the subscription's lago_id)."""

from __future__ import annotations

import uuid
from typing import Any

from lagoon.contract.usage import render_lifetime_usage
from lagoon.data import catalog, customers, entities
from lagoon.data.subscriptions import get_subscription
from lagoon.domain.subscriptions import Subscription
from lagoon.services.subscriptions.terms import read_billing_timezone
from lagoon.services.usage import current
from lagoon.services.usage.past import closed_usages

LIFETIME_USAGE_KIND = "lifetime_usage"
_LIFETIME_NAMESPACE = uuid.UUID(
    "5b0e3c1e-8a57-4f0c-9d61-2f4a7c3e9b12"
)  # the fees' namespace, kept for stable ids


def _lifetime_id(subscription_id: str) -> str:
    return str(uuid.uuid5(_LIFETIME_NAMESPACE, f"lifetime_usage#{subscription_id}"))


def lifetime_usage(organization_id: str, external_id: str) -> dict[str, Any]:
    """`GET /subscriptions/{external_id}/lifetime_usage` (Lago's `LifetimeUsageObject`)."""
    subscription = get_subscription(organization_id, external_id)
    return _lifetime_usage(organization_id, subscription)


def set_historical_usage(organization_id: str, external_id: str, amount_cents: int) -> dict[str, Any]:
    """`PUT /subscriptions/{external_id}/lifetime_usage`: sets `external_historical_usage_amount_cents`."""
    subscription = get_subscription(organization_id, external_id)
    document = {
        "lago_id": _lifetime_id(subscription.lago_id),
        "lago_subscription_id": subscription.lago_id,
        "external_historical_usage_amount_cents": amount_cents,
        "updated_at": entities.now_iso(),
    }
    entities.Writes().put(organization_id, LIFETIME_USAGE_KIND, subscription.lago_id, document).commit()
    return _lifetime_usage(organization_id, subscription)


def _lifetime_usage(organization_id: str, subscription: Subscription) -> dict[str, Any]:
    stored = entities.get(organization_id, LIFETIME_USAGE_KIND, subscription.lago_id) or {}
    customer = customers.get_customer_by_id(organization_id, subscription.lago_customer_id)
    plan = catalog.PLANS.get_by_id(organization_id, subscription.plan_id, include_deleted=True)
    # Through the module: the usage tests pin "now" by replacing `current.subscription_usage`.
    ongoing = current.subscription_usage(
        organization_id, subscription, apply_taxes=False, customer=customer, plan=plan
    )
    closed = closed_usages(
        organization_id, customer, subscription, plan, read_billing_timezone(customer), None, None
    )
    return render_lifetime_usage(
        _lifetime_id(subscription.lago_id),
        subscription,
        historical_amount_cents=int(stored.get("external_historical_usage_amount_cents", 0)),
        invoiced_amount_cents=sum(usage.amount_cents for usage in closed),
        current=ongoing,
    )
