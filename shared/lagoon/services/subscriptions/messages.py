"""The webhook message every change of a subscription records in its own write."""

from __future__ import annotations

import uuid

from lagoon.contract.customers import render_customer
from lagoon.contract.plans import render_plan
from lagoon.contract.subscriptions import render_subscription
from lagoon.data import entities
from lagoon.domain.subscriptions import Subscription
from lagoon.services import customers, organizations
from lagoon.services.catalog import plans

_MESSAGE_NAMESPACE = uuid.UUID("0d3c4e9a-1f7b-4d8e-9a51-6b2c8f1e7a30")


def subscription_message(
    webhook_type: str, subscription: Subscription, message_key: str | None = None
) -> entities.OutboxMessage:
    """SubscriptionWithCustomerObject message; `message_key` makes its id deterministic (exactly once)."""
    org = subscription.organization_id
    plan = plans.get_plan_by_id(org, subscription.plan_id, include_deleted=True)
    customer = customers.get_customer_by_id(org, subscription.lago_customer_id)
    payload = render_subscription(subscription, plan)
    payload["plan"] = render_plan(plan)
    payload["customer"] = render_customer(customer, organizations.get_organization(org))
    message = entities.OutboxMessage(org, webhook_type, "subscription", payload)
    if message_key is not None:
        message.message_id = str(uuid.uuid5(_MESSAGE_NAMESPACE, message_key))
    return message
