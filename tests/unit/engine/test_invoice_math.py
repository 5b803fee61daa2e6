"""Invoice math (checklist §8.6, §10, §12.2; DECISIONS.md "Billing")."""

from __future__ import annotations

from decimal import Decimal

from lagoon.engine.invoice_math import (
    AppliedCouponInput,
    FeeInput,
    TaxRate,
    compute_invoice,
    minimum_commitment_true_up_cents,
    resolve_fee_taxes,
)

VAT10 = TaxRate("vat_10", Decimal(10), "VAT")
VAT20 = TaxRate("french_standard_vat", Decimal("20.0"), "TVA")


def test_current_rule_coupons_before_tax_checklist_8_6() -> None:
    # $50 subscription + $20 usage - $10 coupon = $60; tax 10 % = $6 → $66; prepaid credits $30 → $36.
    fees = [
        FeeInput("subscription", 5000, "subscription", plan_code="startup", taxes=(VAT10,)),
        FeeInput("usage", 2000, "charge", plan_code="startup", billable_metric_code="api", taxes=(VAT10,)),
    ]
    coupon = AppliedCouponInput("c1", "fixed_amount", "once", amount_cents=1000)
    totals = compute_invoice(fees, [coupon], prepaid_credits_available_cents=3000)
    assert totals.fees_amount_cents == 7000
    assert totals.coupons_amount_cents == 1000
    assert totals.sub_total_excluding_taxes_amount_cents == 6000
    assert totals.taxes_amount_cents == 600
    assert totals.sub_total_including_taxes_amount_cents == 6600
    assert totals.prepaid_credit_amount_cents == 3000
    assert totals.total_amount_cents == 3600
    assert [(t.tax_code, t.amount_cents, t.fees_amount_cents) for t in totals.applied_taxes] == [
        ("vat_10", 600, 6000)
    ]
    # The coupon is spread in proportion to the fees: 5/7 and 2/7 of $10.
    assert [round(fee.precise_coupons_amount_cents, 4) for fee in totals.fees] == [
        Decimal("714.2857"),
        Decimal("285.7143"),
    ]


def test_fixed_once_coupon_keeps_its_remainder_checklist_10() -> None:
    fees = [FeeInput("subscription", 1500, "subscription", plan_code="p")]
    coupon = AppliedCouponInput("c", "fixed_amount", "once", amount_cents=2000)
    totals = compute_invoice(fees, [coupon])
    assert totals.coupons_amount_cents == 1500
    assert totals.total_amount_cents == 0
    assert (totals.coupons[0].amount_cents_remaining, totals.coupons[0].terminated) == (500, False)
    again = compute_invoice(
        fees, [AppliedCouponInput("c", "fixed_amount", "once", 2000, amount_cents_remaining=500)]
    )
    assert (
        again.coupons_amount_cents,
        again.coupons[0].amount_cents_remaining,
        again.coupons[0].terminated,
    ) == (
        500,
        0,
        True,
    )


def test_percentage_coupon_rounds_half_up_and_recurring_bookkeeping() -> None:
    fees = [FeeInput("s", 999, "subscription", plan_code="p")]
    coupon = AppliedCouponInput(
        "c", "percentage", "recurring", percentage_rate=Decimal(25), frequency_duration_remaining=3
    )
    totals = compute_invoice(fees, [coupon])
    assert totals.coupons_amount_cents == 250  # 249.75 → 250
    assert (totals.coupons[0].frequency_duration_remaining, totals.coupons[0].terminated) == (2, False)
    forever = AppliedCouponInput("f", "percentage", "forever", percentage_rate=Decimal(10))
    assert compute_invoice(fees, [forever]).coupons[0].terminated is False


def test_coupons_apply_in_order_on_what_is_left() -> None:
    fees = [FeeInput("s", 10000, "subscription", plan_code="p")]
    coupons = [
        AppliedCouponInput("fixed", "fixed_amount", "forever", amount_cents=2000),
        AppliedCouponInput("pct", "percentage", "forever", percentage_rate=Decimal(50)),
    ]
    assert [c.amount_cents for c in compute_invoice(fees, coupons).coupons] == [2000, 4000]
    assert [c.amount_cents for c in compute_invoice(fees, coupons[::-1]).coupons] == [5000, 2000]


def test_coupons_limited_to_plans_or_metrics_and_never_add_ons() -> None:
    fees = [
        FeeInput("sub", 1000, "subscription", plan_code="startup"),
        FeeInput("api", 1000, "charge", plan_code="startup", billable_metric_code="api_calls"),
        FeeInput("storage", 1000, "charge", plan_code="startup", billable_metric_code="storage"),
        FeeInput("setup", 5000, "add_on"),
    ]
    by_metric = AppliedCouponInput(
        "m", "fixed_amount", "forever", amount_cents=9999, billable_metric_codes=("api_calls",)
    )
    assert compute_invoice(fees, [by_metric]).coupons_amount_cents == 1000
    by_plan = AppliedCouponInput("p", "fixed_amount", "forever", amount_cents=9999, plan_codes=("startup",))
    assert compute_invoice(fees, [by_plan]).coupons_amount_cents == 3000
    other_plan = AppliedCouponInput("o", "fixed_amount", "forever", amount_cents=9999, plan_codes=("other",))
    totals = compute_invoice(fees, [other_plan])
    assert (totals.coupons_amount_cents, totals.coupons[0].terminated) == (0, False)


def test_tax_hierarchy_checklist_12_2() -> None:
    org, customer, plan, charge = (
        TaxRate(code, Decimal(rate)) for code, rate in [("o", 5), ("c", 10), ("p", 15), ("ch", 20)]
    )
    assert resolve_fee_taxes(organization=[org]) == (org,)
    assert resolve_fee_taxes(organization=[org], customer=[customer]) == (customer,)
    assert resolve_fee_taxes(organization=[org], customer=[customer], plan=[plan]) == (plan,)
    assert resolve_fee_taxes(
        organization=[org], customer=[customer], plan=[plan], charge_or_add_on=[charge]
    ) == (charge,)
    assert resolve_fee_taxes() == ()


def test_taxes_per_fee_and_per_invoice_from_unrounded_sums() -> None:
    # Three fees of 0.05 at 10 %: each fee's tax is 0.5 cent; the invoice tax is 1.5 → 2 cents, not 3 x 1.
    fees = [FeeInput(str(i), 5, "charge", taxes=(VAT10,)) for i in range(3)]
    totals = compute_invoice(fees)
    assert [fee.taxes_amount_cents for fee in totals.fees] == [1, 1, 1]
    assert totals.taxes_amount_cents == 2
    assert totals.applied_taxes[0].amount_cents == 2


def test_several_taxes_and_credit_notes_before_prepaid_credits() -> None:
    fees = [FeeInput("s", 10000, "subscription", taxes=(VAT10, VAT20))]
    totals = compute_invoice(fees, credit_notes_available_cents=5000, prepaid_credits_available_cents=100000)
    assert totals.taxes_amount_cents == 3000
    assert {t.tax_code: t.amount_cents for t in totals.applied_taxes} == {
        "vat_10": 1000,
        "french_standard_vat": 2000,
    }
    assert (
        totals.credit_notes_amount_cents,
        totals.prepaid_credit_amount_cents,
        totals.total_amount_cents,
    ) == (
        5000,
        8000,
        0,
    )


def test_minimum_commitment_true_up() -> None:
    assert minimum_commitment_true_up_cents(10000, 7000) == 3000
    assert minimum_commitment_true_up_cents(10000, 12000) == 0
    assert minimum_commitment_true_up_cents(3100, 500, active_days=15, period_days=31) == 1000
