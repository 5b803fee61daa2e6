"""Invoice PDFs: rendered once per finalized invoice, stored in the documents bucket, downloaded through a
presigned URL (docs/documents.md).

Lago generates the PDF of an invoice when it is finalized and keeps that file (`Invoices::GenerateService`:
`generate_pdf(invoice) if invoice.file.blank?`); `POST /invoices/{lago_id}/download` serves only finalized
invoices (`invoices.finalized.find_by`: a draft, voided or unknown invoice is a 404 `invoice_not_found`).
Lagoon does the same, asynchronously as Lago does (its PDF job runs after the finalization):
- every finalization (billing run, grace-period timer, `PUT /finalize`, terminations, one-off invoices)
  records a document timer in its own transaction; the documents function (every minute) renders the PDF of
  each due timer and then drops it — a crash leaves the timer for the next run. Rendering (~70 ms a page)
  stays out of the billing run, whose time must follow subscriptions, not documents;
- the key is derived from the invoice (`invoices/<org>/<lago_id>.pdf`) and the object is put only when absent,
  so a timer run twice or a download racing the documents function find or write the same object (the
  renderer is deterministic: same invoice, same bytes); the first download renders a file not there yet;
- each generated file records an `invoice.generated` webhook, once (message id derived from the invoice).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.contract.organizations import render_organization
from lagoon.data import documents_store, entities, invoices as invoice_store
from lagoon.data.lookups import Lookups
from lagoon.documents import render_invoice_pdf
from lagoon.domain.invoices import Invoice
from lagoon.observability import logger
from lagoon.services.invoicing import invoices

URL_LIFETIME_SECONDS = 3600
"""Lifetime of a download URL. On AWS a presigned URL also ends with the Lambda role's session credentials,
so a longer lifetime would not be honoured; ask `download` again for a fresh one."""


def document_key(invoice: Invoice) -> str:
    return f"invoices/{invoice.organization_id}/{invoice.lago_id}.pdf"


def render_pdf(invoice: Invoice, lookups: Lookups | None = None) -> bytes:
    """The invoice's PDF, from the invoice exactly as the API renders it (`lagoon.documents`)."""
    lookups = lookups or Lookups(invoice.organization_id)
    body = invoices.extended_invoice_body(invoice, lookups)
    organization = render_organization(lookups.organization)
    return render_invoice_pdf(body, organization, body["customer"])


def ensure_invoice_pdf(invoice: Invoice) -> str:
    """The key of the finalized invoice's PDF, rendered and stored the first time (idempotent)."""
    key = document_key(invoice)
    if documents_store.exists(key):
        return key
    lookups = Lookups(invoice.organization_id)
    documents_store.put_pdf(key, render_pdf(invoice, lookups), f"{invoice.number}.pdf")
    # One webhook per file: a concurrent generation that recorded it first wins the message id.
    with contextlib.suppress(errors.ConflictRetry):
        entities.Writes().message(invoices.message("invoice.generated", invoice, "pdf", lookups)).commit()
    return key


def generate_due_documents(now: datetime) -> tuple[int, int]:
    """The documents function's run: render the PDF of every finalized invoice whose document timer is due.
    Returns (rendered, failed); a failed timer stays for the next run."""
    rendered = failed = 0
    for key, timer in invoice_store.due_timers(now, kind=invoice_store.DOCUMENT_TIMER_KIND):
        try:
            invoice = invoice_store.find_invoice(timer["organization_id"], timer["invoice_id"])
            if invoice is not None and invoice.status == "finalized":
                ensure_invoice_pdf(invoice)
                rendered += 1
        except errors.LagoonError:
            failed += 1
            logger.exception("invoice PDF not rendered, retried next run", extra={"timer": key})
            continue
        with contextlib.suppress(errors.ConflictRetry):
            invoice_store.drop_timer(key, kind=invoice_store.DOCUMENT_TIMER_KIND)
    return rendered, failed


def download_invoice(organization_id: str, lago_id: str) -> dict[str, Any]:
    """`POST /invoices/{lago_id}/download`: the invoice (InvoiceObject, as Lago renders it there) with a
    `file_url` valid for `URL_LIFETIME_SECONDS`."""
    invoice = invoice_store.get_invoice(organization_id, lago_id)
    if invoice.status != "finalized":
        raise errors.NotFound("invoice")
    key = ensure_invoice_pdf(invoice)
    body = invoices.invoice_body(invoice)
    body["file_url"] = documents_store.presigned_get_url(key, URL_LIFETIME_SECONDS)
    return body
