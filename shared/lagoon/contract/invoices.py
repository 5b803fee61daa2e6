"""Lago's InvoiceObject and InvoiceObjectExtended, and the invoice-level applied taxes.

The customer and subscriptions an invoice shows come rendered by their own builders (the caller passes their
bodies), so an invoice renders the same in the API, its webhooks and its PDF (`lagoon.documents`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from lagoon.contract.fees import render_fee
from lagoon.domain.coupons import Coupon
from lagoon.domain.invoices import Invoice, InvoicePart, stable_id
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.taxes import Tax
from lagoon.domain.times import iso
from lagoon.engine.invoice_math import AppliedTaxTotal


def _paid_amount_cents(invoice: Invoice) -> int:
    """What the customer has paid: the whole total once the payment status is `succeeded` (Lagoon records
    no partial payments: payments are a deferred feature)."""
    return invoice.total_amount_cents if invoice.payment_status == "succeeded" else 0


def _render_base(invoice: Invoice, customer_body: dict[str, Any]) -> dict[str, Any]:
    paid = _paid_amount_cents(invoice)
    return {
        "lago_id": invoice.lago_id,
        "billing_entity_code": None,
        "sequential_id": invoice.sequential_id,
        "number": invoice.number,
        "issuing_date": invoice.issuing_date,
        "payment_due_date": invoice.payment_due_date,
        "payment_overdue": invoice.payment_overdue,
        "net_payment_term": invoice.net_payment_term,
        "invoice_type": invoice.invoice_type,
        "status": invoice.status,
        "payment_status": invoice.payment_status,
        "currency": invoice.currency,
        "fees_amount_cents": invoice.fees_amount_cents,
        "coupons_amount_cents": invoice.coupons_amount_cents,
        "credit_notes_amount_cents": invoice.credit_notes_amount_cents,
        "sub_total_excluding_taxes_amount_cents": invoice.sub_total_excluding_taxes_amount_cents,
        "taxes_amount_cents": invoice.taxes_amount_cents,
        "sub_total_including_taxes_amount_cents": invoice.sub_total_including_taxes_amount_cents,
        "prepaid_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "prepaid_granted_credit_amount_cents": 0,
        "prepaid_purchased_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "progressive_billing_credit_amount_cents": 0,
        "total_amount_cents": invoice.total_amount_cents,
        # Not in the v1.51 contract, but lago-python-client requires total_due_amount_cents (Lago sends both).
        "total_paid_amount_cents": paid,
        "total_due_amount_cents": invoice.total_amount_cents - paid,
        "version_number": 4,
        "self_billed": False,
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
        "customer": customer_body,
        "metadata": list(invoice.metadata),
        "applied_taxes": list(invoice.applied_taxes),
        "applied_invoice_custom_sections": [],
        "applied_usage_thresholds": [],
    }


def _without_nulls(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        if body.get(key) is None:
            body.pop(key, None)
    return body


def render_invoice(invoice: Invoice, customer_body: dict[str, Any]) -> dict[str, Any]:
    """InvoiceObject of the contract (list items: without fees); `customer_body` is its CustomerObject."""
    body = _render_base(invoice, customer_body)
    return _without_nulls(body, "sequential_id")  # a draft has no number yet


def _billing_period(part: InvoicePart, subscription: Subscription) -> dict[str, Any]:
    fee_period = part.fee_period or part.charges_period
    charges_period = part.charges_period or part.fee_period
    assert fee_period is not None and charges_period is not None

    def inclusive(moment: datetime) -> str:
        return iso(moment - timedelta(seconds=1))

    return {
        "lago_subscription_id": part.subscription_id,
        "external_subscription_id": subscription.external_id,
        "lago_plan_id": subscription.plan_id,
        "subscription_from_datetime": iso(fee_period.from_datetime),
        "subscription_to_datetime": inclusive(fee_period.to_datetime),
        "charges_from_datetime": iso(charges_period.from_datetime),
        "charges_to_datetime": inclusive(charges_period.to_datetime),
        "invoicing_reason": part.invoicing_reason,
    }


def render_invoice_extended(
    invoice: Invoice,
    customer_body: dict[str, Any],
    subscriptions: Sequence[tuple[Subscription, dict[str, Any]]],
) -> dict[str, Any]:
    """InvoiceObjectExtended: the invoice with its fees, credits, billing periods and subscriptions — the
    object the API, the webhooks and the PDF renderer (`lagoon.documents.render_invoice_pdf`) take.
    `subscriptions`: each subscription the invoice bills, in the order of its parts, with its
    SubscriptionObject."""
    body = render_invoice(invoice, customer_body)
    by_id = {subscription.lago_id: subscription for subscription, _ in subscriptions}
    body["billing_periods"] = [_billing_period(part, by_id[part.subscription_id]) for part in invoice.parts]
    body["credits"] = [
        dict(credit, invoice={"lago_id": invoice.lago_id, "payment_status": invoice.payment_status})
        for credit in invoice.credits
    ]
    body["fees"] = [render_fee(invoice, fee) for fee in invoice.fees]
    body["subscriptions"] = [rendered for _, rendered in subscriptions]
    body["error_details"] = []
    return body


def invoice_applied_tax(
    invoice_id: str,
    currency: str,
    created_at: str,
    *,
    code: str,
    name: str,
    rate: float,
    lago_tax_id: str | None,
    description: str | None,
    amount_cents: int,
    fees_amount_cents: int,
) -> dict[str, Any]:
    """One of an invoice's `applied_taxes`: a tax on the fees it applies to."""
    return {
        "lago_id": stable_id(invoice_id, "tax", code),
        "lago_invoice_id": invoice_id,
        "lago_tax_id": lago_tax_id,
        "tax_name": name,
        "tax_code": code,
        "tax_rate": rate,
        "tax_description": description,
        "amount_cents": amount_cents,
        "amount_currency": currency,
        "fees_amount_cents": fees_amount_cents,
        "created_at": created_at,
    }


def invoice_applied_taxes(
    invoice_id: str,
    currency: str,
    created_at: str,
    applied: Iterable[AppliedTaxTotal],
    taxes: Mapping[str, Tax],
) -> list[dict[str, Any]]:
    """An invoice's `applied_taxes` from the engine's per-tax totals (`taxes`: the taxes applied, by code)."""
    return [
        invoice_applied_tax(
            invoice_id,
            currency,
            created_at,
            code=tax.tax_code,
            name=tax.tax_name,
            rate=float(tax.tax_rate),
            lago_tax_id=taxes[tax.tax_code].lago_id,
            description=taxes[tax.tax_code].description,
            amount_cents=tax.amount_cents,
            fees_amount_cents=tax.fees_amount_cents,
        )
        for tax in applied
    ]


def coupon_credit(
    invoice_id: str, currency: str, applied_coupon_id: str, amount_cents: int, coupon: Coupon
) -> dict[str, Any]:
    """One of an invoice's `credits`: what an applied coupon deducted (before taxes)."""
    return {
        "lago_id": stable_id(invoice_id, "credit", applied_coupon_id),
        "amount_cents": amount_cents,
        "amount_currency": currency,
        "before_taxes": True,
        "item": {
            "lago_item_id": coupon.lago_id,
            "type": "coupon",
            "code": coupon.code,
            "name": coupon.name,
        },
    }
