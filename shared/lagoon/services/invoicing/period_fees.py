"""The fees a subscription owes for one part of an invoice, before coupons and taxes: the subscription fee of
its fee period (prorated, trial), the usage fees of its charges period from the running aggregates
(`lagoon.services.usage.charges.charges_usage`: the cost grows with subscriptions x charges, not events), the
`min_amount_cents` true-ups of those charges, and the minimum commitment true-up of the period that closes.
Pay-in-advance charges are billed as their events come (`in_advance_fees`), and those on recurring metrics
again at each renewal (`renewal_fees`), never here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from lagoon.contract.fees import FeeItem
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import InvoicePart, Period
from lagoon.domain.plans import Charge, Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.taxes import Tax
from lagoon.domain.times import iso
from lagoon.domain.usage import ChargeUsageResult
from lagoon.engine.charges import true_up_amount_cents
from lagoon.engine.invoice_math import TaxRate, minimum_commitment_true_up_cents, resolve_fee_taxes
from lagoon.engine.money import currency_exponent
from lagoon.engine.periods import (
    BillingPeriod,
    SubscriptionTerms,
    charges_period_days,
    days_between,
    interval_containing,
    subscription_fee_for_period,
)
from lagoon.services.invoicing.run_catalog import Catalog
from lagoon.services.usage.charges import charges_usage


@dataclass
class PeriodFee:
    """A fee of a subscription's invoice before coupons and taxes (`compute` makes its FeeObject)."""

    key: str
    fee_type: str
    amount_cents: int
    precise_amount: Decimal
    units: Decimal
    total_aggregated_units: Decimal
    unit_amount: Decimal
    events_count: int | None
    taxes: tuple[Tax, ...]
    subscription: Subscription
    plan: Plan
    item: FeeItem
    from_date: str | None
    to_date: str | None
    billable_metric_code: str | None = None
    charge_id: str | None = None
    charge_filter_id: str | None = None
    amount_details: dict[str, Any] = field(default_factory=dict)
    true_up_parent_key: str | None = None
    """A true-up: the key of the charge fee it completes (`lago_true_up_parent_fee_id`)."""
    true_up_key: str | None = None
    """A charge fee completed by a true-up: the true-up's key (`lago_true_up_fee_id`)."""


def is_empty_charge_fee(fee: PeriodFee) -> bool:
    """A charge fee of 0 units, 0 cents and no event: lago-api does not keep it on an invoice
    (`Fees::ChargeService#should_persist_fee?`), unless a true-up completes it (the caller keeps those).
    A first tier's flat amount, or a recurring sum's earlier events, make a fee worth keeping."""
    return fee.units == 0 and fee.amount_cents == 0 and not fee.events_count


def tax_rates(found: Iterable[Tax]) -> tuple[TaxRate, ...]:
    """Taxes as the engine takes them."""
    return tuple(TaxRate(code=t.code, rate=t.rate, name=t.name) for t in found)


def _inclusive(moment: datetime) -> str:
    """A period end as Lago prints it: the last second inside the period."""
    return iso(moment - timedelta(seconds=1))


def _billing_period(period: Period) -> BillingPeriod:
    start, end = period.from_datetime, period.to_datetime
    return BillingPeriod(start, end, start, end, period.full_from_datetime, period.full_to_datetime)


def _fee_taxes(catalog: Catalog, customer: Customer, plan: Plan, own: list[str]) -> tuple[Tax, ...]:
    """Charge / commitment > plan > customer > organization (`engine.invoice_math.resolve_fee_taxes`)."""
    chosen = resolve_fee_taxes(
        organization=tax_rates(catalog.taxes(catalog.organization.tax_codes)),
        customer=tax_rates(catalog.taxes(customer.tax_codes)),
        plan=tax_rates(catalog.taxes(plan.tax_codes)),
        charge_or_add_on=tax_rates(catalog.taxes(own)),
    )
    return catalog.taxes(rate.code for rate in chosen)


def part_fees(
    catalog: Catalog, customer: Customer, subscription: Subscription, part: InvoicePart
) -> list[PeriodFee]:
    """What `subscription` owes for `part`: its subscription fee, charges, true-ups and commitment."""
    plan = catalog.plan(subscription.plan_id)
    terms = catalog.terms(subscription)
    assert terms is not None
    fees: list[PeriodFee] = []
    if part.fee_period is not None:
        fees.append(_subscription_fee(catalog, customer, subscription, plan, terms, part.fee_period))
    if part.charges_period is not None:
        charge_fees = _charge_fees(catalog, customer, subscription, plan, terms, part.charges_period)
        true_ups = _charge_true_ups(plan, terms, part.charges_period, charge_fees)
        completed = {true_up.true_up_parent_key: true_up.key for true_up in true_ups}
        fees.extend(
            replace(fee, true_up_key=completed.get(fee.key))
            for fee in charge_fees
            if fee.key in completed or not is_empty_charge_fee(fee)
        )
        fees.extend(true_ups)
    if part.commitment_period is not None and plan.minimum_commitment is not None:
        fees.extend(_commitment_fee(catalog, customer, subscription, plan, terms, part, fees))
    return fees


