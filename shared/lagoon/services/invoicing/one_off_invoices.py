"""One-off invoices: add-on fees billed at once (`POST /invoices`), as Lago's `Invoices::CreateOneOffService`
and `Fees::OneOffService` do:

- the customer must exist (404 `customer_not_found`), `fees` must not be empty (404 `fees_not_found`), every
  `add_on_code` must name a live add-on (404 `add_on_not_found`), every tax code a tax (404 `tax_not_found`);
- the currency is the one sent, else the customer's; it becomes the customer's currency (422
  `currencies_does_not_match` when the customer already has another one);
- each fee: `unit_amount_cents` (else the add-on's amount) x `units` (else 1), rounded half-up to cents;
  description and display name from the request, else the add-on;
- taxes per fee: the fee's `tax_codes`, else the add-on's, else the customer's, else the organization's
  (`engine.invoice_math.resolve_fee_taxes`, no plan level for add-ons); coupons never apply to add-ons;
- the invoice is finalized at once (no grace period), numbered like every invoice, `payment_status`
  `succeeded` when nothing is due, and announced with `invoice.one_off_created`; a zero-amount invoice of a
  customer that skips them is `closed` (DECISIONS.md), without webhook. Its PDF is rendered by the documents function
  right after (`lagoon.services.invoicing.invoice_documents`), or by the first download.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lagoon import errors
from lagoon.contract.fees import ONE_OFF_FEE, FeeAmounts, FeeFacts, FeeItem, build_fee, invoiced_fee_taxes
from lagoon.contract.invoices import invoice_applied_taxes
from lagoon.data import catalog, customers, entities, invoices as invoice_store, organizations
from lagoon.domain.add_ons import AddOn
from lagoon.domain.customers import Customer, billing_timezone
from lagoon.domain.invoice_terms import (
    finalizes_zero_amount,
    issued_at,
    overdue_at,
)
from lagoon.domain.invoices import Invoice, stable_id
from lagoon.domain.one_off_invoices import OneOffFeeInput, OneOffInvoiceInput, fee_boundaries
from lagoon.domain.organizations import Organization
from lagoon.domain.taxes import Tax
from lagoon.domain.times import iso
from lagoon.engine.invoice_math import (
    FeeInput,
    FeeTotals,
    TaxRate,
    compute_invoice,
    resolve_fee_taxes,
)
from lagoon.engine.money import currency_exponent, round_cents
from lagoon.services.catalog import taxes
from lagoon.services.contention import run_with_retries
from lagoon.services.invoicing import invoices, numbering


def _rates(found: list[Tax]) -> tuple[TaxRate, ...]:
    return tuple(TaxRate(code=t.code, rate=t.rate, name=t.name) for t in found)


class _Line:
    """One requested fee, priced before taxes."""

    def __init__(
        self, index: int, request: OneOffFeeInput, add_on: AddOn, fee_taxes: tuple[Tax, ...]
    ) -> None:
        self.key = f"add_on#{index}"
        self.request = request
        self.add_on = add_on
        self.taxes = fee_taxes
        self.from_date, self.to_date = fee_boundaries(request)
        self.units = request.units if request.units is not None else Decimal(1)
        unit_cents = (
            request.unit_amount_cents if request.unit_amount_cents is not None else add_on.amount_cents
        )
        self.unit_amount_cents = unit_cents
        self.precise_amount_cents = Decimal(unit_cents) * self.units
        self.amount_cents = round_cents(self.precise_amount_cents)


def _lines(organization: Organization, customer: Customer, data: OneOffInvoiceInput) -> list[_Line]:
    org = organization.lago_id
    found: dict[str, AddOn] = {}
    for fee in data.fees:
        if fee.add_on_code not in found:
            found[fee.add_on_code] = catalog.ADD_ONS.get(org, fee.add_on_code)
    requested_codes = [code for fee in data.fees for code in (fee.tax_codes or [])]
    taxes.check_tax_codes(org, requested_codes)
    by_code = {t.code: t for t in catalog.TAXES.live(org)}

    def known(codes: list[str]) -> list[Tax]:
        return [by_code[code] for code in codes if code in by_code]

    lines = []
    for index, fee in enumerate(data.fees):
        add_on = found[fee.add_on_code]
        chosen = resolve_fee_taxes(
            organization=_rates(known(organization.tax_codes)),
            customer=_rates(known(customer.tax_codes)),
            charge_or_add_on=_rates(known(fee.tax_codes or add_on.tax_codes)),
        )
        lines.append(_Line(index, fee, add_on, tuple(by_code[rate.code] for rate in chosen)))
    return lines


def _fee_body(
    invoice_id: str, customer: Customer, currency: str, line: _Line, totals: FeeTotals, created_at: str
) -> dict[str, Any]:
    scale = Decimal(10) ** currency_exponent(currency)
    fee_id = stable_id(invoice_id, line.key)
    add_on = line.add_on
    request = line.request
    amounts = FeeAmounts(
        amount_cents=line.amount_cents,
        precise_amount=line.precise_amount_cents / scale,
        # Summed in cents, then scaled (the digits printed follow this order).
        precise_total_amount=(line.precise_amount_cents + totals.taxes_precise_amount_cents) / scale,
        taxes_amount_cents=totals.taxes_amount_cents,
        taxes_precise_amount=totals.taxes_precise_amount_cents / scale,
        taxes_rate=totals.taxes_rate,
        units=line.units,
        precise_unit_amount=Decimal(line.unit_amount_cents) / scale,
        total_aggregated_units=line.units,
        sub_total_excluding_taxes_amount_cents=line.amount_cents,
        sub_total_excluding_taxes_precise_amount_cents=line.precise_amount_cents,
    )
    item = FeeItem(
        type="add_on",
        code=add_on.code,
        name=add_on.name,
        description=request.description if request.description is not None else add_on.description,
        invoice_display_name=request.invoice_display_name or add_on.invoice_display_name or add_on.name,
        lago_item_id=add_on.lago_id,
        item_type="AddOn",
    )
    facts = FeeFacts(
        lago_id=fee_id,
        currency=currency,
        amounts=amounts,
        item=item,
        taxes=invoiced_fee_taxes(fee_id, line.taxes, totals.taxable_amount_cents),
        lago_customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        created_at=created_at,
        from_date=line.from_date,
        to_date=line.to_date,
        lago_invoice_id=invoice_id,
    )
    return build_fee(facts, ONE_OFF_FEE)


def build_invoice(
    organization: Organization,
    customer: Customer,
    currency: str,
    lines: list[_Line],
    lago_id: str,
    moment: datetime,
) -> Invoice:
    """The one-off invoice before numbering (fees, taxes and totals from the engine)."""
    stamp = iso(moment)
    totals = compute_invoice(
        [
            FeeInput(
                key=line.key,
                amount_cents=line.amount_cents,
                fee_type="add_on",
                taxes=_rates(list(line.taxes)),
            )
            for line in lines
        ]
    )
    by_key = {fee.key: fee for fee in totals.fees}
    return Invoice(
        lago_id=lago_id,
        organization_id=organization.lago_id,
        customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        billing_key=f"{customer.lago_id}#one_off#{lago_id}",
        boundary=stamp,
        parts=[],
        invoice_type="one_off",
        status="draft",
        payment_status="pending" if totals.total_amount_cents > 0 else "succeeded",
        number=numbering.draft_number(organization),
        **issued_at(moment, organization, customer),
        currency=currency,
        fees_amount_cents=totals.fees_amount_cents,
        coupons_amount_cents=totals.coupons_amount_cents,
        credit_notes_amount_cents=totals.credit_notes_amount_cents,
        sub_total_excluding_taxes_amount_cents=totals.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=totals.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=totals.sub_total_including_taxes_amount_cents,
        prepaid_credit_amount_cents=totals.prepaid_credit_amount_cents,
        total_amount_cents=totals.total_amount_cents,
        fees=[_fee_body(lago_id, customer, currency, line, by_key[line.key], stamp) for line in lines],
        applied_taxes=invoice_applied_taxes(
            lago_id, currency, stamp, totals.applied_taxes, {t.code: t for line in lines for t in line.taxes}
        ),
        created_at=stamp,
        updated_at=stamp,
        finalized_at=stamp,
        revision=0,
    )


def finalize_new_invoice(
    writes: entities.Writes,
    organization: Organization,
    customer: Customer,
    draft: Invoice,
    moment: datetime,
    *,
    webhook_type: str = "invoice.one_off_created",
) -> Invoice:
    """Number a new invoice finalized at creation (counters under their revisions, as `finalize` does) or
    close a skipped zero-amount one, and record its webhook, the overdue timer and the PDF to render — in
    `writes`. One-off invoices and the instant invoices of pay-in-advance charges are made this way."""
    org = organization.lago_id
    customer_counter = invoice_store.read_counter(org, invoice_store.customer_counter_key(customer.lago_id))
    if draft.total_amount_cents == 0 and not finalizes_zero_amount(organization, customer):
        invoice_store.touch_counter(writes, org, customer_counter)
        return invoice_store.put_invoice(writes, draft.model_copy(update={"status": "closed"}), new=True)
    number, customer_sequence = numbering.take_invoice_number(
        writes, organization, customer, customer_counter, draft.issuing_date
    )
    finalized = draft.model_copy(
        update={"status": "finalized", "number": number, "sequential_id": customer_sequence}
    )
    stored = invoice_store.put_invoice(writes, finalized, new=True)
    writes.message(invoices.message(webhook_type, stored, "created"))
    invoice_store.schedule_document(writes, stored, moment)
    if stored.payment_status != "succeeded":
        timezone = billing_timezone(customer, organization)
        invoice_store.schedule(writes, stored, overdue_at(stored, timezone), "overdue")
    return stored


def create_one_off_invoice(
    organization_id: str, data: OneOffInvoiceInput, now: datetime | None = None
) -> Invoice:
    """`POST /invoices`: price the add-on fees, tax them, finalize and number the invoice in one transaction."""
    customer = customers.get_customer(organization_id, data.external_customer_id)
    if not data.fees:
        raise errors.NotFound("fees")
    currency = data.currency or customer.currency
    if not currency:
        raise errors.ValidationFailed.field("currency", "value_is_mandatory")
    if customer.currency and customer.currency != currency:
        raise errors.ValidationFailed.field("currency", "currencies_does_not_match")
    organization = organizations.get_organization(organization_id)
    lines = _lines(organization, customer, data)
    moment = now or datetime.now(UTC)
    lago_id = str(uuid.uuid4())  # every request is a new invoice (Lago has no idempotency key here)
    draft = build_invoice(organization, customer, currency, lines, lago_id, moment)

    def number_and_commit() -> Invoice:
        # Read again on every attempt: a lost race means another invoice of this customer took the number.
        current = customers.get_customer(organization_id, customer.external_id)
        if current.lago_id != customer.lago_id:
            raise errors.NotFound("customer")  # deleted meanwhile (its external_id went to another customer)
        writes = entities.Writes()
        if not (current.locked_currency and current.currency == currency):
            customers.lock_currency(writes, current, currency)
        stored = finalize_new_invoice(writes, organization, current, draft, moment)
        writes.commit()
        return stored

    stored = run_with_retries(number_and_commit, "invoice numbering")
    invoice_store.project_fees(stored)
    return stored
