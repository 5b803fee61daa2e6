"""Invoice totals: fees → coupons → taxes → credit notes → prepaid credits (DECISIONS.md "Billing", checklist §8.6).

- Coupons are deducted before tax, in the order they were applied (lago-docs/02-changelog.md "Apply several
  coupons"; checklist §10), only from subscription-invoice fees (never add-ons: checklist §8.6), optionally
  limited to plan codes or billable metric codes. Each coupon amount is integer cents, at most what is left
  of its base, and is spread across the eligible fees in proportion to what is left of each (precise, not
  rounded), as Lago's `precise_coupons_amount_cents`.
- Taxes: a fee's taxes come from the most specific level that has any: charge or add-on, then plan, then
  customer, then organization (lago-docs/02-changelog.md "Taxes defined at plan and charge level";
  checklist §12.2; add-ons skip the plan level, checklist §11). Each fee is taxed on its amount after coupons;
  the per-tax breakdown and the invoice total are each rounded once, half-up, from the unrounded sums.
- Credit notes, then prepaid credits, reduce what is due; neither is taxed again.
Current-rule vector (checklist §8.6): $50 + $20 - $10 coupon = $60, tax 10 % = $6, - $30 prepaid → $36.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from lagoon.engine.money import check_cents, round_cents

ZERO = Decimal(0)
HUNDRED = Decimal(100)
COUPON_ELIGIBLE_FEE_TYPES = frozenset({"subscription", "charge", "commitment"})
"""Fee types a coupon can reduce: fees of a subscription invoice, never add-ons or credits."""


@dataclass(frozen=True, slots=True)
class TaxRate:
    """A tax applied to fees: `rate` is a percentage ("20.0" = 20 %)."""

    code: str
    rate: Decimal
    name: str = ""


@dataclass(frozen=True, slots=True)
class FeeInput:
    """One fee of the invoice. `fee_type` is Lago's item type: subscription, charge, add_on, commitment,
    credit. `taxes` are the fee's resolved taxes (`resolve_fee_taxes`)."""

    key: str
    amount_cents: int
    fee_type: str = "charge"
    plan_code: str | None = None
    billable_metric_code: str | None = None
    taxes: tuple[TaxRate, ...] = ()


@dataclass(frozen=True, slots=True)
class AppliedCouponInput:
    """A coupon applied to the customer (spec: `AppliedCouponObject`), in application order.

    `amount_cents_remaining` is what is left of a `once` fixed-amount coupon (None: the full amount);
    `frequency_duration_remaining` counts the periods left of a `recurring` coupon."""

    key: str
    coupon_type: str
    frequency: str
    amount_cents: int = 0
    amount_cents_remaining: int | None = None
    percentage_rate: Decimal | None = None
    frequency_duration_remaining: int | None = None
    plan_codes: tuple[str, ...] = ()
    billable_metric_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CouponApplication:
    """What a coupon took from this invoice, and its bookkeeping afterwards."""

    key: str
    amount_cents: int
    amount_cents_remaining: int | None
    frequency_duration_remaining: int | None
    terminated: bool


@dataclass(frozen=True, slots=True)
class FeeTotals:
    """A fee after coupons and taxes. Precise values are unrounded cents."""

    key: str
    amount_cents: int
    precise_coupons_amount_cents: Decimal
    taxable_amount_cents: Decimal
    taxes_precise_amount_cents: Decimal
    taxes_amount_cents: int
    taxes_rate: Decimal


@dataclass(frozen=True, slots=True)
class AppliedTaxTotal:
    """Per-tax breakdown of the invoice: the tax on `fees_amount_cents` (its base after coupons)."""

    tax_code: str
    tax_name: str
    tax_rate: Decimal
    amount_cents: int
    fees_amount_cents: int
    precise_amount_cents: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    """Every amount of Lago's invoice object, in cents, plus the per-fee and per-coupon details."""

    fees_amount_cents: int
    coupons_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    sub_total_including_taxes_amount_cents: int
    credit_notes_amount_cents: int
    prepaid_credit_amount_cents: int
    total_amount_cents: int
    applied_taxes: tuple[AppliedTaxTotal, ...]
    fees: tuple[FeeTotals, ...]
    coupons: tuple[CouponApplication, ...]


