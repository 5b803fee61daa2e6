"""Subscription storage reads shared by the catalog and the subscriptions service."""

from __future__ import annotations

from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import ALIAS_KIND, KIND, Subscription


def live_subscriptions(organization_id: str) -> list[Subscription]:
    """The organization's active and pending subscriptions (any order)."""
    found = (Subscription.model_validate(d) for d in entities.query(organization_id, KIND))
    return [s for s in found if s.status in ("active", "pending")]


def plan_has_subscriptions(organization_id: str, plan: Plan) -> bool:
    """Whether an active or pending subscription uses the plan."""
    return any(s.plan_id == plan.lago_id for s in live_subscriptions(organization_id))


def alias_document(organization_id: str, external_id: str) -> dict[str, Any] | None:
    return entities.get(organization_id, ALIAS_KIND, external_id)


def subscriptions_of(organization_id: str, external_id: str) -> list[Subscription]:
    """Every subscription ever created with this external_id, oldest first."""
    alias = alias_document(organization_id, external_id)
    if alias is None:
        return []
    ids = [entry["lago_id"] for entry in alias["subscriptions"]]
    documents = entities.get_many(organization_id, KIND, ids)
    return [Subscription.model_validate(documents[i]) for i in ids if i in documents]


def find_subscription(
    organization_id: str, external_id: str, status: str | None = None
) -> Subscription | None:
    """The newest subscription with this external_id and status (default: active)."""
    wanted = status or "active"
    for subscription in reversed(subscriptions_of(organization_id, external_id)):
        if subscription.status == wanted:
            return subscription
    return None


def get_subscription(organization_id: str, external_id: str, status: str | None = None) -> Subscription:
    subscription = find_subscription(organization_id, external_id, status)
    if subscription is None:
        raise errors.NotFound("subscription")
    return subscription


def get_subscription_by_id(organization_id: str, lago_id: str) -> Subscription:
    document = entities.get(organization_id, KIND, lago_id)
    if document is None:
        raise errors.NotFound("subscription")
    return Subscription.model_validate(document)
