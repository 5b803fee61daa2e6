"""Routes of the invoices group served by the documents issue: one-off invoices, draft deletion, PDF
download, void, retry and the payment-provider actions (`lagoon.services.invoicing.invoice_actions` says which Lago
rules and errors each follows). Included next to `lagoon.api.invoices` in the invoices function."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import ConfigDict, Field

from lagoon.api.resolver import organization_id
from lagoon.domain.one_off_invoices import OneOffInvoiceInput
from lagoon.models import LagoonModel
from lagoon.services.invoicing import invoice_actions, invoice_documents, invoices, one_off_invoices

router = APIGatewayRouter()


class OneOffInvoiceBody(LagoonModel):
    invoice: OneOffInvoiceInput


class InvoiceVoidBody(LagoonModel):
    """InvoiceVoidInput (top-level parameters, optional)."""

    model_config = ConfigDict(extra="ignore")

    generate_credit_note: bool | None = None
    refund_amount: Annotated[int, Field(ge=0)] | None = None
    credit_amount: Annotated[int, Field(ge=0)] | None = None


def _invoice(invoice: Any) -> dict[str, Any]:
    return {"invoice": invoices.extended_invoice_body(invoice)}


@router.post("/invoices")
def create_one_off_invoice(body: Annotated[OneOffInvoiceBody, Body()]) -> dict[str, Any]:
    return _invoice(one_off_invoices.create_one_off_invoice(organization_id(router), body.invoice))


@router.delete("/invoices/<lago_id>")
def delete_invoice(lago_id: str) -> dict[str, Any]:
    return {"invoice": invoice_actions.delete_draft_invoice(organization_id(router), lago_id)}


@router.post("/invoices/<lago_id>/download")
def download_invoice(lago_id: str) -> dict[str, Any]:
    return {"invoice": invoice_documents.download_invoice(organization_id(router), lago_id)}


@router.post("/invoices/<lago_id>/void")
def void_invoice(lago_id: str, body: Annotated[InvoiceVoidBody | None, Body()] = None) -> dict[str, Any]:
    generate = bool(body and body.generate_credit_note)
    return _invoice(
        invoice_actions.void_invoice(organization_id(router), lago_id, generate_credit_note=generate)
    )


@router.post("/invoices/<lago_id>/retry")
def retry_invoice(lago_id: str) -> dict[str, Any]:
    return _invoice(invoice_actions.retry_invoice(organization_id(router), lago_id))


@router.post("/invoices/<lago_id>/payment_url")
def invoice_payment_url(lago_id: str) -> dict[str, Any]:
    return invoice_actions.payment_url(organization_id(router), lago_id)


@router.post("/invoices/<lago_id>/retry_payment")
def retry_invoice_payment(lago_id: str) -> dict[str, Any]:
    invoice_actions.retry_payment(organization_id(router), lago_id)
    return {}


@router.post("/invoices/<lago_id>/lose_dispute")
def lose_invoice_dispute(lago_id: str) -> dict[str, Any]:
    return _invoice(invoice_actions.lose_dispute(organization_id(router), lago_id))
