"""Invoice actions beyond billing: void, delete a draft, retry a failed invoice, and the payment-provider
actions (payment URL, payment retry, lost disputes), following Lago's services:

- void (`Invoices::VoidService`, lago-docs/20-invoices.md "Void an invoice"): only a `finalized` invoice whose
  payment status is not `succeeded`, else 405 `not_voidable`; it clears `payment_overdue` and records
  `invoice.voided`. Voiding with `generate_credit_note` needs credit notes, deferred (DECISIONS.md): 405
  `not_implemented`;
- delete (`Invoices::DeleteService`): only a `draft`, else 405 `not_deletable`; the invoice, its fees and its
  finalization timer go, `invoice.deleted` is recorded; the billing cursors stay, so the period is not billed
  again (Lago: a deleted draft "never becomes accounts receivable");
- retry (`Invoices::RetryService`): only a `failed` invoice, else 405 `invalid_status`. Lagoon's invoices fail
  only through a tax provider, which cannot be configured yet, so no invoice can be failed;
- payment URL (`Invoices::Payments::GeneratePaymentUrlService`): with no payment provider linked to the
  customer Lago answers 422 `validation_errors` `{"base": ["no_linked_payment_provider"]}` — and payment
  providers are deferred (DECISIONS.md), so that is always the answer;
- retry payment (`Invoices::Payments::RetryService`): 405 `invalid_status` for a draft, voided or paid invoice;
  otherwise Lago would hand the invoice to the customer's provider — Lagoon has none, so it answers 422
  `no_linked_payment_provider` instead of a success that collects nothing;
- lose dispute: disputes are reported by payment providers (deferred): 405 `not_implemented` once the
  invoice is known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lagoon import errors
from lagoon.data import entities, invoices as invoice_store
from lagoon.domain.invoices import Invoice
from lagoon.domain.times import iso, parse_iso
from lagoon.services.contention import run_with_retries
from lagoon.services.invoicing import invoices

NO_PROVIDER = (
    "no payment provider is linked to this customer: payment providers are not available in this version of "
    "Lagoon; record payments with PUT /invoices/{lago_id} (payment_status)"
)


def void_invoice(
    organization_id: str, lago_id: str, *, generate_credit_note: bool = False, now: datetime | None = None
) -> Invoice:
    """`POST /invoices/{lago_id}/void` (decided again on the new state when a concurrent change — payment
    status, metadata, another void — won)."""

    def void_once() -> Invoice:
        invoice = invoice_store.get_invoice(organization_id, lago_id)
        if generate_credit_note:
            raise errors.NotImplementedYet("credit notes (voiding with generate_credit_note)")
        if invoice.status != "finalized" or invoice.payment_status == "succeeded":
            raise errors.MethodNotAllowed("not_voidable")
        stamp = iso(now or datetime.now(UTC))
        voided = invoice.model_copy(
            update={"status": "voided", "payment_overdue": False, "updated_at": stamp}
        )
        writes = entities.Writes()
        stored = invoice_store.put_invoice(writes, voided)
        writes.message(invoices.message("invoice.voided", stored, "voided"))
        writes.commit()
        return stored

    stored = run_with_retries(void_once, "invoice")
    invoice_store.project_fees(stored)
    return stored


def delete_draft_invoice(organization_id: str, lago_id: str) -> dict[str, Any]:
    """`DELETE /invoices/{lago_id}`: the deleted draft, rendered as it was (InvoiceObjectExtended)."""

    def delete_once() -> tuple[Invoice, dict[str, Any]]:
        invoice = invoice_store.get_invoice(organization_id, lago_id)
        if invoice.status != "draft":
            raise errors.MethodNotAllowed("not_deletable")
        body = invoices.extended_invoice_body(invoice)
        writes = entities.Writes()
        # Conditional on the revision: a finalization committed meanwhile makes this fail (and 405 next).
        invoice_store.delete_invoice(writes, invoice)
        if invoice.grace_ends_at:
            due = parse_iso(invoice.grace_ends_at)
            assert due is not None
            invoice_store.unschedule(writes, invoice, due, "finalize")
        writes.message(invoices.message("invoice.deleted", invoice, "deleted"))
        writes.commit()
        return invoice, body

    invoice, body = run_with_retries(delete_once, "invoice")
    invoice_store.delete_fee_documents(invoice)
    return body


def retry_invoice(organization_id: str, lago_id: str) -> Invoice:
    """`POST /invoices/{lago_id}/retry`."""
    invoice = invoice_store.get_invoice(organization_id, lago_id)
    if invoice.status != "failed":
        raise errors.MethodNotAllowed("invalid_status")
    raise errors.ProviderNotConfigured(
        "tax_provider_not_configured", "failed invoices come from a tax provider, which Lagoon cannot use yet"
    )


def payment_url(organization_id: str, lago_id: str) -> dict[str, Any]:
    """`POST /invoices/{lago_id}/payment_url`."""
    invoice_store.get_invoice(organization_id, lago_id)
    raise errors.ValidationFailed({"base": ["no_linked_payment_provider"]})


def retry_payment(organization_id: str, lago_id: str) -> None:
    """`POST /invoices/{lago_id}/retry_payment`."""
    invoice = invoice_store.get_invoice(organization_id, lago_id)
    if invoice.status in ("draft", "voided") or invoice.payment_status == "succeeded":
        raise errors.MethodNotAllowed("invalid_status")
    raise errors.ProviderNotConfigured("no_linked_payment_provider", NO_PROVIDER)


def lose_dispute(organization_id: str, lago_id: str) -> Invoice:
    """`POST /invoices/{lago_id}/lose_dispute`."""
    invoice_store.get_invoice(organization_id, lago_id)
    raise errors.NotImplementedYet("payment disputes (they are reported by payment providers)")