def resolve_fee_taxes(
    *,
    organization: Sequence[TaxRate] = (),
    customer: Sequence[TaxRate] = (),
    plan: Sequence[TaxRate] = (),
    charge_or_add_on: Sequence[TaxRate] = (),
) -> tuple[TaxRate, ...]:
    """The taxes of one fee: the most specific non-empty level wins (charge/add-on > plan > customer >
    organization). For an add-on fee, pass no plan taxes."""
    for level in (charge_or_add_on, plan, customer, organization):
        if level:
            return tuple(level)
    return ()


def _coupon_applies_to(coupon: AppliedCouponInput, fee: FeeInput) -> bool:
    if fee.fee_type not in COUPON_ELIGIBLE_FEE_TYPES:
        return False
    if not coupon.plan_codes and not coupon.billable_metric_codes:
        return True
    if fee.plan_code is not None and fee.plan_code in coupon.plan_codes:
        return True
    return fee.fee_type == "charge" and fee.billable_metric_code in coupon.billable_metric_codes


def _coupon_amount(coupon: AppliedCouponInput, base: Decimal) -> int:
    """Integer cents the coupon takes from `base`, never more than the base."""
    ceiling = int(base.to_integral_value(rounding=ROUND_FLOOR))
    if coupon.coupon_type == "percentage":
        wanted = round_cents(base * (coupon.percentage_rate or ZERO) / HUNDRED)
    elif coupon.frequency == "once" and coupon.amount_cents_remaining is not None:
        wanted = coupon.amount_cents_remaining
    else:
        wanted = coupon.amount_cents
    return max(min(wanted, ceiling), 0)


def _coupon_bookkeeping(coupon: AppliedCouponInput, used_cents: int) -> CouponApplication:
    remaining = coupon.amount_cents_remaining
    duration = coupon.frequency_duration_remaining
    terminated = False
    if used_cents > 0:
        if coupon.frequency == "once":
            if coupon.coupon_type == "fixed_amount":
                remaining = (coupon.amount_cents if remaining is None else remaining) - used_cents
                terminated = remaining <= 0
            else:
                terminated = True
        elif coupon.frequency == "recurring" and duration is not None:
            duration -= 1
            terminated = duration <= 0
    return CouponApplication(coupon.key, used_cents, remaining, duration, terminated)


def _spread_coupon(
    used: int, base: Decimal, remaining_by_fee: dict[str, Decimal], coupon_share: dict[str, Decimal]
) -> None:
    """Spread `used` cents over the fees in proportion to what is left of each. The last fee takes the
    remainder, so the shares add up to the coupon exactly, and no share exceeds what is left of its fee."""
    receiving = [(key, left) for key, left in remaining_by_fee.items() if left > 0]
    given = ZERO
    for position, (key, left) in enumerate(receiving):
        share = used - given if position == len(receiving) - 1 else used * left / base
        share = min(max(share, ZERO), left)
        coupon_share[key] += share
        given += share


