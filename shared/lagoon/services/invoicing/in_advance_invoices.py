"""Instant invoices of pay-in-advance charges, as Lago's `Invoices::CreatePayInAdvanceChargeService`: when an
event is priced on an `invoiceable` pay-in-advance charge, its fee is billed at once on an invoice of its own
(`invoice_type` subscription, `invoicing_reason` in_advance_charge):

- the invoice holds that one fee and its taxes (the fee's own: charge > plan > customer > organization);
  coupons, credit notes and prepaid credits are not applied to it (they stay for the period's invoice);
- it is finalized and numbered at once (no grace period), `payment_status` succeeded when nothing is due,
  announced with `invoice.created`, its PDF queued and its overdue timer set; a zero-amount invoice of a
  customer that skips them is `closed` (DECISIONS.md), without webhook, as every zero-amount invoice;
- its issuing date is the event's day in the customer's timezone (Lago dates it at the event's timestamp).

Exactly once: the invoice id derives from the fee id and the fee, its `fee.created`, the invoice, its webhook and
the number are one DynamoDB transaction that puts the fee only if absent — a replayed event finds its fee and
bills nothing; a lost race for the customer's number is retried with the next one. The period's invoice never
bills pay-in-advance charges (`period_fees.part_fees`), so nothing is billed twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.contract.invoices import invoice_applied_tax
from lagoon.data import entities
from lagoon.domain.customers import Customer
from lagoon.domain.invoice_terms import issued_at
from lagoon.domain.invoices import FEE_KIND, Invoice, InvoicePart, Period, stable_id
from lagoon.domain.organizations import Organization
from lagoon.domain.times import iso
from lagoon.services.contention import run_with_retries
from lagoon.services.invoicing import numbering
from lagoon.services.invoicing.one_off_invoices import finalize_new_invoice


def invoice_id_of(fee_id: str) -> str:
    return stable_id("in_advance_charge", fee_id)


def _applied_taxes(invoice_id: str, fee: dict[str, Any], created_at: str) -> list[dict[str, Any]]:
    """The invoice's taxes: its one fee's."""
    return [
        invoice_applied_tax(
            invoice_id,
            fee["amount_currency"],
            created_at,
            code=tax["tax_code"],
            name=tax["tax_name"],
            rate=tax["tax_rate"],
            lago_tax_id=tax["lago_tax_id"],
            description=tax["tax_description"],
            amount_cents=tax["amount_cents"],
            fees_amount_cents=fee["amount_cents"],
        )
        for tax in fee["applied_taxes"]
    ]


def build_invoice(
    organization: Organization,
    customer: Customer,
    fee: dict[str, Any],
    period_from: datetime,
    period_to: datetime,
    event_at: datetime,
    moment: datetime,
) -> Invoice:
    """The instant invoice of `fee` before numbering; the fee it holds points back at it."""
    invoice_id = invoice_id_of(fee["lago_id"])
    stamp = iso(moment)
    charges_period = Period(
        from_datetime=period_from,
        to_datetime=period_to,
        full_from_datetime=period_from,
        full_to_datetime=period_to,
    )
    amount, taxes_amount = fee["amount_cents"], fee["taxes_amount_cents"]
    return Invoice(
        lago_id=invoice_id,
        organization_id=organization.lago_id,
        customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        billing_key=f"{customer.lago_id}#in_advance_charge#{fee['lago_id']}",
        boundary=stamp,
        parts=[
            InvoicePart(
                subscription_id=fee["lago_subscription_id"],
                invoicing_reason="in_advance_charge",
                charges_period=charges_period,
            )
        ],
        invoice_type="subscription",
        status="draft",
        payment_status="pending" if amount + taxes_amount > 0 else "succeeded",
        number=numbering.draft_number(organization),
        **issued_at(event_at, organization, customer),
        currency=fee["amount_currency"],
        fees_amount_cents=amount,
        sub_total_excluding_taxes_amount_cents=amount,
        taxes_amount_cents=taxes_amount,
        sub_total_including_taxes_amount_cents=amount + taxes_amount,
        total_amount_cents=amount + taxes_amount,
        fees=[dict(fee, lago_invoice_id=invoice_id)],
        applied_taxes=_applied_taxes(invoice_id, fee, stamp),
        created_at=stamp,
        updated_at=stamp,
        finalized_at=stamp,
        revision=0,
    )


def bill_fee(
    organization: Organization,
    customer: Customer,
    fee: dict[str, Any],
    fee_message: Callable[[dict[str, Any]], entities.OutboxMessage],
    *,
    period_from: datetime,
    period_to: datetime,
    event_at: datetime,
    moment: datetime,
) -> Invoice | None:
    """Store `fee` (with its `fee.created`, `fee_message(the invoiced fee)`) and its finalized instant invoice in one transaction. None: the fee
    was already there (a replay or a concurrent attempt billed it)."""
    draft = build_invoice(organization, customer, fee, period_from, period_to, event_at, moment)
    invoiced_fee = draft.fees[0]

    def number_and_commit() -> Invoice | None:
        writes = entities.Writes()
        writes.put(organization.lago_id, FEE_KIND, fee["lago_id"], invoiced_fee, must_not_exist=True)
        writes.message(fee_message(invoiced_fee))
        stored = finalize_new_invoice(
            writes, organization, customer, draft, moment, webhook_type="invoice.created"
        )
        try:
            writes.commit()
        except errors.ConflictRetry:
            if entities.get(organization.lago_id, FEE_KIND, fee["lago_id"]) is not None:
                return None
            raise  # another invoice of this customer took the number: take the next one
        return stored

    return run_with_retries(number_and_commit, "invoice numbering")
