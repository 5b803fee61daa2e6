"""Pay-in-advance charges on recurring metrics, billed again for the units each new period starts with.

A pay-in-advance charge bills every event as it comes (`in_advance_fees`); on a recurring metric the units
then carry into the next period, and lago-api bills them again at each renewal (`Invoices::
CalculateFeesService`: `create_charges_fees` keeps the pay-in-advance charges of recurring metrics,
`create_recurring_non_invoiceable_fees` bills the non-invoiceable ones; `recurring_fees_spec`):
- what: per bucket (charge, filter, group), the units at the end of the charges period that closes — what
  the new period carries — priced in full, a prorated charge too (`ProratedAggregations::*#bill_full_amount?`);
  the fee is dated the new charges period (`Fee#date_boundaries`);
- when: at a boundary that closes a charges period, unless the subscription ends there — terminated or
  upgraded — except when a downgrade takes over (`should_not_create_charge_fee?`);
- invoiceable: a fee of the period's invoice (`compute`), `pay_in_advance: false` as Lago prints it. The
  invoice is made once per customer and boundary (`run`), so the fee is billed once; a draft's refresh
  prices it again from the same aggregates;
- not invoiceable: a fee without invoice (`pay_in_advance: true`) with its `fee.created`, written by
  `record_fees_without_invoice` before the invoice's transaction commits. Exactly once: its id derives from
  (subscription, charge, filter, group, new period) and it is put only if absent, in the transaction of its
  webhook; a run that crashes or loses the race before its commit leaves fees the next attempt finds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lagoon import errors
from lagoon.contract.fees import PAY_IN_ADVANCE_FEE, FeeAmounts, FeeFacts, build_fee, invoiced_fee_taxes
from lagoon.data import entities
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import FEE_KIND, InvoicePart, Period
from lagoon.domain.plans import Charge, Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.engine.invoice_math import FeeInput, compute_invoice
from lagoon.engine.money import currency_exponent
from lagoon.engine.periods import interval_containing
from lagoon.services.invoicing.period_fees import (
    PeriodFee,
    is_empty_charge_fee,
    period_charges_usage,
    tax_rates,
    usage_fee,
)
from lagoon.services.invoicing.run_catalog import Catalog

_RENEWAL_NAMESPACE = uuid.UUID("0c6f3a52-7d1e-4b8a-9e57-3f2d8c41a6b9")
_PER_TRANSACTION = 50  # a fee and its webhook: two of DynamoDB's 100 actions


def renews_carried_units(subscription: Subscription, part: InvoicePart) -> bool:
    """Whether `part` starts a new charges period for the subscription: it closes one, and the subscription
    goes on — or ends at a downgrade (lago-api bills the renewal on the downgraded subscription's last invoice;
    an upgrade's new subscription, or none, ends it without)."""
    closed = part.charges_period
    if closed is None:
        return False
    if part.invoicing_reason != "subscription_terminating":
        return True
    downgrade_at = subscription.downgrade_plan_date
    return bool(subscription.next_subscription_id and downgrade_at) and (
        closed.to_datetime.date().isoformat() == downgrade_at
    )


def _renewed_charges(catalog: Catalog, plan: Plan, *, invoiceable: bool) -> list[Charge]:
    """The plan's pay-in-advance charges on recurring metrics (`invoiceable` ones or the others), to be priced
    in full: a prorated one bills the whole period at renewal."""
    if not any(charge.pay_in_advance for charge in plan.charges):
        return []  # most plans: no metric to read
    metrics = catalog.metrics(plan)
    return [
        charge.model_copy(update={"prorated": False})
        for charge in plan.charges
        if charge.pay_in_advance
        and charge.invoiceable == invoiceable
        and (metric := metrics.get(charge.billable_metric_id)) is not None
        and metric.recurring
    ]


def carried_fees(
    catalog: Catalog, customer: Customer, subscription: Subscription, part: InvoicePart, *, invoiceable: bool
) -> list[PeriodFee]:
    """The renewal fees of `part` for the subscription's pay-in-advance charges on recurring metrics that are
    (`invoiceable`) or are not billed on invoices: one per bucket, dated the new charges period. Reads the
    aggregates only when the plan has such charges."""
    if not renews_carried_units(subscription, part):
        return []
    plan = catalog.plan(subscription.plan_id)
    charges = _renewed_charges(catalog, plan, invoiceable=invoiceable)
    terms = catalog.terms(subscription)
    closed = part.charges_period
    if not charges or terms is None or closed is None:
        return []
    results = period_charges_usage(catalog, customer, subscription, plan, terms, closed, charges)
    start, end = interval_containing(terms, closed.to_datetime, terms.charges_interval)
    renewed = Period(from_datetime=start, to_datetime=end, full_from_datetime=start, full_to_datetime=end)
    fees = [
        usage_fee(catalog, customer, subscription, plan, result, "renewal", renewed) for result in results
    ]
    # lago-api keeps an empty fee only in its `:recurring` context, the fees without invoice
    # (`Fees::ChargeService#should_persist_fee?`); an invoice's renewal fees go through the usual rule.
    return [fee for fee in fees if not (invoiceable and is_empty_charge_fee(fee))]


def renewal_fee_id(fee: PeriodFee) -> str:
    """The fee without invoice of one bucket and new period: the same id whatever run bills it."""
    return str(uuid.uuid5(_RENEWAL_NAMESPACE, f"{fee.key}#{fee.from_date}"))


def record_fees_without_invoice(
    catalog: Catalog,
    customer: Customer,
    due: Sequence[tuple[Subscription, InvoicePart]],
    created_at: str,
) -> None:
    """Put the renewal fees of the non-invoiceable charges of `due` that do not exist yet, each with its
    `fee.created`, in transactions of their own (called before the invoice of the boundary commits)."""
    wanted: dict[str, dict[str, Any]] = {}
    for subscription, part in due:
        for fee in carried_fees(catalog, customer, subscription, part, invoiceable=False):
            fee_id = renewal_fee_id(fee)
            wanted[fee_id] = _fee_body(fee_id, customer, fee, created_at)
    if not wanted:
        return
    organization_id = catalog.organization_id
    existing = entities.get_many(organization_id, FEE_KIND, list(wanted))
    absent = [(fee_id, body) for fee_id, body in wanted.items() if fee_id not in existing]
    for start in range(0, len(absent), _PER_TRANSACTION):
        chunk = absent[start : start + _PER_TRANSACTION]
        try:
            _put_fees(organization_id, chunk)
        except errors.ConflictRetry:  # a concurrent run put some: each alone, skipping those
            for single in chunk:
                try:
                    _put_fees(organization_id, [single])
                except errors.ConflictRetry:
                    continue


def _put_fees(organization_id: str, fees: Sequence[tuple[str, dict[str, Any]]]) -> None:
    writes = entities.Writes()
    for fee_id, body in fees:
        writes.put(organization_id, FEE_KIND, fee_id, body, must_not_exist=True)
        writes.message(
            entities.OutboxMessage(
                organization_id,
                "fee.created",
                "fee",
                body,
                message_id=str(uuid.uuid5(_RENEWAL_NAMESPACE, f"fee.created#{fee_id}")),
            )
        )
    writes.commit()


def _fee_body(fee_id: str, customer: Customer, fee: PeriodFee, created_at: str) -> dict[str, Any]:
    """A renewal fee without invoice as Lago's `FeeObject`: taxed on its own (charge > plan > customer >
    organization), `pay_in_advance: true`, `invoiceable: false`, no event."""
    currency = fee.plan.amount_currency
    totals = compute_invoice(
        [FeeInput(key=fee.key, amount_cents=fee.amount_cents, taxes=tax_rates(fee.taxes))]
    ).fees[0]
    scale = Decimal(10) ** currency_exponent(currency)
    taxes_precise_amount = totals.taxes_precise_amount_cents / scale
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
        sub_total_excluding_taxes_amount_cents=fee.amount_cents,
        sub_total_excluding_taxes_precise_amount_cents=fee.precise_amount * scale,
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
        lago_subscription_id=fee.subscription.lago_id,
        external_subscription_id=fee.subscription.external_id,
        lago_charge_id=fee.charge_id,
        lago_charge_filter_id=fee.charge_filter_id,
        events_count=fee.events_count,
        pay_in_advance=True,
        invoiceable=False,
        amount_details=fee.amount_details,
    )
    return build_fee(facts, PAY_IN_ADVANCE_FEE)