def _subscription_fee(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    terms: SubscriptionTerms,
    period: Period,
) -> PeriodFee:
    """The plan's amount for `period` (prorated on days, free during a trial)."""
    amount = subscription_fee_for_period(plan.amount_cents, terms, _billing_period(period))
    return _one_unit_fee(
        f"subscription#{subscription.lago_id}",
        "subscription",
        amount,
        plan,
        subscription,
        taxes=_fee_taxes(catalog, customer, plan, []),
        item=FeeItem(
            type="subscription",
            code=plan.code,
            name=plan.name,
            description=plan.description,
            invoice_display_name=plan.invoice_display_name or plan.name,
            lago_item_id=subscription.lago_id,
            item_type="Subscription",
        ),
        from_date=iso(period.from_datetime),
        to_date=_inclusive(period.to_datetime),
    )


def _charge_fees(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    terms: SubscriptionTerms,
    period: Period,
) -> list[PeriodFee]:
    """A fee per priced bucket — (charge, filter, group) — of the in-arrears, invoiceable charges."""
    charges = [c for c in plan.charges if not c.pay_in_advance and c.invoiceable]
    if not charges:
        return []
    results = period_charges_usage(catalog, customer, subscription, plan, terms, period, charges)
    return [usage_fee(catalog, customer, subscription, plan, result, "charge", period) for result in results]


def period_charges_usage(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    terms: SubscriptionTerms,
    period: Period,
    charges: list[Charge],
) -> list[ChargeUsageResult]:
    """The priced buckets of `charges` over `period`, prorated on the days of the whole charges interval."""
    return charges_usage(
        catalog.organization_id,
        subscription,
        plan,
        period.from_datetime,
        period.to_datetime,
        timezone=catalog.timezone(customer),
        metrics=catalog.metrics(plan),
        charges=charges,
        period_days=charges_period_days(terms, period.from_datetime),
    )


def usage_fee(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    result: ChargeUsageResult,
    kind: str,
    period: Period,
) -> PeriodFee:
    """The fee of one priced bucket — (charge, filter, group) — dated `period`, keyed
    `<kind>#<subscription>#<charge>#<filter>#<group>`."""
    charge = result.charge
    charge_filter = result.charge_filter
    group_text = "" if result.grouped_by is None else repr(sorted(result.grouped_by.items()))
    return PeriodFee(
        key=f"{kind}#{subscription.lago_id}#{charge.lago_id}#{result.charge_filter_id or '-'}#{group_text}",
        fee_type="charge",
        amount_cents=result.amount_cents,
        precise_amount=result.precise_amount,
        units=result.units,
        total_aggregated_units=result.total_aggregated_units,
        unit_amount=result.unit_amount,
        events_count=result.events_count,
        taxes=_fee_taxes(catalog, customer, plan, charge.tax_codes),
        subscription=subscription,
        plan=plan,
        billable_metric_code=result.billable_metric.code,
        charge_id=charge.lago_id,
        charge_filter_id=result.charge_filter_id,
        amount_details=result.amount_details,
        item=FeeItem(
            type="charge",
            code=result.billable_metric.code,
            name=result.billable_metric.name,
            description=result.billable_metric.description,
            invoice_display_name=charge.invoice_display_name or result.billable_metric.name,
            filter_invoice_display_name=(
                charge_filter.invoice_display_name if charge_filter is not None else None
            ),
            filters=charge_filter.values if charge_filter is not None else None,
            lago_item_id=result.billable_metric.lago_id,
            item_type="BillableMetric",
            grouped_by=result.grouped_by or {},
        ),
        from_date=iso(period.from_datetime),
        to_date=_inclusive(period.to_datetime),
    )


def _active_days(terms: SubscriptionTerms, period: Period) -> tuple[int, int]:
    """(days of `period`, days of its whole interval), in the subscription's timezone."""
    full = days_between(period.full_from_datetime, period.full_to_datetime, terms.timezone)
    active = days_between(period.from_datetime, period.to_datetime, terms.timezone)
    return active, full


