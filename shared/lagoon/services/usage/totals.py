"""The totals of priced usage: each bucket taxed as a charge fee, and the `SubscriptionUsage` they make."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lagoon.data import catalog, organizations
from lagoon.domain.customers import Customer
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.usage import ChargeUsageResult, SubscriptionUsage
from lagoon.engine.invoice_math import (
    FeeInput,
    TaxRate,
    compute_invoice,
    resolve_fee_taxes,
)
from lagoon.engine.money import check_cents
from lagoon.engine.periods import BillingPeriod, local_date


def tax_rates(taxes: Iterable[Any]) -> tuple[TaxRate, ...]:
    return tuple(TaxRate(code=t.code, rate=t.rate, name=t.name) for t in taxes)


def usage_totals(
    organization_id: str,
    customer: Customer,
    plan: Plan,
    results: Sequence[ChargeUsageResult],
    *,
    apply_taxes: bool = True,
) -> tuple[int, int, int]:
    """(amount_cents, taxes_amount_cents, total_amount_cents) of priced buckets, each bucket a fee taxed as
    Lago taxes charge fees (charge > plan > customer > organization, `engine.invoice_math`)."""
    amount = sum(result.amount_cents for result in results)
    if not apply_taxes or not results:
        check_cents(amount, *(result.amount_cents for result in results))
        return amount, 0, amount
    organization = organizations.get_organization(organization_id)
    codes = {
        *organization.tax_codes,
        *customer.tax_codes,
        *plan.tax_codes,
        *(code for r in results for code in r.charge.tax_codes),
    }
    by_code = {tax.code: tax for tax in catalog.get_taxes(organization_id, sorted(codes))} if codes else {}

    def rates(names: Iterable[str]) -> tuple[TaxRate, ...]:
        return tax_rates(by_code[name] for name in names if name in by_code)

    fees = [
        FeeInput(
            key=str(index),
            amount_cents=result.amount_cents,
            plan_code=plan.code,
            billable_metric_code=result.billable_metric.code,
            taxes=resolve_fee_taxes(
                organization=rates(organization.tax_codes),
                customer=rates(customer.tax_codes),
                plan=rates(plan.tax_codes),
                charge_or_add_on=rates(result.charge.tax_codes),
            ),
        )
        for index, result in enumerate(results)
    ]
    totals = compute_invoice(fees)
    return amount, totals.taxes_amount_cents, amount + totals.taxes_amount_cents


def priced_usage(
    organization_id: str,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    period: BillingPeriod,
    timezone: str,
    results: Sequence[ChargeUsageResult],
    *,
    apply_taxes: bool = True,
) -> SubscriptionUsage:
    """A subscription's usage over the charges period of `period`, from its priced buckets, with the totals
    (`issuing_date`: the local date the period ends, in the billing `timezone`)."""
    amount, taxes_amount, total = usage_totals(
        organization_id, customer, plan, results, apply_taxes=apply_taxes
    )
    return SubscriptionUsage(
        organization_id=organization_id,
        subscription_id=subscription.lago_id,
        external_subscription_id=subscription.external_id,
        external_customer_id=subscription.external_customer_id,
        currency=plan.amount_currency,
        from_datetime=period.charges_from_datetime,
        to_datetime=period.charges_to_datetime,
        issuing_date=local_date(period.charges_to_datetime, timezone),
        charges=tuple(results),
        amount_cents=amount,
        taxes_amount_cents=taxes_amount,
        total_amount_cents=total,
    )
