"""The subscription clock: the transitions that come due (a pending subscription starts, a downgrade takes
effect, a subscription ends, its trial ends, its end is near).

Each future transition is a timer item (lagoon.data.subscriptions: `global#subscription_timer`, sk
`<due>#<org>#<subscription>#<action>`), scheduled by every change of the subscription. A run
(`lagoon.services.lifecycle.run_clock`) takes the due timers and applies each in one transaction with its
webhook message, whose id is derived from the timer (so a message is recorded at most once, whatever runs
overlap or retry) and which deletes the timer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.data.subscriptions import (
    delete_timer,
    drop_timers,
    get_subscription_by_id,
    put_subscription,
    timer_due,
)
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.times import iso
from lagoon.observability import logger
from lagoon.services.catalog import plans
from lagoon.services.contention import run_with_retries
from lagoon.services.subscriptions.changes import terminated, with_timers, write_canceled
from lagoon.services.subscriptions.messages import subscription_message


@dataclass
class ClockReport:
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AppliedTimer:
    """What an applied timer leaves to lagoon.services.lifecycle.run_clock: the subscriptions it terminated (to
    bill), the one it started (its waiting events count now) and the one whose start is owed now (started, or
    its trial ended: an in-advance plan pays then), at `due`."""

    due: datetime
    terminated: list[Subscription] = field(default_factory=list)
    started: Subscription | None = None
    owes_start: Subscription | None = None


def apply_due_timer(key: str, timer: dict[str, Any], report: ClockReport) -> AppliedTimer:
    """Apply one due timer at most once (idempotent, safe to re-run); what follows is the caller's. A timer
    that loses a race with a change of its subscription (an API request, an overlapping run) is applied again
    on what that change left."""
    try:
        applied = run_with_retries(lambda: _apply_timer(key, timer), "subscription")
        report.applied.append(key)
        return applied
    except errors.TransientFailure:
        logger.warning("subscription timer left for the next run", extra={"timer": key})
        return AppliedTimer(timer_due(key))
    except errors.NotFound:
        # Already applied by an overlapping run (the subscription no longer holds it), or the subscription is
        # gone.
        writes = entities.Writes()
        delete_timer(writes, key)
        with contextlib.suppress(errors.ConflictRetry):
            writes.commit()
        report.skipped.append(key)
        return AppliedTimer(timer_due(key))


@dataclass(frozen=True)
class _DueTimer:
    """A due timer of `subscription`, applied in `writes` (which already delete it)."""

    key: str
    subscription: Subscription
    due: datetime
    remaining: list[str]
    writes: entities.Writes


def _apply_timer(key: str, timer: dict[str, Any]) -> AppliedTimer:
    subscription = get_subscription_by_id(timer["organization_id"], timer["subscription_id"])
    action = timer["action"]
    if key not in subscription.timers:
        raise errors.NotFound("timer")
    writes = entities.Writes()
    delete_timer(writes, key)
    due = _DueTimer(key, subscription, timer_due(key), [k for k in subscription.timers if k != key], writes)
    if action in ("activate", "downgrade"):
        applied = _start(due, action)
    elif action == "terminate":
        applied = AppliedTimer(due.due, _terminate(due))
    elif action == "trial_end":
        applied = _end_trial(due)
    elif action.startswith("termination_alert_"):
        _alert(due)
        applied = AppliedTimer(due.due)
    else:
        raise errors.NotFound("timer")
    writes.commit()
    return applied


def _start(timer: _DueTimer, action: str) -> AppliedTimer:
    """A pending subscription starts; a downgrade's also terminates the subscription it replaces."""
    subscription, due, writes = timer.subscription, timer.due, timer.writes
    org = subscription.organization_id
    started = subscription.model_copy(
        update={
            "status": "active",
            "started_at": iso(due),
            "updated_at": iso(datetime.now(UTC)),
            "timers": timer.remaining,
        }
    )
    plan = plans.get_plan_by_id(org, started.plan_id, include_deleted=True)
    started = with_timers(writes, started, plan, due)
    ended: list[Subscription] = []
    if action == "downgrade" and subscription.previous_subscription_id:
        previous = get_subscription_by_id(org, subscription.previous_subscription_id)
        if previous.status == "active":
            replaced = terminated(previous, due)
            drop_timers(writes, previous)
            put_subscription(writes, replaced)
            writes.message(subscription_message("subscription.terminated", replaced, f"{timer.key}:previous"))
            ended.append(replaced)
    put_subscription(writes, started)
    writes.message(subscription_message("subscription.started", started, timer.key))
    return AppliedTimer(due, ended, started=started, owes_start=started)


def _terminate(timer: _DueTimer) -> list[Subscription]:
    """The subscription reaches its `ending_at`; a downgrade waiting for it is canceled."""
    subscription, writes = timer.subscription, timer.writes
    ended = terminated(subscription, timer.due)
    for other in timer.remaining:
        delete_timer(writes, other)
    if subscription.next_subscription_id:
        following = get_subscription_by_id(subscription.organization_id, subscription.next_subscription_id)
        if following.status == "pending":
            write_canceled(writes, following, timer.due)
    put_subscription(writes, ended)
    writes.message(subscription_message("subscription.terminated", ended, timer.key))
    return [ended]


def _end_trial(timer: _DueTimer) -> AppliedTimer:
    ended_trial = timer.subscription.model_copy(
        update={
            "trial_ended_at": iso(timer.due),
            "updated_at": iso(datetime.now(UTC)),
            "timers": timer.remaining,
        }
    )
    put_subscription(timer.writes, ended_trial)
    timer.writes.message(subscription_message("subscription.trial_ended", ended_trial, timer.key))
    return AppliedTimer(timer.due, owes_start=ended_trial)


def _alert(timer: _DueTimer) -> None:
    alerted = timer.subscription.model_copy(update={"timers": timer.remaining})
    put_subscription(timer.writes, alerted)
    timer.writes.message(subscription_message("subscription.termination_alert", alerted, timer.key))
