"""Cascades across domains, called explicitly and in the order written here (STYLE.md "Rooms").

A change in one domain that another must follow up — a terminated subscription is billed at once, a deleted
customer ends its subscriptions, drafts and coupons, a deleted plan ends its subscriptions and drafts — is
orchestrated here rather than registered as hooks at import. The routers and scheduled functions call these
use cases wherever such a cascade can follow; the services they call stay unaware of each other.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lagoon import errors
from lagoon.data.subscriptions import due_timers
from lagoon.data.usage_store import UsageStore
from lagoon.domain.customers import Customer
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription, SubscriptionInput
from lagoon.observability import logger
from lagoon.services import customers
from lagoon.services.catalog import plans
from lagoon.services.contention import retried_on_conflict
from lagoon.services.subscriptions import changes, clock
from lagoon.services.subscriptions.listing import customer_live_subscriptions, live_subscriptions_where


def _bill_terminations(organization_id: str, terminated: list[Subscription]) -> None:
    if not terminated:
        return
    from lagoon.services.invoicing import run  # cold start: billing loads at the first cascade

    for subscription in terminated:
        run.bill_termination(organization_id, subscription)


def _bill_start(organization_id: str, subscription: Subscription, at: datetime) -> None:
    from lagoon.services.invoicing import run  # cold start: billing loads at the first cascade

    run.bill_start(organization_id, subscription, at)


def create_subscription(
    organization_id: str, data: SubscriptionInput, now: datetime | None = None
) -> Subscription:
    """`POST /subscriptions`; an upgrade terminates the current subscription, which is billed at once (with the
    new one's start); a subscription that starts now is billed at once (an in-advance plan's first period).
    Either way the events waiting for the external_id (none existed, or a pending one canceled) count now."""
    moment = now or datetime.now(UTC)
    assignment = changes.create_subscription(organization_id, data, now=moment)
    _bill_terminations(organization_id, assignment.terminated)
    if assignment.started and assignment.pays_in_advance:
        _bill_start(organization_id, assignment.subscription, moment)
    if assignment.started or assignment.terminated:
        _replay_orphans(organization_id, assignment.subscription.external_id)
    return assignment.subscription


def _replay_orphans(organization_id: str, external_id: str) -> None:
    """Events that waited for a subscription of `external_id` (none existed, or a pending one:
    lagoon.ingestion.resolution) are resolved again now, and counted where a subscription covers them
    (DECISIONS.md "Events")."""
    from lagoon.services.usage import events  # cold start: loaded by the first orphan replay

    try:
        replayed = events.replay_orphans(organization_id, external_id, UsageStore())
    except errors.TransientFailure:
        logger.warning("orphan events not replayed yet", extra={"external_subscription_id": external_id})
        return
    if replayed:
        logger.info(
            "orphan events replayed", extra={"external_subscription_id": external_id, "count": replayed}
        )


def terminate_subscription(
    organization_id: str, external_id: str, status: str | None = None, now: datetime | None = None
) -> Subscription:
    """`DELETE /subscriptions/{external_id}`: a terminated subscription is billed at once (a canceled pending
    one owes nothing)."""
    ended = changes.terminate_subscription(organization_id, external_id, status, now=now)
    if ended.status == "terminated":
        _bill_terminations(organization_id, [ended])
    else:  # a canceled pending subscription: what waited for it may belong to the one that stays
        _replay_orphans(organization_id, external_id)
    return ended


def run_clock(now: datetime) -> clock.ClockReport:
    """The subscription clock: every transition due at `now`, each timer at most once. Right after a timer's
    commit, a subscription it terminates (its end, a downgrade taking effect) is billed, then one it starts or
    whose trial it ends is billed up to the timer's due time (an in-advance plan pays then), and the events
    that waited for one it starts are counted."""
    report = clock.ClockReport()
    for key, timer in due_timers(now):
        applied = clock.apply_due_timer(key, timer, report)
        organization_id = timer["organization_id"]
        _bill_terminations(organization_id, applied.terminated)
        if applied.owes_start is not None:
            _bill_start(organization_id, applied.owes_start, applied.due)
        if applied.started is not None:
            _replay_orphans(organization_id, applied.started.external_id)
    return report


def _end_subscriptions(organization_id: str, lago_ids: list[str]) -> None:
    moment = datetime.now(UTC)
    for lago_id in lago_ids:
        ended = changes.end_subscription(organization_id, lago_id, moment)
        if ended is not None:
            _bill_terminations(organization_id, [ended])


@retried_on_conflict("customer")
def delete_customer(organization_id: str, external_id: str) -> Customer:
    """`DELETE /customers/{external_id}`, in Lago's order: terminate and bill the customer's subscriptions
    (cancel its pending ones), finalize its drafts — before its coupons are terminated, so the last invoice
    still deducts them — then delete the customer (its external_id is free again). Should the customer change
    meanwhile (a subscription attached to it), the whole cascade runs again: every step is idempotent; a
    racing deletion that won makes this one 404."""
    customer = customers.get_customer(organization_id, external_id)
    _end_subscriptions(organization_id, customer_live_subscriptions(organization_id, customer.lago_id))
    from lagoon.services.catalog import coupons  # cold start: loaded with the first customer deletion
    from lagoon.services.invoicing import drafts  # cold start: billing loads at the first cascade

    drafts.finalize_customer_drafts(organization_id, customer.lago_id)
    coupons.terminate_customer_coupons(organization_id, customer)
    return customers.mark_customer_deleted(organization_id, customer)


def delete_plan(organization_id: str, code: str) -> Plan:
    """`DELETE /plans/{code}`: without subscriptions the plan is deleted at once; otherwise it is pending
    deletion while its subscriptions are terminated and billed (pending ones canceled), then deleted, then the
    drafts that bill it are finalized. Answers the plan as the deletion was requested (Lago)."""
    plan = plans.delete_plan(organization_id, code)
    if plan.pending_deletion:
        end_plan(organization_id, plan)
    return plan


def end_plan(organization_id: str, plan: Plan) -> None:
    """The cascade of a plan pending deletion: its subscriptions end (and are billed), the plan is deleted, the
    drafts that bill it are finalized."""
    _end_subscriptions(
        organization_id,
        live_subscriptions_where(organization_id, lambda s: s.plan_id == plan.lago_id),
    )
    plans.finish_plan_deletion(organization_id, plan.lago_id)
    from lagoon.services.invoicing import drafts  # cold start: billing loads at the first cascade

    drafts.finalize_plan_drafts(organization_id, plan)
