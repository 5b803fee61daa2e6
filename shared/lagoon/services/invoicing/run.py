"""The hourly billing run: invoice every subscription whose billing boundary has passed, one invoice per customer
and boundary, then refresh the flagged drafts and run the due invoice timers. Terminations are billed the same
way at once (`bill_termination`, called by `lagoon.services.lifecycle`), and so is a start (`bill_start`).

What a subscription owes at a boundary comes from `due`; its fees from `period_fees`; the invoice from
`compute`; numbering and coupon consumption from `finalize` (docs/invoicing.md "Billing run").

Idempotency and restart (docs/invoicing.md):
- one invoice per customer and billing boundary: its id is derived from (organization, customer, boundary),
  and it is created on the condition that it does not exist;
- each subscription keeps a billing cursor (the last boundary invoiced), advanced in the same transaction
  as the invoice with an expected revision: a boundary is invoiced exactly once, whatever runs overlap;
- what follows the commit (fee documents, period-closed markers) is recorded as an invoice timer in the
  same transaction and done again by the next run if a crash interrupts it (idempotent writes).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from lagoon import errors
from lagoon.data import entities, invoices as invoice_store
from lagoon.data.invoices import BillingCursor
from lagoon.domain import invoice_terms
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import Invoice, InvoicePart, stable_id
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.times import iso, parse_iso
from lagoon.engine.periods import local_date
from lagoon.observability import logger
from lagoon.services import organizations
from lagoon.services.invoicing import finalize, invoices, numbering, paid_fees, renewal_fees
from lagoon.services.invoicing.compute import apply_computed, compute
from lagoon.services.invoicing.drafts import refresh_flagged_drafts
from lagoon.services.invoicing.due import due_boundaries, invoice_part
from lagoon.services.invoicing.run_catalog import Catalog
from lagoon.services.invoicing.run_report import RunReport
from lagoon.services.invoicing.timers import process_timers
from lagoon.services.subscriptions.listing import (
    customer_billable_subscriptions,
    list_billable_subscriptions,
)

MAX_ATTEMPTS = 5

Due = list[tuple[Subscription, InvoicePart, BillingCursor]]
"""The subscriptions an invoice bills at one boundary: each with what it owes and its cursor as read."""


def run_billing(now: datetime, *, moment: datetime | None = None) -> RunReport:
    """The hourly run at `now` (the schedule's time): invoice what is due, finalize drafts whose grace period
    ended, flag overdue invoices, and redo interrupted post-commit work."""
    report = RunReport()
    moment = moment or now
    for organization in organizations.list_organizations():
        bill_organization(organization.lago_id, now, moment, report)
    refresh_flagged_drafts(moment, report)
    process_timers(now, report)
    return report


def bill_organization(organization_id: str, now: datetime, moment: datetime, report: RunReport) -> None:
    """Invoice what is due up to `now` for every customer of the organization (customers, cursors and number
    counters read in batches for the whole organization)."""
    catalog = Catalog(organization_id)
    by_customer: dict[str, list[Subscription]] = defaultdict(list)
    for subscription in list_billable_subscriptions(organization_id):
        by_customer[subscription.lago_customer_id].append(subscription)
        catalog.lookups.remember(subscription)
    catalog.lookups.preload_customers(list(by_customer))
    catalog.preload_counters(list(by_customer))
    cursors = invoice_store.read_cursors(
        organization_id, [s.lago_id for found in by_customer.values() for s in found]
    )
    try:
        for customer_id, found in by_customer.items():
            try:
                bill_customer(catalog, customer_id, found, now, moment, report, cursors)
            except (errors.TransientFailure, errors.NotFound, *errors.UNBILLABLE) as exc:
                report.failures += 1
                logger.exception(
                    "billing a customer failed", extra={"customer_id": customer_id, "error": str(exc)}
                )
    finally:
        catalog.drop_done_timers()


def bill_customer(
    catalog: Catalog,
    customer_id: str,
    found: list[Subscription],
    now: datetime,
    moment: datetime,
    report: RunReport,
    known_cursors: dict[str, BillingCursor] | None = None,
) -> None:
    """Invoice every boundary up to `now` of one customer's subscriptions, oldest first, one invoice per
    boundary. After a lost race it reads the cursors again (the winner's invoice stands)."""
    customer = catalog.customer(customer_id)
    lost = 0
    ids = [s.lago_id for s in found]
    if known_cursors is not None and all(i in known_cursors for i in ids):
        cursors = {i: known_cursors[i] for i in ids}  # read for the whole organization at the run's start
    else:
        cursors = invoice_store.read_cursors(catalog.organization_id, ids)
    while lost < MAX_ATTEMPTS:
        by_boundary = _next_parts(catalog, found, cursors, now)
        if not by_boundary:
            return
        boundary = min(by_boundary)
        created = _create_invoice(catalog, customer, boundary, by_boundary[boundary], moment)
        if created is None:
            lost += 1
            report.skipped += 1
            cursors = invoice_store.read_cursors(catalog.organization_id, ids)
        else:
            report.invoices.append(created.lago_id)
            for subscription, _, cursor in by_boundary[boundary]:  # as `advance_cursor` wrote them
                cursors[subscription.lago_id] = BillingCursor(boundary, (cursor.revision or 0) + 1)


def _next_parts(
    catalog: Catalog, found: list[Subscription], cursors: dict[str, BillingCursor], now: datetime
) -> dict[datetime, Due]:
    """Each subscription's first boundary not invoiced yet (up to `now`) at which it owes something, grouped by
    boundary: its next boundary waits for this one's invoice (the cursor moves with it)."""
    by_boundary: dict[datetime, Due] = defaultdict(list)
    for subscription in found:
        terms = catalog.terms(subscription)
        if terms is None:
            continue
        cursor = cursors[subscription.lago_id]
        plan = catalog.plan(subscription.plan_id)
        for boundary in due_boundaries(subscription, terms, cursor.billed_through, now):
            if _awaiting_clock(subscription, boundary):
                break
            part = invoice_part(subscription, terms, plan, boundary)
            if part is not None:
                by_boundary[boundary].append((subscription, part, cursor))
                break
    return by_boundary


def _awaiting_clock(subscription: Subscription, boundary: datetime) -> bool:
    """An active subscription whose `ending_at` or pending downgrade falls at or before `boundary`: the
    subscription clock ends it there first (its termination is then billed), so the run leaves it."""
    if subscription.status != "active":
        return False
    ending = parse_iso(subscription.ending_at)
    if ending is not None and ending <= boundary:
        return True
    if subscription.next_subscription_id and subscription.downgrade_plan_date:
        return boundary.date().isoformat() >= subscription.downgrade_plan_date
    return False


def _draft_invoice(
    catalog: Catalog, customer: Customer, boundary: datetime, due: Due, moment: datetime
) -> Invoice:
    """The invoice of `customer` at `boundary`, computed, before it is stored (a draft until finalized)."""
    organization = catalog.organization
    org = catalog.organization_id
    billing_key = f"{customer.lago_id}#{iso(boundary)}"
    lago_id = stable_id(org, billing_key)
    if invoice_store.find_invoice(org, lago_id) is not None:
        # This boundary already has an invoice (a subscription joined it late): a separate one.
        lago_id = stable_id(org, billing_key, *sorted(s.lago_id for s, _, _ in due))
        billing_key = f"{billing_key}#{len(due)}"
    parts = [part for _, part, _ in due]
    currency = catalog.plan(due[0][0].plan_id).amount_currency
    stamp = iso(moment)
    issuing = local_date(boundary, catalog.timezone(customer)).isoformat()
    term = invoice_terms.net_payment_term(organization, customer)
    grace = invoice_terms.grace_period_days(organization, customer)
    draft = Invoice(
        lago_id=lago_id,
        organization_id=org,
        customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        billing_key=billing_key,
        boundary=iso(boundary),
        parts=parts,
        status="draft",
        number=numbering.draft_number(organization),
        issuing_date=issuing,
        payment_due_date=invoice_terms.payment_due_date(issuing, term),
        net_payment_term=term,
        currency=currency,
        grace_ends_at=iso(boundary + timedelta(days=grace)) if grace else None,
        created_at=stamp,
        updated_at=stamp,
        revision=0,
    )
    computed = compute(catalog, customer, parts, currency, {s.lago_id: s for s, _, _ in due})
    return apply_computed(draft, catalog, customer, computed, stamp)


def _create_invoice(
    catalog: Catalog, customer: Customer, boundary: datetime, due: Due, moment: datetime
) -> Invoice | None:
    """Create the invoice of `customer` at `boundary` and advance the cursors, in one transaction. Returns
    None when another run did it first (the cursors' conditions fail)."""
    draft = _draft_invoice(catalog, customer, boundary, due, moment)
    grace = invoice_terms.grace_period_days(catalog.organization, customer)
    regroups = bool(paid_fees.regrouping_parts(catalog, draft.parts))
    writes = entities.Writes()
    for subscription, _, cursor in due:
        invoice_store.advance_cursor(writes, catalog.organization_id, subscription.lago_id, cursor, boundary)
    if grace:
        stored = invoice_store.put_invoice(writes, draft, new=True)
        writes.message(invoices.message("invoice.drafted", stored, "drafted", catalog.lookups))
        invoice_store.schedule(writes, stored, boundary + timedelta(days=grace), "finalize")
    else:
        stored = finalize.finalize_into(writes, draft, catalog, customer, moment)
    # Done again by the next run if this one stops before `project_invoice` (idempotent), or before the paid
    # fees it regroups are invoiced (`paid_fees`).
    invoice_store.schedule(writes, stored, moment, "project")
    # Renewed pay-in-advance charges billed without invoice: put if absent, before the cursors move.
    renewal_fees.record_fees_without_invoice(catalog, customer, [(s, p) for s, p, _ in due], iso(moment))
    if regroups:
        invoice_store.schedule(writes, stored, moment, "regroup")
    try:
        writes.commit()
    except errors.ConflictRetry:
        catalog.invoices_changed()  # the winner's invoice is not in the cache
        return None
    catalog.remember_invoice(stored)
    if stored.coupon_applications:
        catalog.coupons_changed()
    finalize.project_invoice(stored)
    catalog.done_timers.append(invoice_store.timer_key(moment, stored, "project"))
    if regroups:
        _regroup(catalog, stored, moment)
    return stored


def _regroup(catalog: Catalog, invoice: Invoice, moment: datetime) -> None:
    """The paid fees `invoice` regroups, on their own invoices; a failure leaves its timer to the next run."""
    try:
        paid_fees.regroup_paid_fees(catalog, invoice, moment)
    except errors.TransientFailure as exc:
        logger.exception(
            "paid fees not regrouped yet", extra={"invoice_id": invoice.lago_id, "error": str(exc)}
        )
        return
    catalog.done_timers.append(invoice_store.timer_key(moment, invoice, "regroup"))


def bill_start(organization_id: str, subscription: Subscription, at: datetime) -> None:
    """A subscription that started, or whose trial ended, at `at` (`POST /subscriptions`, the clock): what it
    owes up to then — the first period of an in-advance plan — is billed at once, as Lago's
    `Subscriptions::ActivateService` and `FreeTrialBillingService` do. Only this subscription is read (no
    listing of the organization's); its billing cursor makes the hourly run skip what this billed. A failure is
    logged, never raised: the hourly run bills it."""
    try:
        catalog = Catalog(organization_id)
        catalog.lookups.remember(subscription)
        try:
            bill_customer(
                catalog, subscription.lago_customer_id, [subscription], at, datetime.now(UTC), RunReport()
            )
        finally:
            catalog.drop_done_timers()
    except errors.LagoonError as exc:
        logger.exception(
            "start billing deferred to the hourly run",
            extra={"subscription_id": subscription.lago_id, "error": str(exc)},
        )


def bill_termination(organization_id: str, subscription: Subscription) -> None:
    """A terminated subscription (API, clock, upgrade, downgrade, deletions): bill what is due at once, for its
    customer's subscriptions only (read from the customer's index). A failure is logged, never raised: the
    hourly run bills it (the cursor has not moved)."""
    terminated_at = parse_iso(subscription.terminated_at)
    if terminated_at is None:
        return
    try:
        catalog = Catalog(organization_id)
        found = customer_billable_subscriptions(organization_id, subscription.lago_customer_id)
        try:
            bill_customer(
                catalog, subscription.lago_customer_id, found, terminated_at, datetime.now(UTC), RunReport()
            )
        finally:
            catalog.drop_done_timers()
    except errors.LagoonError as exc:
        logger.exception(
            "termination billing deferred to the hourly run",
            extra={"subscription_id": subscription.lago_id, "error": str(exc)},
        )
