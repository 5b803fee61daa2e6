"""Drafts: an invoice in its grace period is recomputed when asked (`PUT /invoices/{id}/refresh`), when late
events were counted into it (the aggregator flags it; the hourly run refreshes it), and finalized at the end of
its grace period, when asked (`PUT /invoices/{id}/finalize`), or when the customer or plan it bills is deleted
(`lagoon.services.lifecycle`). Coupons applied during the grace period reach the draft at refresh or
finalization (docs/invoicing.md "Statuses, numbering, dates").
"""

from __future__ import annotations

from datetime import UTC, datetime

from lagoon import errors
from lagoon.data import closed_periods, entities, invoices as invoice_store
from lagoon.data.subscriptions import get_subscription_by_id
from lagoon.domain.invoices import Invoice
from lagoon.domain.plans import Plan
from lagoon.domain.times import iso, parse_iso
from lagoon.observability import logger
from lagoon.services.contention import retried_on_conflict, run_with_retries
from lagoon.services.invoicing import finalize
from lagoon.services.invoicing.compute import apply_computed, compute
from lagoon.services.invoicing.run_catalog import Catalog
from lagoon.services.invoicing.run_report import RunReport


@retried_on_conflict("invoice")
def refresh_invoice(organization_id: str, lago_id: str, now: datetime | None = None) -> Invoice:
    """`PUT /invoices/{lago_id}/refresh`: recompute a draft from the current usage, coupons and taxes (again
    when a concurrent change of the invoice won: a finalized one is answered as it is)."""
    invoice = invoice_store.get_invoice(organization_id, lago_id)
    if invoice.status != "draft":
        return invoice
    moment = now or datetime.now(UTC)
    catalog = Catalog(organization_id)
    customer = catalog.customer(invoice.customer_id)
    computed = compute(catalog, customer, list(invoice.parts), invoice.currency)
    refreshed = apply_computed(invoice, catalog, customer, computed, iso(moment))
    writes = entities.Writes()
    stored = invoice_store.put_invoice(writes, refreshed)
    writes.commit()
    finalize.project_invoice(stored, invoice)
    return stored


def finalize_invoice(organization_id: str, lago_id: str, now: datetime | None = None) -> Invoice:
    """`PUT /invoices/{lago_id}/finalize` (and the end of the grace period): close the periods so late
    events stop counting, recompute, number and record `invoice.created` — in one transaction."""
    moment = now or datetime.now(UTC)

    def finalize_once() -> tuple[Invoice, Invoice]:
        # Read again on every attempt: a lost race is a concurrent finalization or number taken.
        invoice = invoice_store.get_invoice(organization_id, lago_id)
        if invoice.status != "draft":
            return invoice, invoice
        closed_periods.close_periods(invoice)
        catalog = Catalog(organization_id)
        customer = catalog.customer(invoice.customer_id)
        computed = compute(catalog, customer, list(invoice.parts), invoice.currency)
        refreshed = apply_computed(invoice, catalog, customer, computed, iso(moment))
        writes = entities.Writes()
        stored = finalize.finalize_into(writes, refreshed, catalog, customer, moment)
        if invoice.grace_ends_at:
            grace_end = parse_iso(invoice.grace_ends_at)
            assert grace_end is not None
            invoice_store.unschedule(writes, invoice, grace_end, "finalize")
        writes.commit()
        return stored, invoice

    stored, draft = run_with_retries(finalize_once, "invoice")
    if draft is not stored:
        finalize.project_invoice(stored, draft)
    return stored


def refresh_flagged_drafts(moment: datetime, report: RunReport) -> None:
    """Refresh the drafts late events were counted into since the last run (the aggregator flags them). A
    flag rewritten while its draft was being refreshed stays for the next run."""
    for flag in closed_periods.refresh_flags():
        try:
            refresh_invoice(flag.organization_id, flag.invoice_id, moment)
        except errors.NotFound:
            pass  # the invoice or its organization is gone: nothing to refresh
        except errors.ConflictRetry:
            continue  # the draft changed meanwhile (a finalization, a refresh): the next run looks again
        except (errors.TransientFailure, *errors.UNBILLABLE) as exc:
            report.failures += 1
            logger.exception(
                "refreshing a draft failed", extra={"invoice_id": flag.invoice_id, "error": str(exc)}
            )
            continue
        else:
            report.refreshed.append(flag.invoice_id)
        closed_periods.clear_refresh_flag(flag)


def finalize_customer_drafts(organization_id: str, customer_id: str, now: datetime | None = None) -> None:
    """Customer deletion (after its subscriptions were terminated and billed): finalize its drafts."""
    for invoice in invoice_store.invoices_of_customer(organization_id, customer_id, ("draft",)):
        finalize_invoice(organization_id, invoice.lago_id, now)


def finalize_plan_drafts(organization_id: str, plan: Plan) -> None:
    """Plan deletion (after its subscriptions were terminated and billed): finalize the drafts that bill it."""
    for invoice in invoice_store.all_invoices(organization_id):
        if invoice.status != "draft":
            continue
        if any(
            get_subscription_by_id(organization_id, part.subscription_id).plan_id == plan.lago_id
            for part in invoice.parts
        ):
            finalize_invoice(organization_id, invoice.lago_id)
