"""Changing subscriptions: assign a plan (with upgrades and downgrades), update, terminate or cancel, and end
the subscriptions of a deleted customer or plan. Every change records its webhook message in the same write.

Lago behaviour followed (lago-docs/25-subscriptions.md, DECISIONS.md "Billing"):
- an unknown `external_customer_id` creates the customer; the plan's currency locks on the customer;
- `subscription_at` in the future → `pending` until then; in the past → active now, started then;
- posting an `external_id` that is active with another plan changes plan: an upgrade (yearly-normalised
  amount ≥ current) terminates the current subscription and starts the new one at once; a downgrade is
  `pending` until the end of the current period (a second downgrade cancels the first);
- `DELETE` terminates the active subscription, or with `status=pending` cancels the pending one.

Billing what a termination owes belongs to invoicing: the functions here that terminate return the
terminated subscriptions, and `lagoon.services.lifecycle` bills them once the termination is committed.
The transitions that come due later (start, end, trial end, alerts) are timers applied by
`lagoon.services.subscriptions.clock`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.data.subscriptions import (
    ExternalIdHistory,
    drop_timers,
    get_subscription,
    get_subscription_by_id,
    history_of,
    put_alias,
    put_subscription,
    schedule_timers,
)
from lagoon.domain.customers import Customer, CustomerInput
from lagoon.domain.plans import USAGE_THRESHOLDS, Plan
from lagoon.domain.subscriptions import (
    Subscription,
    SubscriptionInput,
    SubscriptionUpdateInput,
    future_timers,
    terms_of,
)
from lagoon.domain.times import iso
from lagoon.engine.periods import billing_period_containing, is_upgrade
from lagoon.services import customers
from lagoon.services.catalog import plans
from lagoon.services.contention import retried_on_conflict
from lagoon.services.subscriptions.messages import subscription_message
from lagoon.services.subscriptions.terms import read_billing_timezone


def _now() -> datetime:
    return datetime.now(UTC)


# --- what every change writes ------------------------------------------------------------------------------


def terminated(subscription: Subscription, at: datetime) -> Subscription:
    """The subscription terminated at `at` (its timers dropped from the document)."""
    moment = iso(at)
    return subscription.model_copy(
        update={"status": "terminated", "terminated_at": moment, "updated_at": iso(_now()), "timers": []}
    )


def _canceled(subscription: Subscription, at: datetime) -> Subscription:
    return subscription.model_copy(
        update={"status": "canceled", "canceled_at": iso(at), "updated_at": iso(_now()), "timers": []}
    )


def write_canceled(writes: entities.Writes, pending: Subscription, at: datetime) -> None:
    """Cancel a pending subscription in `writes`: its timers deleted, its document canceled (no message)."""
    drop_timers(writes, pending)
    put_subscription(writes, _canceled(pending, at))


def with_timers(
    writes: entities.Writes, subscription: Subscription, plan: Plan, now: datetime
) -> Subscription:
    """The subscription with its future transitions scheduled as clock timers (in `writes`)."""
    return schedule_timers(writes, subscription, future_timers(subscription, plan, now))


# --- assigning a plan --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """What `create_subscription` did: the subscription to answer with, the subscriptions it terminated (an
    upgrade: to bill), whether a new subscription started now without replacing one (the events that arrived
    before it existed are to count now), and whether its plan is paid in advance (its start is owed now)."""

    subscription: Subscription
    terminated: list[Subscription] = field(default_factory=list)
    started: bool = False
    pays_in_advance: bool = False


@retried_on_conflict("subscription")
def create_subscription(
    organization_id: str, data: SubscriptionInput, now: datetime | None = None
) -> Assignment:
    """`POST /subscriptions`: a new subscription, a plan change, or the current one when nothing changes.

    Racing requests for one external_id are serialised by the alias's revision (Lago locks the customer):
    the losers decide again on what the winner made — the same plan answers the winner's subscription (200),
    another plan changes it.

    What follows (billing an upgrade's termination or a start, counting a first subscription's orphan events)
    is lagoon.services.lifecycle's: see `Assignment`."""
    if data.plan_overrides:
        raise errors.NotImplementedYet("plan overrides")
    if data.usage_thresholds:
        raise errors.NotImplementedYet(USAGE_THRESHOLDS)
    moment = now or _now()
    plan = plans.get_plan(organization_id, data.plan_code)
    start = data.subscription_at or moment
    if data.ending_at is not None and data.ending_at <= max(start, moment):
        raise errors.ValidationFailed.field("ending_at", "invalid_date")
    history = history_of(organization_id, data.external_id)
    active, pending = _active_and_pending(history)
    current = active or pending
    if current is not None and current.external_customer_id != data.external_customer_id:
        raise errors.ValidationFailed.field("external_id", "value_already_exist")
    if current is not None and current.plan_id == plan.lago_id:
        return Assignment(current)
    customer = _customer_to_assign(organization_id, data.external_customer_id)

    writes = entities.Writes()
    customers.lock_currency(writes, customer, plan.amount_currency)
    base = _new_document(organization_id, data, customer, plan, active, moment)
    change = _PlanChange(writes, history, base, plan, pending, moment)
    ended: list[Subscription] = []
    if active is None:
        result = change.start(start)
    else:
        current_plan = plans.get_plan_by_id(organization_id, active.plan_id, include_deleted=True)
        if is_upgrade(current_plan.amount_cents, current_plan.interval, plan.amount_cents, plan.interval):
            result, old = change.upgrade(active)
            ended.append(old)
        else:
            result = change.downgrade(active, current_plan, read_billing_timezone(customer))
    writes.commit()
    started = result.status == "active" and result.previous_subscription_id is None
    return Assignment(result, ended, started, pays_in_advance=plan.pay_in_advance)


