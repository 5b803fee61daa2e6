"""Lago's FeeObject: the one builder of every fee body Lagoon makes, and the fee as an invoice shows it.

Three use cases price fees, each in its own way, and hand the numbers here (`FeeFacts`):
- the period's invoice (`lagoon.services.invoicing.period_fees`): subscription fees, usage charges,
  `min_amount_cents` true-ups and the minimum commitment true-up;
- one-off invoices (`lagoon.services.invoicing.one_off_invoices`): add-on fees;
- pay-in-advance charges (`lagoon.services.invoicing.in_advance_fees`): a fee per event, and its estimate.

The numbers stay each use case's own (one-off fees sum their amounts in cents, the others in currency units,
and the digits printed follow the sum). The three have always printed the same fields in different orders —
and a period's fee has no `lago_fixed_charge_id`, a pay-in-advance item no `description` — so each keeps its
`FeeLayout`: the answers stay byte for byte what they were. Aligning them is a visible change, for an issue of
its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lagoon.domain.invoices import Invoice, stable_id
from lagoon.domain.taxes import Tax
from lagoon.engine.money import round_cents
from lagoon.engine.numbers import decimal_text


@dataclass(frozen=True, slots=True)
class FeeLayout:
    """The keys of a fee body and of its `item`, in the order they are printed."""

    keys: tuple[str, ...]
    item_keys: tuple[str, ...]


PERIOD_FEE = FeeLayout(
    keys=(
        "lago_id", "lago_charge_id", "lago_charge_filter_id", "lago_invoice_id", "lago_true_up_fee_id",
        "lago_true_up_parent_fee_id", "lago_subscription_id", "lago_customer_id", "external_customer_id",
        "external_subscription_id", "amount_cents", "precise_amount", "precise_total_amount", "amount_currency",
        "taxes_amount_cents", "taxes_precise_amount", "taxes_rate", "units", "precise_unit_amount",
        "total_aggregated_units", "total_amount_cents", "total_amount_currency", "events_count", "pay_in_advance",
        "invoiceable", "from_date", "to_date", "payment_status", "created_at", "succeeded_at", "failed_at",
        "refunded_at", "event_transaction_id", "precise_coupons_amount_cents",
        "sub_total_excluding_taxes_amount_cents", "sub_total_excluding_taxes_precise_amount_cents",
        "amount_details", "self_billed", "item", "applied_taxes",
    ),
    item_keys=(
        "type", "code", "name", "description", "invoice_display_name", "filter_invoice_display_name", "filters",
        "lago_item_id", "item_type", "grouped_by",
    ),
)  # fmt: skip
"""The fees of a subscription's invoice (subscription, charges, true-ups, commitment)."""

ONE_OFF_FEE = FeeLayout(
    keys=(
        "lago_id", "lago_charge_id", "lago_charge_filter_id", "lago_fixed_charge_id", "lago_invoice_id",
        "lago_true_up_fee_id", "lago_true_up_parent_fee_id", "lago_subscription_id", "lago_customer_id",
        "external_customer_id", "external_subscription_id", "amount_cents", "precise_amount",
        "precise_total_amount", "amount_currency", "taxes_amount_cents", "taxes_precise_amount", "taxes_rate",
        "units", "precise_unit_amount", "total_aggregated_units", "total_amount_cents", "total_amount_currency",
        "events_count", "pay_in_advance", "invoiceable", "from_date", "to_date", "payment_status", "created_at",
        "succeeded_at", "failed_at", "refunded_at", "event_transaction_id", "precise_coupons_amount_cents",
        "sub_total_excluding_taxes_amount_cents", "sub_total_excluding_taxes_precise_amount_cents",
        "amount_details", "self_billed", "item", "applied_taxes",
    ),
    item_keys=(
        "type", "code", "name", "description", "invoice_display_name", "filter_invoice_display_name", "filters",
        "grouped_by", "lago_item_id", "item_type",
    ),
)  # fmt: skip
"""The add-on fees of a one-off invoice."""

