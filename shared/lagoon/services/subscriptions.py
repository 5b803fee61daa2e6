"""Subscriptions: assign a plan (with upgrades and downgrades), read, list, update, terminate — and the clock
that starts, alerts and ends them on time. Every change records its webhook message in the same write.

Lago behaviour followed (lago-docs/25-subscriptions.md, DECISIONS.md "Billing"):
- an unknown `external_customer_id` creates the customer; the plan's currency locks on the customer;
- `subscription_at` in the future → `pending` until then; in the past → active now, started then;
- posting an `external_id` that is active with another plan changes plan: an upgrade (yearly-normalised
  amount ≥ current) terminates the current subscription and starts the new one at once; a downgrade is
  `pending` until the end of the current period (a second downgrade cancels the first);
- `DELETE` terminates the active subscription, or with `status=pending` cancels the pending one.

Billing what a termination owes belongs to invoicing: the functions here that terminate return the
terminated subscriptions, and `lagoon.services.lifecycle` bills them once the termination is committed.

Clock (`run_clock`): each future transition is a timer item in the entities table
(`global#subscription_timer`, sk `<due>#<org>#<subscription>#<action>`). A run takes the due timers and
applies each in one transaction with its webhook message, whose id is derived from the timer (so a message
is recorded at most once, whatever runs overlap or retry) and which deletes the timer.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.data.connection import get_settings
from lagoon.data.lookups import Lookups
from lagoon.data.subscriptions import (  # re-exported: callers read through this service
    alias_document,
    find_subscription as find_subscription,
    get_subscription as get_subscription,
    get_subscription_by_id as get_subscription_by_id,
    subscriptions_of as subscriptions_of,
)
from lagoon.data.usage_store import UsageStore
from lagoon.domain.customers import Customer, CustomerInput, billing_timezone as timezone_of
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import (
    ALIAS_KIND,
    KIND,
    Subscription,
    SubscriptionInput,
    SubscriptionUpdateInput,
    iso,
    parse_iso,
)
from lagoon.engine.periods import SubscriptionTerms, billing_period_containing, is_upgrade
from lagoon.services import customers, organizations
from lagoon.services.catalog import plans

TIMER_KIND = "subscription_timer"
GLOBAL = "global"
ALERT_DAYS = (45, 15)
_MESSAGE_NAMESPACE = uuid.UUID("0d3c4e9a-1f7b-4d8e-9a51-6b2c8f1e7a30")


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading ---------------------------------------------------------------------------------------------


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
    found = [Subscription.model_validate(doc) for doc in entities.query(organization_id, KIND)]
    return sorted(
        (s for s in found if filters.accepts(s)),
        key=lambda s: (s.created_at, s.created_order, s.lago_id),
        reverse=True,
    )


def list_billable_subscriptions(organization_id: str) -> list[Subscription]:
    """Active subscriptions and those terminated but maybe not yet billed (for invoicing runs)."""
    return list_subscriptions(organization_id, SubscriptionFilters(statuses=("active", "terminated")))


# --- terms -----------------------------------------------------------------------------------------------


def billing_timezone(customer: Customer) -> str:
    """The customer's billing timezone, its organization read only when the customer has none."""
    if customer.timezone:
        return customer.timezone
    return timezone_of(customer, organizations.get_organization(customer.organization_id))


def terms_of(subscription: Subscription, plan: Plan, timezone: str) -> SubscriptionTerms | None:
    """The engine's terms of a started subscription (None while pending or canceled)."""
    started = parse_iso(subscription.started_at)
    if started is None:
        return None
    return SubscriptionTerms(
        interval=plan.interval,
        started_at=started,
        billing_time=subscription.billing_time,
        timezone=timezone,
        trial_period_days=int(plan.trial_period or 0),
        pay_in_advance=plan.pay_in_advance,
        bill_charges_monthly=bool(plan.bill_charges_monthly),
        terminated_at=parse_iso(subscription.terminated_at),
    )


# --- timers -----------------------------------------------------------------------------------------------


def _timer_key(due: datetime, subscription: Subscription, action: str) -> str:
    return f"{iso(due)}#{subscription.organization_id}#{subscription.lago_id}#{action}"


def _timer_due(key: str) -> datetime:
    return parse_iso(key.split("#", 1)[0])  # type: ignore[return-value]


def _schedule(
    writes: entities.Writes, subscription: Subscription, timers: list[tuple[datetime, str]]
) -> Subscription:
    """Replace the subscription's timers with `timers` (due, action)."""
    keys = [_timer_key(due, subscription, action) for due, action in timers]
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


