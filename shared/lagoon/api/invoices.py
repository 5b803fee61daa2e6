"""Routes of the invoices group: /invoices, /invoices/{lago_id} and its actions,
/customers/{external_customer_id}/invoices.

One-off invoices, deletion, download, void, retry, payment URL and disputes are routes of
`lagoon.api.invoice_actions` (issue 9), included in the same function; preview answers 405 `not_implemented`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon import errors
from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id
from lagoon.domain.invoices import InvoiceUpdateInput
from lagoon.models import LagoonModel
from lagoon.services import customers
from lagoon.services.invoicing import invoices

router = APIGatewayRouter()

StatusFilter = Literal["draft", "finalized", "voided", "failed", "pending", "closed"]
PaymentStatusFilter = Literal["pending", "succeeded", "failed"]
InvoiceType = Literal["subscription", "add_on", "credit", "one_off", "advance_charges", "progressive_billing"]


class InvoiceUpdateBody(LagoonModel):
    invoice: InvoiceUpdateInput


def _filters(
    statuses: list[str] | None,
    payment_statuses: list[str] | None,
    **fields: Any,
) -> invoices.InvoiceFilters:
    for name in ("issuing_date_from", "issuing_date_to"):
        value = fields.get(name)
        if value is None:
            continue
        try:
            fields[name] = date.fromisoformat(value).isoformat()
        except ValueError:
            raise errors.ValidationFailed.field(name, "invalid_date") from None
    return invoices.InvoiceFilters(
        statuses=tuple(statuses or ()), payment_statuses=tuple(payment_statuses or ()), **fields
    )


def _listing(org_id: str, filters: invoices.InvoiceFilters, page: int, per_page: int) -> dict[str, Any]:
    found = invoices.list_invoices(org_id, filters)
    return list_body("invoices", found, Page.of(page, per_page), invoices.ListRenderer(org_id))


@router.get("/invoices")
def list_invoices(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    external_customer_id: Annotated[str | None, Query()] = None,
    issuing_date_from: Annotated[str | None, Query()] = None,
    issuing_date_to: Annotated[str | None, Query()] = None,
    currency: Annotated[str | None, Query()] = None,
    invoice_type: Annotated[InvoiceType | None, Query()] = None,
    payment_overdue: Annotated[bool | None, Query()] = None,
    amount_from: Annotated[int | None, Query()] = None,
    amount_to: Annotated[int | None, Query()] = None,
    search_term: Annotated[str | None, Query()] = None,
    statuses: Annotated[list[StatusFilter] | None, Query(alias="statuses[]")] = None,
    status: Annotated[StatusFilter | None, Query()] = None,
    payment_statuses: Annotated[list[PaymentStatusFilter] | None, Query(alias="payment_statuses[]")] = None,
    payment_status: Annotated[PaymentStatusFilter | None, Query()] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    # The customer who holds the external_id now (a deleted one's invoices are not theirs); none left →
    # the deleted customers' invoices under that external_id
    current = customers.find_customer(org_id, external_customer_id) if external_customer_id else None
    filters = _filters(
        [*(statuses or ()), *([status] if status else [])],
        [*(payment_statuses or ()), *([payment_status] if payment_status else [])],
        external_customer_id=external_customer_id,
        customer_id=current.lago_id if current else None,
        issuing_date_from=issuing_date_from,
        issuing_date_to=issuing_date_to,
        currency=currency,
        invoice_type=invoice_type,
        payment_overdue=payment_overdue,
        amount_from=amount_from,
        amount_to=amount_to,
        search_term=search_term,
    )
    return _listing(org_id, filters, page, per_page)


@router.get("/customers/<external_customer_id>/invoices")
def list_customer_invoices(
    external_customer_id: str,
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    issuing_date_from: Annotated[str | None, Query()] = None,
    issuing_date_to: Annotated[str | None, Query()] = None,
    invoice_type: Annotated[InvoiceType | None, Query()] = None,
    payment_overdue: Annotated[bool | None, Query()] = None,
    amount_from: Annotated[int | None, Query()] = None,
    amount_to: Annotated[int | None, Query()] = None,
    search_term: Annotated[str | None, Query()] = None,
    status: Annotated[StatusFilter | None, Query()] = None,
    statuses: Annotated[list[StatusFilter] | None, Query(alias="statuses[]")] = None,
    payment_status: Annotated[PaymentStatusFilter | None, Query()] = None,
    payment_statuses: Annotated[list[PaymentStatusFilter] | None, Query(alias="payment_statuses[]")] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    customer = customers.get_customer(org_id, external_customer_id)
    filters = _filters(
        [*(statuses or ()), *([status] if status else [])],
        [*(payment_statuses or ()), *([payment_status] if payment_status else [])],
        external_customer_id=external_customer_id,
        customer_id=customer.lago_id,
        issuing_date_from=issuing_date_from,
        issuing_date_to=issuing_date_to,
        invoice_type=invoice_type,
        payment_overdue=payment_overdue,
        amount_from=amount_from,
        amount_to=amount_to,
        search_term=search_term,
    )
    return _listing(org_id, filters, page, per_page)


@router.get("/invoices/<lago_id>")
def get_invoice(lago_id: str) -> dict[str, Any]:
    invoice = invoices.get_invoice(organization_id(router), lago_id)
    return {"invoice": invoices.extended_invoice_body(invoice)}


@router.put("/invoices/<lago_id>")
def update_invoice(lago_id: str, body: Annotated[InvoiceUpdateBody, Body()]) -> dict[str, Any]:
    invoice = invoices.update_invoice(organization_id(router), lago_id, body.invoice)
    return {"invoice": invoices.extended_invoice_body(invoice)}


@router.put("/invoices/<lago_id>/finalize")
def finalize_invoice(lago_id: str) -> dict[str, Any]:
    from lagoon.services.invoicing import drafts  # cold start: billing loads at the first finalize

    invoice = drafts.finalize_invoice(organization_id(router), lago_id)
    return {"invoice": invoices.extended_invoice_body(invoice)}


@router.put("/invoices/<lago_id>/refresh")
def refresh_invoice(lago_id: str) -> dict[str, Any]:
    from lagoon.services.invoicing import drafts  # cold start: billing loads at the first refresh

    invoice = drafts.refresh_invoice(organization_id(router), lago_id)
    return {"invoice": invoices.extended_invoice_body(invoice)}


# --- one-off invoices, deletion, download, void, retry and payment actions: lagoon.api.invoice_actions ------


@router.post("/invoices/preview")
def preview_invoice() -> dict[str, Any]:
    """Previews price hypothetical subscriptions and customers (Lago's `PreviewService`), which the billing
    code does not model yet: 405 `not_implemented` (docs/documents.md), never a fake success."""
    organization_id(router)
    raise errors.NotImplementedYet("invoice preview")
