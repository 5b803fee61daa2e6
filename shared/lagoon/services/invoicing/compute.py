"""Computing an invoice: the fees of its parts (`period_fees`, and the renewal of pay-in-advance charges on
recurring metrics: `renewal_fees`), the customer's coupons, then the engine's totals
(`engine.invoice_math.compute_invoice`: fees → coupons → taxes → credit notes → prepaid credits), and the
invoice they make — its FeeObjects (`lagoon.contract.fees`), applied taxes, coupon credits and what each coupon
took (consumed at finalization). A draft is computed again at each refresh and at its finalization.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lagoon import errors
from lagoon.contract.fees import PERIOD_FEE, FeeAmounts, FeeFacts, build_fee, invoiced_fee_taxes
from lagoon.contract.invoices import coupon_credit, invoice_applied_taxes
from lagoon.data.subscriptions import get_subscription_by_id
from lagoon.domain.coupons import AppliedCoupon
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import Invoice, InvoicePart, stable_id
from lagoon.domain.subscriptions import Subscription
from lagoon.engine.invoice_math import AppliedCouponInput, FeeInput, FeeTotals, InvoiceTotals, compute_invoice
from lagoon.engine.money import currency_exponent, round_cents
from lagoon.services.catalog import billable_metrics, coupons
from lagoon.services.invoicing.period_fees import PeriodFee, part_fees, tax_rates
from lagoon.services.invoicing.renewal_fees import carried_fees
from lagoon.services.invoicing.run_catalog import Catalog


@dataclass
class Computed:
    """An invoice's fees before coupons and taxes, its totals, and the applied coupons the totals deducted."""

    fees: list[PeriodFee]
    totals: InvoiceTotals
    applied: list[AppliedCoupon]


def compute(
    catalog: Catalog,
    customer: Customer,
    parts: list[InvoicePart],
    currency: str,
    known: dict[str, Subscription] | None = None,
) -> Computed:
    """The fees and totals of an invoice covering `parts` (fees → coupons → taxes → credits)."""
    found: list[PeriodFee] = []
    for part in parts:
        subscription = (known or {}).get(part.subscription_id) or get_subscription_by_id(
            catalog.organization_id, part.subscription_id
        )
        found.extend(part_fees(catalog, customer, subscription, part))
        found.extend(carried_fees(catalog, customer, subscription, part, invoiceable=True))
    coupon_inputs, applied = _coupon_inputs(catalog, customer, currency)
    totals = compute_invoice(
        [
            FeeInput(
                key=fee.key,
                amount_cents=fee.amount_cents,
                fee_type=fee.fee_type,
                plan_code=fee.plan.code,
                billable_metric_code=fee.billable_metric_code,
                taxes=tax_rates(fee.taxes),
            )
            for fee in found
        ],
        coupon_inputs,
        # Credit notes and wallets are deferred (DECISIONS.md): nothing to deduct yet.
        credit_notes_available_cents=0,
        prepaid_credits_available_cents=0,
    )
    return Computed(found, totals, applied)


def _coupon_inputs(
    catalog: Catalog, customer: Customer, currency: str
) -> tuple[list[AppliedCouponInput], list[AppliedCoupon]]:
    """The customer's active coupons as the engine takes them, with the applied coupons they come from (a
    fixed-amount coupon in another currency does not apply)."""
    applied = catalog.applied_coupons(customer.lago_id)
    inputs: list[AppliedCouponInput] = []
    kept: list[AppliedCoupon] = []
    for entry in applied:
        coupon = coupons.get_coupon_by_id(catalog.organization_id, entry.coupon_id)
        if coupon.coupon_type == "fixed_amount" and entry.amount_currency not in (None, currency):
            continue
        plan_codes = []
        for plan_id in coupon.plan_ids:
            with contextlib.suppress(errors.NotFound):
                plan_codes.append(catalog.plan(plan_id).code)
        metric_codes = [
            m.code
            for m in billable_metrics.get_billable_metrics_by_ids(
                catalog.organization_id, coupon.billable_metric_ids
            ).values()
        ]
        inputs.append(
            AppliedCouponInput(
                key=entry.lago_id,
                coupon_type=coupon.coupon_type,
                frequency=entry.frequency,
                amount_cents=entry.amount_cents or 0,
                amount_cents_remaining=entry.amount_cents_remaining,
                percentage_rate=entry.percentage_rate,
                frequency_duration_remaining=entry.frequency_duration_remaining,
                plan_codes=tuple(plan_codes),
                billable_metric_codes=tuple(metric_codes),
            )
        )
        kept.append(entry)
    return inputs, kept