def _charge_true_ups(
    plan: Plan, terms: SubscriptionTerms, period: Period, charge_fees: list[PeriodFee]
) -> list[PeriodFee]:
    """`min_amount_cents` true-ups: the shortfall of a charge's fees below its minimum, prorated on days.

    As Lago's `Fees::CreateTrueUpService`, a true-up is a one-unit copy of the charge's first fee without a
    filter (its parent, `lago_true_up_parent_fee_id`; with no such fee there is no true-up), without a filter,
    events or breakdown."""
    charges_full = interval_containing(terms, period.from_datetime, terms.charges_interval)
    full_period = Period(
        from_datetime=period.from_datetime,
        to_datetime=period.to_datetime,
        full_from_datetime=charges_full[0],
        full_to_datetime=charges_full[1],
    )
    active, full = _active_days(terms, full_period)
    exponent = currency_exponent(plan.amount_currency)
    found = []
    for charge in plan.charges:
        fees = [fee for fee in charge_fees if fee.charge_id == charge.lago_id]
        parent = next((fee for fee in fees if fee.charge_filter_id is None), None)
        if not charge.min_amount_cents or parent is None:
            continue
        used = sum(fee.amount_cents for fee in fees)
        amount = true_up_amount_cents(used, charge.min_amount_cents, active_days=active, period_days=full)
        if amount <= 0:
            continue
        precise = Decimal(amount) / (Decimal(10) ** exponent)
        found.append(
            replace(
                parent,
                key=f"true_up#{parent.subscription.lago_id}#{charge.lago_id}",
                amount_cents=amount,
                precise_amount=precise,
                units=Decimal(1),
                total_aggregated_units=Decimal(1),
                unit_amount=precise,
                events_count=0,
                amount_details={},
                true_up_parent_key=parent.key,
            )
        )
    return found


def _commitment_fee(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    terms: SubscriptionTerms,
    part: InvoicePart,
    fees_so_far: list[PeriodFee],
) -> list[PeriodFee]:
    """The minimum commitment true-up of the period that closes: its subscription fee and charges below
    the commitment, prorated on days for a partial period (checklist §4.3)."""
    commitment = plan.minimum_commitment
    period = part.commitment_period
    assert commitment is not None and period is not None
    subscription_fee = subscription_fee_for_period(plan.amount_cents, terms, _billing_period(period))
    charges = sum(f.amount_cents for f in fees_so_far if f.fee_type == "charge")
    charges += _charges_billed_earlier(catalog, subscription, part)
    active, full = _active_days(terms, period)
    amount = minimum_commitment_true_up_cents(
        commitment.amount_cents, subscription_fee + charges, active_days=active, period_days=full
    )
    if amount <= 0:
        return []
    return [
        _one_unit_fee(
            f"commitment#{subscription.lago_id}",
            "commitment",
            amount,
            plan,
            subscription,
            taxes=_fee_taxes(catalog, customer, plan, commitment.tax_codes),
            item=FeeItem(
                type="commitment",
                code=plan.code,
                name=plan.name,
                description=plan.description,
                invoice_display_name=commitment.invoice_display_name or "Minimum commitment true-up",
                lago_item_id=commitment.lago_id,
                item_type="Commitment",
            ),
            from_date=iso(period.from_datetime),
            to_date=_inclusive(period.to_datetime),
        )
    ]


def _one_unit_fee(
    key: str, fee_type: str, amount: int, plan: Plan, subscription: Subscription, **fields: Any
) -> PeriodFee:
    """A fee of one unit priced at its whole amount (the plan's amount, a commitment true-up)."""
    precise = Decimal(amount) / (Decimal(10) ** currency_exponent(plan.amount_currency))
    return PeriodFee(
        key=key,
        fee_type=fee_type,
        amount_cents=amount,
        precise_amount=precise,
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        unit_amount=precise,
        events_count=None,
        subscription=subscription,
        plan=plan,
        **fields,
    )


def _charges_billed_earlier(catalog: Catalog, subscription: Subscription, part: InvoicePart) -> int:
    """The charge fees of `subscription` already invoiced inside the commitment period: a yearly plan with
    `bill_charges_monthly` invoices its charges month by month, and its yearly commitment counts them all
    (pay-in-advance charges, billed at once or regrouped once paid, and voided invoices excepted). Zero for a
    plan whose charges period is the commitment period."""
    period = part.commitment_period
    assert period is not None
    current = part.charges_period.from_datetime if part.charges_period is not None else None
    total = 0
    for invoice in catalog.invoices_of(subscription.lago_customer_id):
        if invoice.status not in ("draft", "finalized", "closed"):
            continue
        for other in invoice.parts:
            charges_period = other.charges_period
            if (
                other.subscription_id != subscription.lago_id
                or other.invoicing_reason in ("in_advance_charge", "in_advance_charge_periodic")
                or charges_period is None
                or charges_period.from_datetime == current
                or not period.from_datetime <= charges_period.from_datetime < period.to_datetime
            ):
                continue
            total += sum(
                fee["amount_cents"]
                for fee in invoice.fees
                if fee.get("lago_subscription_id") == subscription.lago_id
                and (fee.get("item") or {}).get("type") == "charge"
            )
    return total
