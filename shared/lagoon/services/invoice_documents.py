"""Invoice PDFs: rendered once per finalized invoice, stored in the documents bucket, downloaded through a
presigned URL (docs/documents.md).

Lago generates the PDF of an invoice when it is finalized and keeps that file (`Invoices::GenerateService`:
`generate_pdf(invoice) if invoice.file.blank?`); `POST /invoices/{lago_id}/download` serves only finalized
invoices (`invoices.finalized.find_by`: a draft, voided or unknown invoice is a 404 `invoice_not_found`).
Lagoon does the same:
- the key is derived from the invoice (`invoices/<org>/<lago_id>.pdf`) and the object is put only when absent,
  so a retried finalization, the billing run redoing post-commit work, or a download racing the
  finalization all find or write the same object (the renderer is deterministic: same invoice, same bytes);
- generation is registered as a finalization hook of `lagoon.services.billing` (billing run, grace-period
  timer, `PUT /finalize`, terminations) and called by one-off invoices; a failure there is logged, never
  raised (the invoice is already final), and the first download generates the missing file;
- each generated file records an `invoice.generated` webhook, once (message id derived from the invoice).
"""

from __future__ import annotations

import contextlib
from typing import Any

from lagoon import errors
from lagoon.data import documents_store, entities
from lagoon.documents import render_invoice_pdf
from lagoon.domain.invoices import Invoice
from lagoon.observability import logger
from lagoon.services import billing, invoices, organizations

URL_LIFETIME_SECONDS = 3600
"""Lifetime of a download URL. On AWS a presigned URL also ends with the Lambda role's session credentials,
so a longer lifetime would not be honoured; ask `download` again for a fresh one."""


def document_key(invoice: Invoice) -> str:
    return f"invoices/{invoice.organization_id}/{invoice.lago_id}.pdf"


def render_pdf(invoice: Invoice) -> bytes:
    """The invoice's PDF, from the invoice exactly as the API renders it (`lagoon.documents`)."""
    body = invoices.render_invoice_extended(invoice)
    organization = organizations.render_organization(organizations.get_organization(invoice.organization_id))
    return render_invoice_pdf(body, organization, body["customer"])


def ensure_invoice_pdf(invoice: Invoice) -> str:
    """The key of the finalized invoice's PDF, rendered and stored the first time (idempotent)."""
    key = document_key(invoice)
    if documents_store.exists(key):
        return key
    documents_store.put_pdf(key, render_pdf(invoice), f"{invoice.number}.pdf")
    # One webhook per file: a concurrent generation that recorded it first wins the message id.
    with contextlib.suppress(errors.ConflictRetry):
        entities.Writes().message(invoices.message("invoice.generated", invoice, "pdf")).commit()
    return key


def generate_at_finalization(invoice: Invoice) -> None:
    """Finalization hook. Functions without the documents bucket (those that finalize only as a side effect
    of a termination) leave the file to the first download."""
    if not documents_store.has_bucket():
        return
    try:
        ensure_invoice_pdf(invoice)
    except Exception:  # the invoice is final whatever happens here; the download generates it again
        logger.exception(
            "invoice PDF generation deferred to the first download", extra={"invoice_id": invoice.lago_id}
        )


def download_invoice(organization_id: str, lago_id: str) -> dict[str, Any]:
    """`POST /invoices/{lago_id}/download`: the invoice (InvoiceObject, as Lago renders it there) with a
    `file_url` valid for `URL_LIFETIME_SECONDS`."""
    invoice = invoices.get_invoice(organization_id, lago_id)
    if invoice.status != "finalized":
        raise errors.NotFound("invoice")
    key = ensure_invoice_pdf(invoice)
    body = invoices.render_invoice(invoice)
    body["file_url"] = documents_store.presigned_get_url(key, URL_LIFETIME_SECONDS)
    return body


def register_hooks() -> None:
    if generate_at_finalization not in billing.finalization_hooks:
        billing.finalization_hooks.append(generate_at_finalization)


register_hooks()