PAY_IN_ADVANCE_FEE = FeeLayout(
    keys=(
        "lago_id", "lago_charge_id", "lago_charge_filter_id", "lago_fixed_charge_id", "lago_invoice_id",
        "lago_true_up_fee_id", "lago_true_up_parent_fee_id", "lago_subscription_id", "lago_customer_id",
        "external_subscription_id", "external_customer_id", "amount_cents", "amount_currency", "precise_amount",
        "precise_total_amount", "taxes_amount_cents", "taxes_precise_amount", "taxes_rate", "total_amount_cents",
        "total_amount_currency", "sub_total_excluding_taxes_amount_cents",
        "sub_total_excluding_taxes_precise_amount_cents", "precise_coupons_amount_cents", "units",
        "total_aggregated_units", "precise_unit_amount", "events_count", "pay_in_advance", "invoiceable",
        "self_billed", "from_date", "to_date", "payment_status", "created_at", "succeeded_at", "failed_at",
        "refunded_at", "event_transaction_id", "amount_details", "item", "applied_taxes",
    ),
    item_keys=(
        "type", "code", "name", "invoice_display_name", "filter_invoice_display_name", "filters", "grouped_by",
        "lago_item_id", "item_type",
    ),
)  # fmt: skip
"""The fee of one event on a pay-in-advance charge (and its estimate)."""


@dataclass(frozen=True, slots=True)
class FeeItem:
    """What a fee bills: `type` subscription | charge | commitment | add_on, and the object it comes from."""

    type: str
    code: str
    name: str
    invoice_display_name: str
    lago_item_id: str
    item_type: str
    description: str | None = None
    filter_invoice_display_name: str | None = None
    filters: Any = None
    grouped_by: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FeeTax:
    """One tax applied to a fee."""

    lago_id: str | None
    lago_tax_id: str | None
    name: str
    code: str
    rate: Decimal
    description: str | None
    amount_cents: int


@dataclass(frozen=True, slots=True)
class FeeAmounts:
    """A fee's numbers as its use case computed them: integer cents, and precise Decimals in the unit Lago
    prints them in (currency units, cents for the `*_cents` ones)."""

    amount_cents: int
    precise_amount: Decimal
    precise_total_amount: Decimal
    taxes_amount_cents: int
    taxes_precise_amount: Decimal
    taxes_rate: Decimal
    units: Decimal
    precise_unit_amount: Decimal
    total_aggregated_units: Decimal
    sub_total_excluding_taxes_amount_cents: int
    sub_total_excluding_taxes_precise_amount_cents: Decimal
    precise_coupons_amount_cents: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class FeeFacts:
    """Everything a fee body says, before it is printed. `lago_id` None: an estimate (no id, no taxes)."""

    lago_id: str | None
    currency: str
    amounts: FeeAmounts
    item: FeeItem
    taxes: Sequence[FeeTax]
    lago_customer_id: str
    external_customer_id: str
    created_at: str | None
    from_date: str | None
    to_date: str | None
    lago_invoice_id: str | None = None
    lago_subscription_id: str | None = None
    external_subscription_id: str | None = None
    lago_charge_id: str | None = None
    lago_charge_filter_id: str | None = None
    lago_true_up_fee_id: str | None = None
    lago_true_up_parent_fee_id: str | None = None
    events_count: int | None = None
    pay_in_advance: bool = False
    invoiceable: bool = True
    event_transaction_id: str | None = None
    amount_details: dict[str, Any] = field(default_factory=dict)