def _fee_body(
    invoice_id: str, customer: Customer, currency: str, fee: PeriodFee, totals: FeeTotals, created_at: str
) -> dict[str, Any]:
    scale = Decimal(10) ** currency_exponent(currency)
    fee_id = stable_id(invoice_id, fee.key)
    taxes_precise_amount = totals.taxes_precise_amount_cents / scale
    sub_total_precise = Decimal(fee.amount_cents) - totals.precise_coupons_amount_cents
    amounts = FeeAmounts(
        amount_cents=fee.amount_cents,
        precise_amount=fee.precise_amount,
        precise_total_amount=fee.precise_amount + taxes_precise_amount,
        taxes_amount_cents=totals.taxes_amount_cents,
        taxes_precise_amount=taxes_precise_amount,
        taxes_rate=totals.taxes_rate,
        units=fee.units,
        precise_unit_amount=fee.unit_amount,
        total_aggregated_units=fee.total_aggregated_units,
        sub_total_excluding_taxes_amount_cents=round_cents(sub_total_precise),
        sub_total_excluding_taxes_precise_amount_cents=sub_total_precise,
        precise_coupons_amount_cents=totals.precise_coupons_amount_cents,
    )
    facts = FeeFacts(
        lago_id=fee_id,
        currency=currency,
        amounts=amounts,
        item=fee.item,
        taxes=invoiced_fee_taxes(fee_id, fee.taxes, totals.taxable_amount_cents),
        lago_customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        created_at=created_at,
        from_date=fee.from_date,
        to_date=fee.to_date,
        lago_invoice_id=invoice_id,
        lago_subscription_id=fee.subscription.lago_id,
        external_subscription_id=fee.subscription.external_id,
        lago_charge_id=fee.charge_id,
        lago_charge_filter_id=fee.charge_filter_id,
        lago_true_up_fee_id=stable_id(invoice_id, fee.true_up_key) if fee.true_up_key else None,
        lago_true_up_parent_fee_id=stable_id(invoice_id, fee.true_up_parent_key)
        if fee.true_up_parent_key
        else None,
        events_count=fee.events_count,
        amount_details=fee.amount_details,
    )
    return build_fee(facts, PERIOD_FEE)


def apply_computed(
    invoice: Invoice, catalog: Catalog, customer: Customer, computed: Computed, stamp: str
) -> Invoice:
    """`invoice` with the fees, taxes, coupon credits and totals of `computed`, changed at `stamp`."""
    totals = computed.totals
    by_key = {f.key: f for f in totals.fees}
    fees = [
        _fee_body(invoice.lago_id, customer, invoice.currency, fee, by_key[fee.key], invoice.created_at)
        for fee in computed.fees
    ]
    taxes_by_code = {t.code: t for fee in computed.fees for t in fee.taxes}
    applied_taxes = invoice_applied_taxes(
        invoice.lago_id, invoice.currency, invoice.created_at, totals.applied_taxes, taxes_by_code
    )
    credits, applications = _coupon_deductions(invoice, catalog, computed)
    return invoice.model_copy(
        update={
            "fees_amount_cents": totals.fees_amount_cents,
            "coupons_amount_cents": totals.coupons_amount_cents,
            "credit_notes_amount_cents": totals.credit_notes_amount_cents,
            "sub_total_excluding_taxes_amount_cents": totals.sub_total_excluding_taxes_amount_cents,
            "taxes_amount_cents": totals.taxes_amount_cents,
            "sub_total_including_taxes_amount_cents": totals.sub_total_including_taxes_amount_cents,
            "prepaid_credit_amount_cents": totals.prepaid_credit_amount_cents,
            "total_amount_cents": totals.total_amount_cents,
            "fees": fees,
            "applied_taxes": applied_taxes,
            "credits": credits,
            "coupon_applications": applications,
            "updated_at": stamp,
        }
    )


def _coupon_deductions(
    invoice: Invoice, catalog: Catalog, computed: Computed
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the invoice's coupon credits, what each applied coupon took and has left after this invoice)."""
    applied_by_id = {a.lago_id: a for a in computed.applied}
    credits = []
    applications = []
    for application in computed.totals.coupons:
        if application.amount_cents <= 0:
            continue
        applied = applied_by_id[application.key]
        coupon = coupons.get_coupon_by_id(catalog.organization_id, applied.coupon_id)
        credits.append(
            coupon_credit(
                invoice.lago_id, invoice.currency, applied.lago_id, application.amount_cents, coupon
            )
        )
        applications.append(
            {
                "applied_coupon_id": applied.lago_id,
                "amount_cents": application.amount_cents,
                "amount_cents_remaining": application.amount_cents_remaining,
                "frequency_duration_remaining": application.frequency_duration_remaining,
                "terminated": application.terminated,
            }
        )
    return credits, applications
