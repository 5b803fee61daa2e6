"""What a subscription owes, and when: the boundaries not invoiced yet, and what the invoice of a boundary bills
(DECISIONS.md "Billing": the engine's `periods.invoice_contents_at`).

A `subscription_at` in the past does not bill past periods: billing starts at the later of the start and the
creation of the subscription.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lagoon.domain.invoices import InvoicePart, InvoicingReason, Period
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.times import parse_iso
from lagoon.engine.periods import (
    BillingPeriod,
    SubscriptionTerms,
    billing_period_containing,
    interval_containing,
    invoice_contents_at,
    next_billing_date,
)

_TINY = timedelta(microseconds=1)


def billing_origin(subscription: Subscription, terms: SubscriptionTerms) -> datetime:
    """When billing starts: the start, or the creation when `subscription_at` is in the past (DECISIONS.md)."""
    created = parse_iso(subscription.created_at)
    assert created is not None
    return max(terms.started_at, created)


def _starts_with_invoice(terms: SubscriptionTerms, origin: datetime) -> bool:
    """An in-advance plan pays its first period when billing starts, unless a trial defers it."""
    trial_end = terms.trial_ends_at
    return terms.pay_in_advance and (trial_end is None or trial_end <= origin)


def due_boundaries(
    subscription: Subscription, terms: SubscriptionTerms, cursor: datetime | None, now: datetime
) -> list[datetime]:
    """The boundaries not invoiced yet (after `cursor`) at which this subscription owes an invoice, up to
    `now` (the start of an in-advance plan, period ends, the trial end, the termination)."""
    origin = billing_origin(subscription, terms)
    found: list[datetime] = []
    if cursor is None:
        if _starts_with_invoice(terms, origin) and origin <= now:
            found.append(origin)
        elif terms.terminated_at == origin and terms.started_at < origin and origin <= now:
            # Terminated in the very second billing started (created with a past subscription_at, then
            # upgraded or deleted at once): the days of the current period used before it are still owed.
            found.append(origin)
        after = origin
    else:
        after = cursor
    moment = next_billing_date(terms, after)
    while moment is not None and moment <= now:
        found.append(moment)
        moment = next_billing_date(terms, moment)
    return found


def _period(period: BillingPeriod, *, charges: bool = False) -> Period:
    """The part of an engine period an invoice stores: its fee period, or its charges period."""
    if charges:
        return Period(
            from_datetime=period.charges_from_datetime,
            to_datetime=period.charges_to_datetime,
            full_from_datetime=period.charges_from_datetime,
            full_to_datetime=period.charges_to_datetime,
        )
    return Period(
        from_datetime=period.from_datetime,
        to_datetime=period.to_datetime,
        full_from_datetime=period.full_from_datetime,
        full_to_datetime=period.full_to_datetime,
    )


def _ends_trial_mid_period(
    terms: SubscriptionTerms, boundary: datetime, charges: BillingPeriod | None
) -> bool:
    """The first invoice of an in-advance plan, at the end of its trial inside a period: Lago's
    `FreeTrialBillingService` bills it as a start (`subscription_starting`); at a period boundary the periodic
    invoice bills it."""
    return terms.pay_in_advance and boundary == terms.trial_ends_at and charges is None


def invoice_part(
    subscription: Subscription, terms: SubscriptionTerms, plan: Plan, boundary: datetime
) -> InvoicePart | None:
    """What `subscription` owes at `boundary` (None: nothing)."""
    origin = billing_origin(subscription, terms)
    if boundary == origin and _starts_with_invoice(terms, origin):
        period = billing_period_containing(terms, origin)
        return InvoicePart(
            subscription_id=subscription.lago_id,
            invoicing_reason="subscription_starting",
            fee_period=_period(period),
        )
    contents = invoice_contents_at(terms, boundary)
    terminating = terms.terminated_at is not None and boundary >= terms.terminated_at
    commitment: Period | None = None
    closes_interval = terminating or boundary == interval_containing(terms, boundary)[0]
    if plan.minimum_commitment is not None and closes_interval and boundary > origin:
        commitment = _period(billing_period_containing(terms, boundary - _TINY))
    if contents.subscription_fee_period is None and contents.charges_period is None and commitment is None:
        return None
    reason: InvoicingReason = "subscription_terminating" if terminating else "subscription_periodic"
    if _ends_trial_mid_period(terms, boundary, contents.charges_period):
        reason = "subscription_starting"
    return InvoicePart(
        subscription_id=subscription.lago_id,
        invoicing_reason=reason,
        fee_period=_period(contents.subscription_fee_period) if contents.subscription_fee_period else None,
        charges_period=_period(contents.charges_period, charges=True) if contents.charges_period else None,
        commitment_period=commitment,
    )