def build_fee(fee: FeeFacts, layout: FeeLayout) -> dict[str, Any]:
    """The FeeObject of `fee`, its keys in `layout`'s order."""
    amounts = fee.amounts
    values: dict[str, Any] = {
        "lago_id": fee.lago_id,
        "lago_charge_id": fee.lago_charge_id,
        "lago_charge_filter_id": fee.lago_charge_filter_id,
        "lago_fixed_charge_id": None,
        "lago_invoice_id": fee.lago_invoice_id,
        "lago_true_up_fee_id": fee.lago_true_up_fee_id,
        "lago_true_up_parent_fee_id": fee.lago_true_up_parent_fee_id,
        "lago_subscription_id": fee.lago_subscription_id,
        "lago_customer_id": fee.lago_customer_id,
        "external_customer_id": fee.external_customer_id,
        "external_subscription_id": fee.external_subscription_id,
        "amount_cents": amounts.amount_cents,
        "precise_amount": decimal_text(amounts.precise_amount),
        "precise_total_amount": decimal_text(amounts.precise_total_amount),
        "amount_currency": fee.currency,
        "taxes_amount_cents": amounts.taxes_amount_cents,
        "taxes_precise_amount": decimal_text(amounts.taxes_precise_amount),
        "taxes_rate": float(amounts.taxes_rate),
        "units": decimal_text(amounts.units),
        "precise_unit_amount": decimal_text(amounts.precise_unit_amount),
        "total_aggregated_units": decimal_text(amounts.total_aggregated_units),
        "total_amount_cents": amounts.amount_cents + amounts.taxes_amount_cents,
        "total_amount_currency": fee.currency,
        "events_count": fee.events_count,
        "pay_in_advance": fee.pay_in_advance,
        "invoiceable": fee.invoiceable,
        "from_date": fee.from_date,
        "to_date": fee.to_date,
        "payment_status": "pending",
        "created_at": fee.created_at,
        "succeeded_at": None,
        "failed_at": None,
        "refunded_at": None,
        "event_transaction_id": fee.event_transaction_id,
        "precise_coupons_amount_cents": decimal_text(amounts.precise_coupons_amount_cents),
        "sub_total_excluding_taxes_amount_cents": amounts.sub_total_excluding_taxes_amount_cents,
        "sub_total_excluding_taxes_precise_amount_cents": decimal_text(
            amounts.sub_total_excluding_taxes_precise_amount_cents
        ),
        "amount_details": fee.amount_details,
        "self_billed": False,
        "item": _item(fee.item, layout),
        "applied_taxes": [_applied_tax(fee, tax) for tax in fee.taxes],
    }
    return {key: values[key] for key in layout.keys}


def _item(item: FeeItem, layout: FeeLayout) -> dict[str, Any]:
    values = {
        "type": item.type,
        "code": item.code,
        "name": item.name,
        "description": item.description,
        "invoice_display_name": item.invoice_display_name,
        "filter_invoice_display_name": item.filter_invoice_display_name,
        "filters": item.filters,
        "grouped_by": item.grouped_by,
        "lago_item_id": item.lago_item_id,
        "item_type": item.item_type,
    }
    return {key: values[key] for key in layout.item_keys}


def _applied_tax(fee: FeeFacts, tax: FeeTax) -> dict[str, Any]:
    return {
        "lago_id": tax.lago_id,
        "lago_fee_id": fee.lago_id,
        "lago_tax_id": tax.lago_tax_id,
        "tax_name": tax.name,
        "tax_code": tax.code,
        "tax_rate": float(tax.rate),
        "tax_description": tax.description,
        "amount_cents": tax.amount_cents,
        "amount_currency": fee.currency,
        "created_at": fee.created_at,
    }


def invoiced_fee_taxes(fee_id: str, taxes: Iterable[Tax], taxable_amount_cents: Decimal) -> list[FeeTax]:
    """The taxes of a fee on an invoice: ids derived from the fee, each on the fee's taxable amount."""
    return [
        FeeTax(
            lago_id=stable_id(fee_id, "tax", tax.code),
            lago_tax_id=tax.lago_id,
            name=tax.name,
            code=tax.code,
            rate=tax.rate,
            description=tax.description,
            amount_cents=round_cents(taxable_amount_cents * tax.rate / 100),
        )
        for tax in taxes
    ]


def render_fee(invoice: Invoice, fee: dict[str, Any]) -> dict[str, Any]:
    """FeeObject of an invoiced fee: the stored fee with its invoice's payment status (a fee paid before its
    invoice regrouped it keeps the time it was paid)."""
    if invoice.invoice_type == "advance_charges":
        return dict(fee, payment_status=invoice.payment_status)
    succeeded = invoice.updated_at if invoice.payment_status == "succeeded" else None
    failed = invoice.updated_at if invoice.payment_status == "failed" else None
    return dict(fee, payment_status=invoice.payment_status, succeeded_at=succeeded, failed_at=failed)