def compute_invoice(
    fees: Sequence[FeeInput],
    applied_coupons: Sequence[AppliedCouponInput] = (),
    *,
    credit_notes_available_cents: int = 0,
    prepaid_credits_available_cents: int = 0,
) -> InvoiceTotals:
    """Totals of an invoice from its fees (see the module docstring for the order and the rules)."""
    coupon_share = {fee.key: ZERO for fee in fees}
    applications = []
    for coupon in applied_coupons:
        eligible = [fee for fee in fees if _coupon_applies_to(coupon, fee)]
        remaining_by_fee = {fee.key: Decimal(fee.amount_cents) - coupon_share[fee.key] for fee in eligible}
        base = sum((left for left in remaining_by_fee.values() if left > 0), ZERO)
        used = _coupon_amount(coupon, base) if base > 0 else 0
        if used:
            _spread_coupon(used, base, remaining_by_fee, coupon_share)
        applications.append(_coupon_bookkeeping(coupon, used))

    fee_totals = []
    tax_bases: dict[str, tuple[TaxRate, Decimal]] = {}
    precise_taxes_total = ZERO
    for fee in fees:
        taxable = max(Decimal(fee.amount_cents) - coupon_share[fee.key], ZERO)
        rate = sum((tax.rate for tax in fee.taxes), ZERO)
        fee_tax = taxable * rate / HUNDRED
        precise_taxes_total += fee_tax
        for tax in fee.taxes:
            _, base = tax_bases.get(tax.code, (tax, ZERO))
            tax_bases[tax.code] = (tax, base + taxable)
        fee_totals.append(
            FeeTotals(
                key=fee.key,
                amount_cents=fee.amount_cents,
                precise_coupons_amount_cents=coupon_share[fee.key],
                taxable_amount_cents=taxable,
                taxes_precise_amount_cents=fee_tax,
                taxes_amount_cents=round_cents(fee_tax),
                taxes_rate=rate,
            )
        )

    applied_taxes = tuple(
        AppliedTaxTotal(
            tax_code=tax.code,
            tax_name=tax.name,
            tax_rate=tax.rate,
            amount_cents=round_cents(base * tax.rate / HUNDRED),
            fees_amount_cents=round_cents(base),
            precise_amount_cents=base * tax.rate / HUNDRED,
        )
        for tax, base in tax_bases.values()
    )

    fees_amount = sum(fee.amount_cents for fee in fees)
    coupons_amount = sum(application.amount_cents for application in applications)
    sub_total_excluding = fees_amount - coupons_amount
    taxes_amount = round_cents(precise_taxes_total)
    sub_total_including = sub_total_excluding + taxes_amount
    credit_notes = max(min(credit_notes_available_cents, sub_total_including), 0)
    prepaid = max(min(prepaid_credits_available_cents, sub_total_including - credit_notes), 0)
    # No invoice, fee or usage holds an amount beyond a signed 64-bit integer (Lago's bigint columns).
    check_cents(
        *(fee.amount_cents for fee in fees),
        *(fee.taxes_amount_cents for fee in fee_totals),
        *(tax.amount_cents for tax in applied_taxes),
        *(tax.fees_amount_cents for tax in applied_taxes),
        fees_amount,
        coupons_amount,
        taxes_amount,
        sub_total_including,
    )
    return InvoiceTotals(
        fees_amount_cents=fees_amount,
        coupons_amount_cents=coupons_amount,
        sub_total_excluding_taxes_amount_cents=sub_total_excluding,
        taxes_amount_cents=taxes_amount,
        sub_total_including_taxes_amount_cents=sub_total_including,
        credit_notes_amount_cents=credit_notes,
        prepaid_credit_amount_cents=prepaid,
        total_amount_cents=sub_total_including - credit_notes - prepaid,
        applied_taxes=applied_taxes,
        fees=tuple(fee_totals),
        coupons=tuple(applications),
    )


def minimum_commitment_true_up_cents(
    commitment_amount_cents: int,
    period_fees_amount_cents: int,
    *,
    active_days: int | None = None,
    period_days: int | None = None,
) -> int:
    """The plan's `minimum_commitment` true-up (checklist §4.3): the shortfall of the period's subscription
    fee and charges (excluding tax) below the commitment, prorated on the days of a partial period."""
    commitment = Decimal(commitment_amount_cents)
    if active_days is not None and period_days:
        commitment = commitment * active_days / period_days
    return max(round_cents(commitment - period_fees_amount_cents), 0)
