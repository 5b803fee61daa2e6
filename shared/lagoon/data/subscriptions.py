"""Subscription storage: the subscriptions (kind `subscription`), their external_id aliases, and the clock's
timers (kind `subscription_timer` of the global partition, sk `<due>#<org>#<subscription>#<action>`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.data import entities, memberships, timers
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import ALIAS_KIND, KIND, Subscription
from lagoon.domain.times import iso, parse_iso

TIMER_KIND = "subscription_timer"
GLOBAL = "global"
"""Organization id of the timers' partition: one clock for every organization."""


def organization_subscriptions(organization_id: str) -> list[Subscription]:
    """Every subscription of the organization (any status, any order)."""
    return [Subscription.model_validate(d) for d in entities.query(organization_id, KIND)]


def live_subscriptions(organization_id: str) -> list[Subscription]:
    """The organization's active and pending subscriptions (any order)."""
    return [s for s in organization_subscriptions(organization_id) if s.status in ("active", "pending")]


def plan_has_subscriptions(organization_id: str, plan: Plan) -> bool:
    """Whether an active or pending subscription uses the plan."""
    return any(s.plan_id == plan.lago_id for s in live_subscriptions(organization_id))


def customer_subscriptions(organization_id: str, customer_id: str) -> list[Subscription]:
    """Every subscription of one customer (any status, any order): its index entries and their documents."""
    ids = memberships.members(organization_id, memberships.SUBSCRIPTIONS, customer_id)
    documents = entities.get_many(organization_id, KIND, ids) if ids else {}
    return [Subscription.model_validate(documents[i]) for i in ids if i in documents]


def alias_document(organization_id: str, external_id: str) -> dict[str, Any] | None:
    return entities.get(organization_id, ALIAS_KIND, external_id)


@dataclass(frozen=True)
class ExternalIdHistory:
    """Every subscription ever created with an external_id, oldest first, as read at the alias's `revision`
    (None: no subscription yet). A new subscription is added under that revision (`put_alias`), so two
    requests that both found no active subscription cannot both start one."""

    external_id: str
    subscriptions: list[Subscription]
    revision: int | None
    entries: tuple[dict[str, Any], ...] = ()
    """The alias's entries as read ({"lago_id", "lago_customer_id"})."""


def history_of(organization_id: str, external_id: str) -> ExternalIdHistory:
    alias = alias_document(organization_id, external_id)
    if alias is None:
        return ExternalIdHistory(external_id, [], None)
    ids = [entry["lago_id"] for entry in alias["subscriptions"]]
    documents = entities.get_many(organization_id, KIND, ids)
    found = [Subscription.model_validate(documents[i]) for i in ids if i in documents]
    return ExternalIdHistory(external_id, found, entities.revision_of(alias), tuple(alias["subscriptions"]))


def subscriptions_of(organization_id: str, external_id: str) -> list[Subscription]:
    """Every subscription ever created with this external_id, oldest first."""
    return history_of(organization_id, external_id).subscriptions


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


# --- writing ----------------------------------------------------------------------------------------------


def put_subscription(
    writes: entities.Writes, subscription: Subscription, *, new: bool = False
) -> Subscription:
    """Record a new subscription, or a change of one as read (on the condition that it did not change since:
    its revision). Returns it as stored."""
    document = subscription.model_dump(mode="json")
    if new:
        writes.put(subscription.organization_id, KIND, subscription.lago_id, document, must_not_exist=True)
        return subscription
    stored = writes.put_revised(subscription.organization_id, KIND, subscription.lago_id, document)
    return Subscription.model_validate(stored)


def put_alias(writes: entities.Writes, history: ExternalIdHistory, subscription: Subscription) -> None:
    """Append a new subscription to its external_id's alias (created with the first subscription), on the
    condition that the alias is still as `history` read it, and enter it in its customer's index (called once
    per subscription, in the transaction that creates it)."""
    assert subscription.external_id == history.external_id
    entries = list(history.entries)
    entries.append({"lago_id": subscription.lago_id, "lago_customer_id": subscription.lago_customer_id})
    org = subscription.organization_id
    if history.revision is None:
        writes.put(org, ALIAS_KIND, subscription.external_id, {"subscriptions": entries}, must_not_exist=True)
    else:
        writes.put_revised(
            org,
            ALIAS_KIND,
            subscription.external_id,
            {"subscriptions": entries, "revision": history.revision},
        )
    memberships.add(
        writes,
        subscription.organization_id,
        memberships.SUBSCRIPTIONS,
        subscription.lago_customer_id,
        subscription.lago_id,
    )


# --- the clock's timers -----------------------------------------------------------------------------------


def timer_key(due: datetime, subscription: Subscription, action: str) -> str:
    return f"{iso(due)}#{subscription.organization_id}#{subscription.lago_id}#{action}"


def timer_due(key: str) -> datetime:
    return parse_iso(key.split("#", 1)[0])  # type: ignore[return-value]


def schedule_timers(
    writes: entities.Writes, subscription: Subscription, timers: list[tuple[datetime, str]]
) -> Subscription:
    """Replace the subscription's timers with `timers` (due, action); returns it with their keys."""
    keys = [timer_key(due, subscription, action) for due, action in timers]
    for old in subscription.timers:
        if old not in keys:
            writes.delete(GLOBAL, TIMER_KIND, old)
    for (due, action), key in zip(timers, keys, strict=True):
        if key not in subscription.timers:
            writes.put(
                GLOBAL,
                TIMER_KIND,
                key,
                {
                    "organization_id": subscription.organization_id,
                    "subscription_id": subscription.lago_id,
                    "action": action,
                    "due": iso(due),
                },
            )
    return subscription.model_copy(update={"timers": keys})


def delete_timer(writes: entities.Writes, key: str) -> None:
    writes.delete(GLOBAL, TIMER_KIND, key)


def drop_timers(writes: entities.Writes, subscription: Subscription) -> None:
    for key in subscription.timers:
        delete_timer(writes, key)


def due_timers(now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """Subscription timers due at `now` (sk ≤ now), oldest first: (key, timer document)."""
    return timers.due_timers(TIMER_KIND, now)
