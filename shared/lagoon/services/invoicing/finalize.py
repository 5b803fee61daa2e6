"""Finalizing an invoice, and the work that follows any invoice's commit.

Finalization numbers the invoice (or closes a skipped zero-amount one: DECISIONS.md "Billing"), consumes its
coupons, schedules its overdue check and its PDF and records `invoice.created` — all in the caller's
transaction, conditional on the counters' revisions (`numbering`), so coupon consumption and numbers are
serialised per customer.

After the commit, the invoice is projected: its fees as `fee` documents, and its charges periods marked for the
aggregator (closed once final; a draft's still counting late events, which flag it for a refresh). The commit
records this as a `project` timer, redone by the next run if a crash interrupts it (idempotent writes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lagoon.data import closed_periods, entities, invoices as invoice_store
from lagoon.domain import invoice_terms
from lagoon.domain.coupons import AppliedCoupon
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import Invoice
from lagoon.domain.times import iso
from lagoon.services.catalog import coupons
from lagoon.services.invoicing import invoices, numbering
from lagoon.services.invoicing.run_catalog import Catalog


def finalize_into(
    writes: entities.Writes, invoice: Invoice, catalog: Catalog, customer: Customer, moment: datetime
) -> Invoice:
    """Number the invoice (or close a skipped zero-amount one), consume its coupons, schedule the overdue
    check and record `invoice.created` — all in `writes`, conditional on the counters' revisions."""
    organization = catalog.organization
    timezone = catalog.timezone(customer)
    issuing = invoice.issuing_date
    adjustment = customer.billing_configuration.subscription_invoice_issuing_date_adjustment
    if invoice.grace_ends_at is not None and adjustment != "keep_anchor":
        issuing = invoice_terms.local_today(moment, timezone)  # Lago's align_with_finalization_date
    update: dict[str, Any] = {
        "issuing_date": issuing,
        "payment_due_date": invoice_terms.payment_due_date(issuing, invoice.net_payment_term),
        "finalized_at": iso(moment),
        "updated_at": iso(moment),
    }
    _consume_coupons(writes, invoice, catalog.organization_id, moment)
    customer_counter = catalog.take_counter(invoice_store.customer_counter_key(customer.lago_id))
    if invoice.total_amount_cents == 0 and not invoice_terms.finalizes_zero_amount(organization, customer):
        # DECISIONS.md: a skipped zero-amount invoice is closed — not numbered, no webhook. The counter's
        # revision still moves, so coupon consumption stays serialised per customer.
        invoice_store.touch_counter(writes, catalog.organization_id, customer_counter)
        closed = invoice.model_copy(update={**update, "status": "closed"})
        return invoice_store.put_invoice(writes, closed, new=invoice.revision == 0)
    number, customer_sequence = numbering.take_invoice_number(
        writes, organization, customer, customer_counter, issuing
    )
    finalized = invoice.model_copy(
        update={
            **update,
            "status": "finalized",
            "number": number,
            "sequential_id": customer_sequence,
            # Lago: nothing to collect on a zero-amount invoice, so it is paid (and never overdue)
            "payment_status": "pending" if invoice.total_amount_cents > 0 else "succeeded",
        }
    )
    stored = invoice_store.put_invoice(writes, finalized, new=invoice.revision == 0)
    writes.message(invoices.message("invoice.created", stored, "finalized", catalog.lookups))
    invoice_store.schedule(writes, stored, invoice_terms.overdue_at(stored, timezone), "overdue")
    invoice_store.schedule_document(writes, stored, moment)
    return stored


def _consume_coupons(
    writes: entities.Writes, invoice: Invoice, organization_id: str, moment: datetime
) -> None:
    """Record what each applied coupon took (and terminate the ones used up), in `writes`."""
    for application in invoice.coupon_applications:
        document = entities.get(organization_id, coupons.APPLIED_COUPON, application["applied_coupon_id"])
        if document is None:
            continue
        applied = AppliedCoupon.model_validate(document)
        changes: dict[str, Any] = {
            "amount_cents_remaining": application["amount_cents_remaining"],
            "frequency_duration_remaining": application["frequency_duration_remaining"],
        }
        if application["terminated"]:
            changes.update(status="terminated", terminated_at=iso(moment))
        coupons.put_applied_coupon(writes, applied.model_copy(update=changes))


def project_invoice(invoice: Invoice, previous: Invoice | None = None) -> None:
    """After the commit: fee documents, and (once final) the period-closed markers that stop late events from
    counting — or, for a draft, the markers that make late events flag it."""
    final = invoice.status in ("finalized", "closed")
    invoice_store.project_fees(
        invoice, previous, with_items=closed_periods.closed_items(invoice) if final else []
    )
    if invoice.status == "draft":
        closed_periods.mark_draft_periods(invoice)