def _timers_for(subscription: Subscription, plan: Plan, now: datetime) -> list[tuple[datetime, str]]:
    """The future transitions of a subscription in its current state."""
    timers: list[tuple[datetime, str]] = []
    if subscription.status == "pending":
        start = parse_iso(subscription.subscription_at)
        action = "downgrade" if subscription.previous_subscription_id else "activate"
        timers.append((start, action))  # type: ignore[arg-type]
    if subscription.status not in ("pending", "active"):
        return timers
    ending = parse_iso(subscription.ending_at)
    if ending is not None:
        timers.append((ending, "terminate"))
        for days in ALERT_DAYS:
            alert = ending - timedelta(days=days)
            if alert > now:
                timers.append((alert, f"termination_alert_{days}"))
    started = parse_iso(subscription.started_at)
    if started is not None and plan.trial_period and subscription.trial_ended_at is None:
        trial_end = started + timedelta(days=float(plan.trial_period))
        timers.append((trial_end, "trial_end"))
    return timers


# --- rendering --------------------------------------------------------------------------------------------


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
    period_from: str | None = None
    period_to: str | None = None
    if subscription.status == "active":
        customer = lookups.customer(subscription.lago_customer_id)
        terms = terms_of(subscription, plan, lookups.timezone(customer))
        if terms is not None:
            moment = max(now or _now(), terms.started_at)
            period = billing_period_containing(terms, moment)
            period_from = iso(period.from_datetime)
            period_to = iso(period.inclusive_to_datetime)
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


def render_subscription_extended(subscription: Subscription) -> dict[str, Any]:
    """SubscriptionObjectExtended: the subscription with its plan."""
    plan = plans.get_plan_by_id(subscription.organization_id, subscription.plan_id, include_deleted=True)
    body = render_subscription(subscription, plan)
    body["plan"] = plans.render_plan(plan)
    return body


def _webhook(
    webhook_type: str, subscription: Subscription, message_key: str | None = None
) -> entities.OutboxMessage:
    """SubscriptionWithCustomerObject message; `message_key` makes its id deterministic (exactly once)."""
    org = subscription.organization_id
    plan = plans.get_plan_by_id(org, subscription.plan_id, include_deleted=True)
    customer = customers.get_customer_by_id(org, subscription.lago_customer_id)
    payload = render_subscription(subscription, plan)
    payload["plan"] = plans.render_plan(plan)
    payload["customer"] = customers.render_customer(customer, organizations.get_organization(org))
    message = entities.OutboxMessage(org, webhook_type, "subscription", payload)
    if message_key is not None:
        message.message_id = str(uuid.uuid5(_MESSAGE_NAMESPACE, message_key))
    return message


# --- writing ----------------------------------------------------------------------------------------------


def _put(writes: entities.Writes, subscription: Subscription) -> None:
    writes.put(subscription.organization_id, KIND, subscription.lago_id, subscription.model_dump(mode="json"))


def _put_alias(writes: entities.Writes, subscription: Subscription) -> None:
    alias = alias_document(subscription.organization_id, subscription.external_id)
    entries = list((alias or {}).get("subscriptions", []))
    entries.append({"lago_id": subscription.lago_id, "lago_customer_id": subscription.lago_customer_id})
    writes.put(
        subscription.organization_id,
        ALIAS_KIND,
        subscription.external_id,
        {"subscriptions": entries},
        must_not_exist=alias is None,
    )


def _terminated(subscription: Subscription, at: datetime) -> Subscription:
    moment = iso(at)
    return subscription.model_copy(
        update={"status": "terminated", "terminated_at": moment, "updated_at": iso(_now()), "timers": []}
    )


def _canceled(subscription: Subscription, at: datetime) -> Subscription:
    return subscription.model_copy(
        update={"status": "canceled", "canceled_at": iso(at), "updated_at": iso(_now()), "timers": []}
    )


def _drop_timers(writes: entities.Writes, subscription: Subscription) -> None:
    for key in subscription.timers:
        writes.delete(GLOBAL, TIMER_KIND, key)


@dataclass(frozen=True)
class Assignment:
    """What `create_subscription` did: the subscription to answer with, the subscriptions it terminated (an
    upgrade: to bill), and whether events that arrived before the subscription existed are to count now."""

    subscription: Subscription
    terminated: list[Subscription] = field(default_factory=list)
    counts_orphans: bool = False