def _active_and_pending(history: ExternalIdHistory) -> tuple[Subscription | None, Subscription | None]:
    """The newest active and the newest pending subscription of an external_id."""
    existing = history.subscriptions
    active = next((s for s in reversed(existing) if s.status == "active"), None)
    pending = next((s for s in reversed(existing) if s.status == "pending"), None)
    return active, pending


def _customer_to_assign(organization_id: str, external_customer_id: str) -> Customer:
    """The customer of `external_customer_id`, created when unknown (Lago)."""
    customer = customers.find_customer(organization_id, external_customer_id)
    if customer is None:
        customer, _ = customers.upsert_customer(
            organization_id, CustomerInput(external_id=external_customer_id)
        )
    return customer


def _new_document(
    organization_id: str,
    data: SubscriptionInput,
    customer: Customer,
    plan: Plan,
    active: Subscription | None,
    moment: datetime,
) -> dict[str, Any]:
    """The fields every new subscription of this request shares, whichever change it makes."""
    stamp = iso(moment)
    return {
        "organization_id": organization_id,
        "external_id": data.external_id,
        "lago_customer_id": customer.lago_id,
        "external_customer_id": customer.external_id,
        "plan_id": plan.lago_id,
        "plan_code": plan.code,
        "name": data.name,
        "billing_time": data.billing_time or (active.billing_time if active else "calendar"),
        "ending_at": iso(data.ending_at),
        "created_at": stamp,
        "updated_at": stamp,
        "created_order": entities.now_iso(),
    }


@dataclass(frozen=True)
class _PlanChange:
    """The three ways a new subscription comes: first one, upgrade, downgrade — each written in `writes`."""

    writes: entities.Writes
    history: ExternalIdHistory
    base: dict[str, Any]
    plan: Plan
    pending: Subscription | None
    moment: datetime

    def start(self, start: datetime) -> Subscription:
        """No active subscription: the new one starts at `start` (pending until then if in the future)."""
        if self.pending is not None:
            write_canceled(self.writes, self.pending, self.moment)
        future = start > self.moment
        new = Subscription(
            lago_id=str(uuid.uuid4()),
            status="pending" if future else "active",
            subscription_at=iso(start),  # type: ignore[arg-type]
            started_at=None if future else iso(start),
            **self.base,
        )
        new = with_timers(self.writes, new, self.plan, self.moment)
        put_subscription(self.writes, new, new=True)
        put_alias(self.writes, self.history, new)
        if not future:
            self.writes.message(subscription_message("subscription.started", new))
        return new

    def upgrade(self, active: Subscription) -> tuple[Subscription, Subscription]:
        """The active subscription terminates now and the new one starts: (new, terminated)."""
        stamp = iso(self.moment)
        new = Subscription(
            lago_id=str(uuid.uuid4()),
            status="active",
            subscription_at=stamp,  # type: ignore[arg-type]
            started_at=stamp,
            previous_subscription_id=active.lago_id,
            previous_plan_code=active.plan_code,
            **self.base,
        )
        old = terminated(active, self.moment).model_copy(
            update={"next_subscription_id": new.lago_id, "next_plan_code": self.plan.code}
        )
        drop_timers(self.writes, active)
        if self.pending is not None:
            write_canceled(self.writes, self.pending, self.moment)
        new = with_timers(self.writes, new, self.plan, self.moment)
        put_subscription(self.writes, old)
        put_subscription(self.writes, new, new=True)
        put_alias(self.writes, self.history, new)
        self.writes.message(subscription_message("subscription.terminated", old))
        self.writes.message(subscription_message("subscription.started", new))
        return new, old

    def downgrade(self, active: Subscription, active_plan: Plan, timezone: str) -> Subscription:
        """The new subscription is pending until the end of the active one's billing period (in the customer's
        billing `timezone`); a second downgrade replaces the first. Answers the active subscription."""
        terms = terms_of(active, active_plan, timezone)
        assert terms is not None
        effective = billing_period_containing(terms, self.moment).full_to_datetime
        new = Subscription(
            lago_id=str(uuid.uuid4()),
            status="pending",
            subscription_at=iso(effective),  # type: ignore[arg-type]
            previous_subscription_id=active.lago_id,
            previous_plan_code=active.plan_code,
            **self.base,
        )
        if self.pending is not None:
            write_canceled(self.writes, self.pending, self.moment)
        new = with_timers(self.writes, new, self.plan, self.moment)
        old = active.model_copy(
            update={
                "next_subscription_id": new.lago_id,
                "next_plan_code": self.plan.code,
                "downgrade_plan_date": effective.date().isoformat(),
                "updated_at": iso(self.moment),
            }
        )
        put_subscription(self.writes, old)
        put_subscription(self.writes, new, new=True)
        put_alias(self.writes, self.history, new)
        self.writes.message(subscription_message("subscription.updated", old))
        return old


