"""Invoice timers, run by the hourly billing run: finalize a draft whose grace period ended, flag an unpaid
invoice overdue once its due date has passed (`invoice.payment_overdue`), and redo the post-commit work a crash
interrupted (`project`; `regroup`: the paid fees a period invoice regroups, lagoon.services.invoicing.paid_fees).
Each timer is dropped once done; a failed one stays for the next run.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from lagoon import errors
from lagoon.data import entities, invoices as invoice_store
from lagoon.domain.invoices import Invoice
from lagoon.observability import logger
from lagoon.services.invoicing import drafts, finalize, invoices, paid_fees
from lagoon.services.invoicing.run_catalog import Catalog
from lagoon.services.invoicing.run_report import RunReport


def mark_overdue(organization_id: str, lago_id: str) -> Invoice | None:
    """Flag an unpaid finalized invoice as overdue, once (`invoice.payment_overdue`)."""
    invoice = invoice_store.find_invoice(organization_id, lago_id)
    if invoice is None or invoice.status != "finalized" or invoice.payment_status == "succeeded":
        return None
    if invoice.payment_overdue:
        return None
    writes = entities.Writes()
    stored = invoice_store.put_invoice(writes, invoice.model_copy(update={"payment_overdue": True}))
    writes.message(invoices.message("invoice.payment_overdue", stored, "overdue"))
    writes.commit()
    return stored


def process_timers(now: datetime, report: RunReport) -> None:
    """Every invoice timer due at `now`, oldest first."""
    for key, timer in invoice_store.due_timers(now):
        org, lago_id, action = timer["organization_id"], timer["invoice_id"], timer["action"]
        try:
            if action == "finalize":
                drafts.finalize_invoice(org, lago_id, invoice_store.parse_timer_due(key))
                report.finalized.append(lago_id)
            elif action == "overdue":
                if mark_overdue(org, lago_id) is not None:
                    report.overdue.append(lago_id)
            elif action == "project":
                invoice = invoice_store.find_invoice(org, lago_id)
                if invoice is not None:
                    finalize.project_invoice(invoice)
            elif action == "regroup":
                invoice = invoice_store.find_invoice(org, lago_id)
                if invoice is not None:
                    paid_fees.regroup_paid_fees(Catalog(org), invoice, now)
        except errors.ConflictRetry:
            continue  # a concurrent run did it; the next run sees the timer gone or retries
        except (errors.TransientFailure, errors.NotFound, *errors.UNBILLABLE) as exc:
            report.failures += 1
            logger.exception("invoice timer failed", extra={"timer": key, "error": str(exc)})
            continue
        with contextlib.suppress(errors.ConflictRetry):
            invoice_store.drop_timer(key)