def create_subscription(
    organization_id: str, data: SubscriptionInput, now: datetime | None = None
) -> Assignment:
    """`POST /subscriptions`: a new subscription, a plan change, or the current one when nothing changes.

    What follows (billing an upgrade's termination, counting a first subscription's orphan events) is
    lagoon.services.lifecycle's: see `Assignment`."""
    if data.plan_overrides:
        raise errors.NotImplementedYet("plan overrides")
    moment = now or _now()
    plan = plans.get_plan(organization_id, data.plan_code)
    start = data.subscription_at or moment
    if data.ending_at is not None and data.ending_at <= max(start, moment):
        raise errors.ValidationFailed.field("ending_at", "invalid_date")
    existing = subscriptions_of(organization_id, data.external_id)
    active = next((s for s in reversed(existing) if s.status == "active"), None)
    pending = next((s for s in reversed(existing) if s.status == "pending"), None)
    current = active or pending
    if current is not None and current.external_customer_id != data.external_customer_id:
        raise errors.ValidationFailed.field("external_id", "value_already_exist")
    if current is not None and current.plan_id == plan.lago_id:
        return Assignment(current)
    customer = customers.find_customer(organization_id, data.external_customer_id)
    if customer is None:
        customer, _ = customers.upsert_customer(
            organization_id, CustomerInput(external_id=data.external_customer_id)
        )

    writes = entities.Writes()
    customers.lock_currency(writes, customer, plan.amount_currency)
    terminated: list[Subscription] = []
    stamp = iso(moment)
    base = {
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
    result: Subscription
    if active is not None:
        current_plan = plans.get_plan_by_id(organization_id, active.plan_id, include_deleted=True)
        upgrade = is_upgrade(
            current_plan.amount_cents, current_plan.interval, plan.amount_cents, plan.interval
        )
        if upgrade:
            new = Subscription(
                lago_id=str(uuid.uuid4()),
                status="active",
                subscription_at=stamp,  # type: ignore[arg-type]
                started_at=stamp,
                previous_subscription_id=active.lago_id,
                previous_plan_code=active.plan_code,
                **base,
            )
            old = _terminated(active, moment).model_copy(
                update={"next_subscription_id": new.lago_id, "next_plan_code": plan.code}
            )
            _drop_timers(writes, active)
            if pending is not None:
                _drop_timers(writes, pending)
                canceled = _canceled(pending, moment)
                _put(writes, canceled)
            new = _schedule(writes, new, _timers_for(new, plan, moment))
            _put(writes, old)
            _put(writes, new)
            _put_alias(writes, new)
            writes.message(_webhook("subscription.terminated", old))
            writes.message(_webhook("subscription.started", new))
            terminated.append(old)
            result = new
        else:
            timezone = billing_timezone(customer)
            terms = terms_of(active, current_plan, timezone)
            assert terms is not None
            effective = billing_period_containing(terms, moment).full_to_datetime
            new = Subscription(
                lago_id=str(uuid.uuid4()),
                status="pending",
                subscription_at=iso(effective),  # type: ignore[arg-type]
                previous_subscription_id=active.lago_id,
                previous_plan_code=active.plan_code,
                **base,
            )
            if pending is not None:  # a second downgrade replaces the first
                _drop_timers(writes, pending)
                _put(writes, _canceled(pending, moment))
            new = _schedule(writes, new, _timers_for(new, plan, moment))
            old = active.model_copy(
                update={
                    "next_subscription_id": new.lago_id,
                    "next_plan_code": plan.code,
                    "downgrade_plan_date": effective.date().isoformat(),
                    "updated_at": stamp,
                }
            )
            _put(writes, old)
            _put(writes, new)
            _put_alias(writes, new)
            writes.message(_webhook("subscription.updated", old))
            result = old
    else:
        if pending is not None:
            _drop_timers(writes, pending)
            _put(writes, _canceled(pending, moment))
        future = start > moment
        new = Subscription(
            lago_id=str(uuid.uuid4()),
            status="pending" if future else "active",
            subscription_at=iso(start),  # type: ignore[arg-type]
            started_at=None if future else iso(start),
            **base,
        )
        new = _schedule(writes, new, _timers_for(new, plan, moment))
        _put(writes, new)
        _put_alias(writes, new)
        if not future:
            writes.message(_webhook("subscription.started", new))
        result = new
    writes.commit()
    counts_orphans = result.status == "active" and result.previous_subscription_id is None
    return Assignment(result, terminated, counts_orphans)


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
    updated = _schedule(writes, updated, _timers_for(updated, plan, moment))
    _put(writes, updated)
    writes.message(_webhook("subscription.updated", updated))
    writes.commit()
    return updated


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
    _drop_timers(writes, pending)
    _put(writes, canceled)
    if pending.previous_subscription_id:
        previous = get_subscription_by_id(pending.organization_id, pending.previous_subscription_id)
        if previous.next_subscription_id == pending.lago_id:
            _put(
                writes,
                previous.model_copy(
                    update={"next_subscription_id": None, "next_plan_code": None, "downgrade_plan_date": None}
                ),
            )
    writes.message(_webhook("subscription.canceled", canceled))
    writes.commit()
    return canceled


def _terminate(active: Subscription, moment: datetime, message_key: str | None = None) -> Subscription:
    terminated = _terminated(active, moment)
    writes = entities.Writes()
    _drop_timers(writes, active)
    if active.next_subscription_id:
        following = get_subscription_by_id(active.organization_id, active.next_subscription_id)
        if following.status == "pending":
            _drop_timers(writes, following)
            _put(writes, _canceled(following, moment))
    _put(writes, terminated)
    writes.message(_webhook("subscription.terminated", terminated, message_key))
    writes.commit()
    return terminated


# --- ending the subscriptions of a deleted customer or plan --------------------------------------------


def live_subscriptions_where(organization_id: str, accepts: Callable[[Subscription], bool]) -> list[str]:
    """The lago_ids of the active and pending subscriptions `accepts` (a customer's, a plan's)."""
    return [
        s.lago_id
        for s in list_subscriptions(organization_id, SubscriptionFilters(statuses=("active", "pending")))
        if accepts(s)
    ]


def end_subscription(organization_id: str, lago_id: str, moment: datetime) -> Subscription | None:
    """Terminate the subscription if active (returned, to bill), cancel it if pending (None)."""
    current = get_subscription_by_id(organization_id, lago_id)
    if current.status == "active":
        return _terminate(current, moment)
    if current.status == "pending":
        _cancel(current, moment)
    return None


# --- the clock --------------------------------------------------------------------------------------------


@dataclass
class ClockReport:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def due_timers(now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """Timers due at `now` (sk ≤ now), oldest first."""
    import json

    store = UsageStore()
    table = get_settings().entities_table
    items = store.query(table, f"{GLOBAL}#{TIMER_KIND}", before=f"{iso(now)}#\U0010ffff")
    return [(item["sk"]["S"], json.loads(item["body"]["S"])) for item in items]


def apply_due_timer(key: str, timer: dict[str, Any], report: ClockReport) -> list[Subscription]:
    """Apply one due timer at most once (idempotent, safe to re-run); returns the subscriptions it terminated
    (lagoon.services.lifecycle.run_clock bills them)."""
    try:
        terminated = _apply_timer(key, timer)
        report.applied.append(key)
        return terminated
    except (errors.ConflictRetry, errors.NotFound):
        # Already applied by an overlapping run (its message id exists), or the subscription is gone.
        writes = entities.Writes().delete(GLOBAL, TIMER_KIND, key)
        with contextlib.suppress(errors.ConflictRetry):
            writes.commit()
        report.skipped.append(key)
        return []


def _apply_timer(key: str, timer: dict[str, Any]) -> list[Subscription]:
    org = timer["organization_id"]
    subscription = get_subscription_by_id(org, timer["subscription_id"])
    action = timer["action"]
    due = _timer_due(key)
    if key not in subscription.timers:
        raise errors.NotFound("timer")
    remaining = [k for k in subscription.timers if k != key]
    writes = entities.Writes()
    writes.delete(GLOBAL, TIMER_KIND, key)
    if action in ("activate", "downgrade"):
        started = subscription.model_copy(
            update={
                "status": "active",
                "started_at": iso(due),
                "updated_at": iso(_now()),
                "timers": remaining,
            }
        )
        plan = plans.get_plan_by_id(org, started.plan_id, include_deleted=True)
        started = _schedule(writes, started, _timers_for(started, plan, due))
        terminated: list[Subscription] = []
        if action == "downgrade" and subscription.previous_subscription_id:
            previous = get_subscription_by_id(org, subscription.previous_subscription_id)
            if previous.status == "active":
                ended = _terminated(previous, due)
                _drop_timers(writes, previous)
                _put(writes, ended)
                writes.message(_webhook("subscription.terminated", ended, f"{key}:previous"))
                terminated.append(ended)
        _put(writes, started)
        writes.message(_webhook("subscription.started", started, key))
        writes.commit()
        return terminated
    if action == "terminate":
        ended = _terminated(subscription, due)
        for other in remaining:
            writes.delete(GLOBAL, TIMER_KIND, other)
        if subscription.next_subscription_id:
            following = get_subscription_by_id(org, subscription.next_subscription_id)
            if following.status == "pending":
                _drop_timers(writes, following)
                _put(writes, _canceled(following, due))
        _put(writes, ended)
        writes.message(_webhook("subscription.terminated", ended, key))
        writes.commit()
        return [ended]
    if action == "trial_end":
        ended_trial = subscription.model_copy(
            update={"trial_ended_at": iso(due), "updated_at": iso(_now()), "timers": remaining}
        )
        _put(writes, ended_trial)
        writes.message(_webhook("subscription.trial_ended", ended_trial, key))
        writes.commit()
        return []
    if action.startswith("termination_alert_"):
        alerted = subscription.model_copy(update={"timers": remaining})
        _put(writes, alerted)
        writes.message(_webhook("subscription.termination_alert", alerted, key))
        writes.commit()
        return []
    raise errors.NotFound("timer")