# --- updating, terminating, canceling ----------------------------------------------------------------------


@retried_on_conflict("subscription")
def update_subscription(
    organization_id: str,
    external_id: str,
    data: SubscriptionUpdateInput,
    status: str | None = None,
    now: datetime | None = None,
) -> Subscription:
    """`PUT /subscriptions/{external_id}`: name, ending_at, and subscription_at of a pending subscription."""
    if data.plan_overrides:
        raise errors.NotImplementedYet("plan overrides")
    if data.usage_thresholds:
        raise errors.NotImplementedYet(USAGE_THRESHOLDS)
    moment = now or _now()
    subscription = get_subscription(organization_id, external_id, status)
    sent = data.model_fields_set
    update: dict[str, Any] = {"updated_at": iso(moment)}
    if "name" in sent:
        update["name"] = data.name
    if "ending_at" in sent:
        if data.ending_at is not None and data.ending_at <= moment:
            raise errors.ValidationFailed.field("ending_at", "invalid_date")
        update["ending_at"] = iso(data.ending_at)
    if "subscription_at" in sent and data.subscription_at is not None:
        if subscription.status != "pending":
            raise errors.ValidationFailed.field("subscription_at", "invalid_date")
        update["subscription_at"] = iso(data.subscription_at)
    updated = subscription.model_copy(update=update)
    plan = plans.get_plan_by_id(organization_id, subscription.plan_id, include_deleted=True)
    writes = entities.Writes()
    updated = with_timers(writes, updated, plan, moment)
    put_subscription(writes, updated)
    writes.message(subscription_message("subscription.updated", updated))
    writes.commit()
    return updated


@retried_on_conflict("subscription")
def terminate_subscription(
    organization_id: str, external_id: str, status: str | None = None, now: datetime | None = None
) -> Subscription:
    """`DELETE /subscriptions/{external_id}`: terminate the active one, or cancel the pending one."""
    moment = now or _now()
    if status == "pending":
        pending = get_subscription(organization_id, external_id, "pending")
        return _cancel(pending, moment)
    active = get_subscription(organization_id, external_id, "active")
    return _terminate(active, moment)


def _cancel(pending: Subscription, moment: datetime) -> Subscription:
    canceled = _canceled(pending, moment)
    writes = entities.Writes()
    drop_timers(writes, pending)
    put_subscription(writes, canceled)
    if pending.previous_subscription_id:
        previous = get_subscription_by_id(pending.organization_id, pending.previous_subscription_id)
        if previous.next_subscription_id == pending.lago_id:
            put_subscription(
                writes,
                previous.model_copy(
                    update={"next_subscription_id": None, "next_plan_code": None, "downgrade_plan_date": None}
                ),
            )
    writes.message(subscription_message("subscription.canceled", canceled))
    writes.commit()
    return canceled


def _terminate(active: Subscription, moment: datetime) -> Subscription:
    ended = terminated(active, moment)
    writes = entities.Writes()
    drop_timers(writes, active)
    if active.next_subscription_id:
        following = get_subscription_by_id(active.organization_id, active.next_subscription_id)
        if following.status == "pending":
            write_canceled(writes, following, moment)
    put_subscription(writes, ended)
    writes.message(subscription_message("subscription.terminated", ended))
    writes.commit()
    return ended


# --- ending the subscriptions of a deleted customer or plan --------------------------------------------


@retried_on_conflict("subscription")
def end_subscription(organization_id: str, lago_id: str, moment: datetime) -> Subscription | None:
    """Terminate the subscription if active (returned, to bill), cancel it if pending (None)."""
    current = get_subscription_by_id(organization_id, lago_id)
    if current.status == "active":
        return _terminate(current, moment)
    if current.status == "pending":
        _cancel(current, moment)
    return None
