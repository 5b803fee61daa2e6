"""The invoices resource: read, list and update invoices (`/invoices`), and how an invoice is shown — in
answers, webhooks and PDFs — with its customer and subscriptions rendered by their services.

Computing what an invoice bills is `lagoon.services.invoicing.compute`; storing it `lagoon.data.invoices`; its
body `lagoon.contract.invoices`. Every change of an invoice is one conditional write on its revision, with its
webhook message in the same transaction (`invoice.drafted`, `invoice.created`, `invoice.payment_status_updated`,
`invoice.payment_overdue`…), whose id is derived from the invoice and the event, so a retried or concurrent
run records it at most once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lagoon import errors
from lagoon.contract.customers import render_customer
from lagoon.contract.invoices import render_invoice, render_invoice_extended
from lagoon.contract.subscriptions import render_subscription
from lagoon.data import customers, entities, invoices as invoice_store, organizations
from lagoon.data.lookups import Lookups
from lagoon.domain.invoices import LISTED_BY_DEFAULT, Invoice, InvoiceUpdateInput, stable_id
from lagoon.domain.times import iso
from lagoon.services.contention import retried_on_conflict

METADATA_PER_INVOICE = 5
"""Most metadata an invoice carries (lago-api `Metadata::InvoiceMetadata::COUNT_PER_INVOICE`)."""

# --- showing an invoice ----------------------------------------------------------------------------------


def invoice_body(invoice: Invoice, lookups: Lookups | None = None) -> dict[str, Any]:
    """InvoiceObject (without fees), with its customer."""
    lookups = lookups or Lookups(invoice.organization_id)
    customer = lookups.customer(invoice.customer_id)
    return render_invoice(invoice, render_customer(customer, lookups.organization))


def extended_invoice_body(invoice: Invoice, lookups: Lookups | None = None) -> dict[str, Any]:
    """InvoiceObjectExtended: with its customer and subscriptions (`lookups`: reads shared with the caller's
    other renders)."""
    lookups = lookups or Lookups(invoice.organization_id)
    customer = lookups.customer(invoice.customer_id)
    customer_body = render_customer(customer, lookups.organization)
    shown = []
    for subscription_id in dict.fromkeys(part.subscription_id for part in invoice.parts):
        subscription = lookups.subscription(subscription_id)
        shown.append((subscription, render_subscription(subscription, lookups=lookups)))
    return render_invoice_extended(invoice, customer_body, shown)


class ListRenderer:
    """Renders list items, each customer once."""

    def __init__(self, organization_id: str) -> None:
        self.organization = organizations.get_organization(organization_id)
        self._customers: dict[str, dict[str, Any]] = {}

    def __call__(self, invoice: Invoice) -> dict[str, Any]:
        body = self._customers.get(invoice.customer_id)
        if body is None:
            customer = customers.get_customer_by_id(invoice.organization_id, invoice.customer_id)
            body = self._customers[invoice.customer_id] = render_customer(customer, self.organization)
        return render_invoice(invoice, body)


def message(
    webhook_type: str, invoice: Invoice, event_key: str, lookups: Lookups | None = None
) -> entities.OutboxMessage:
    """The webhook of an invoice event, with the rendered invoice; its id is derived from the event."""
    result = entities.OutboxMessage(
        invoice.organization_id, webhook_type, "invoice", extended_invoice_body(invoice, lookups)
    )
    result.message_id = stable_id(invoice.organization_id, invoice.lago_id, webhook_type, event_key)
    return result


# --- listing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    statuses: tuple[str, ...] = ()
    payment_statuses: tuple[str, ...] = ()
    external_customer_id: str | None = None
    customer_id: str | None = None
    """The customer's lago_id: a deleted customer's external_id may be reused, its invoices stay its own."""
    issuing_date_from: str | None = None
    issuing_date_to: str | None = None
    currency: str | None = None
    invoice_type: str | None = None
    payment_overdue: bool | None = None
    amount_from: int | None = None
    amount_to: int | None = None
    search_term: str | None = None

    def accepts(self, invoice: Invoice) -> bool:
        statuses = self.statuses or LISTED_BY_DEFAULT
        checks = [
            invoice.status in statuses,
            not self.payment_statuses or invoice.payment_status in self.payment_statuses,
            self.external_customer_id is None or invoice.external_customer_id == self.external_customer_id,
            self.customer_id is None or invoice.customer_id == self.customer_id,
            self.issuing_date_from is None or invoice.issuing_date >= self.issuing_date_from,
            self.issuing_date_to is None or invoice.issuing_date <= self.issuing_date_to,
            self.currency is None or invoice.currency == self.currency,
            self.invoice_type is None or invoice.invoice_type == self.invoice_type,
            self.payment_overdue is None or invoice.payment_overdue == self.payment_overdue,
            self.amount_from is None or invoice.total_amount_cents >= self.amount_from,
            self.amount_to is None or invoice.total_amount_cents <= self.amount_to,
        ]
        if self.search_term:
            term = self.search_term.lower()
            checks.append(
                term in invoice.number.lower()
                or term in invoice.lago_id
                or term in invoice.external_customer_id.lower()
            )
        return all(checks)


def list_invoices(organization_id: str, filters: InvoiceFilters) -> list[Invoice]:
    """Invoices newest first (issuing date, then creation), filtered; `closed` only when asked for. A current
    customer's invoices are read from its index; other lists still read the organization's (issue 17)."""
    if filters.customer_id is not None:
        stored = invoice_store.customer_invoices(organization_id, filters.customer_id)
    else:
        stored = invoice_store.all_invoices(organization_id)
    found = [invoice for invoice in stored if filters.accepts(invoice)]
    return sorted(found, key=lambda i: (i.issuing_date, i.created_at, i.lago_id), reverse=True)


def get_invoice(organization_id: str, lago_id: str) -> Invoice:
    """`GET /invoices/{lago_id}`: 404 `invoice_not_found` for an unknown id."""
    return invoice_store.get_invoice(organization_id, lago_id)


# --- update ----------------------------------------------------------------------------------------------


@retried_on_conflict("invoice")
def update_invoice(organization_id: str, lago_id: str, data: InvoiceUpdateInput) -> Invoice:
    """`PUT /invoices/{lago_id}`: payment status (`invoice.payment_status_updated`) and metadata (applied again
    on the new state when a concurrent change of the invoice won).

    A voided invoice cannot be modified (lago-docs changelog "Void invoices"; lago-api's InvoicesController
    answers 405 `update_on_voided_invoice` before anything else)."""
    invoice = invoice_store.get_invoice(organization_id, lago_id)
    _check_update_allowed(invoice, data)
    sent = data.model_fields_set
    now = iso(datetime.now(UTC))
    update: dict[str, Any] = {"updated_at": now}
    status_changed = False
    if "payment_status" in sent and data.payment_status is not None:
        status_changed = data.payment_status != invoice.payment_status
        update["payment_status"] = data.payment_status
        if data.payment_status == "succeeded":
            update["payment_overdue"] = False
    if "metadata" in sent and data.metadata is not None:
        update["metadata"] = _merge_metadata(invoice.metadata, data.metadata, now)
    changed = invoice.model_copy(update=update)
    writes = entities.Writes()
    stored = invoice_store.put_invoice(writes, changed)
    if status_changed:
        writes.message(
            message("invoice.payment_status_updated", stored, f"{stored.payment_status}#{stored.revision}")
        )
    writes.commit()
    if status_changed:
        invoice_store.project_fees(stored)
    return stored


def _check_update_allowed(invoice: Invoice, data: InvoiceUpdateInput) -> None:
    """Lago's refusals, in its order (InvoicesController#update, then Invoices::UpdateService): a voided invoice,
    metadata sent to a draft (even an empty list), more than 5 metadata, a draft's payment status changed."""
    if invoice.status == "voided":
        raise errors.MethodNotAllowed("update_on_voided_invoice")
    if invoice.status == "draft" and data.metadata is not None:
        raise errors.MethodNotAllowed("metadata_on_draft_invoice")
    if data.metadata is not None and len(data.metadata) > METADATA_PER_INVOICE:
        raise errors.ValidationFailed({"metadata": ["invalid_count"]})
    changes_status = data.payment_status is not None and data.payment_status != invoice.payment_status
    if invoice.status == "draft" and changes_status:
        raise errors.MethodNotAllowed("payment_status_update_on_draft_invoice")


def _merge_metadata(existing: list[dict[str, Any]], sent: list[Any], now: str) -> list[dict[str, Any]]:
    """Lago: items with a known id are updated, items without an id are added, the others removed."""
    by_id = {item["lago_id"]: item for item in existing}
    merged = []
    for item in sent:
        previous = by_id.get(item.id) if item.id else None
        merged.append(
            {
                "lago_id": previous["lago_id"] if previous else str(uuid.uuid4()),
                "key": item.key,
                "value": item.value,
                "created_at": previous["created_at"] if previous else now,
            }
        )
    return merged
