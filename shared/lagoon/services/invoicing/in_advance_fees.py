"""Pay-in-advance charges: a fee (and, unless the charge waits for the period's invoice, an invoice) for each
event the aggregator folds, as it folds it — and the estimate of that fee (`POST /events/estimate_fees`).

functions/aggregator wires `record_in_advance_fees` into the aggregator; exactly once rests on the keys being
derived from the fold (lagoon.ingestion.aggregator "Extension point").
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lagoon import errors
from lagoon.contract.fees import PAY_IN_ADVANCE_FEE, FeeAmounts, FeeFacts, FeeItem, FeeTax, build_fee
from lagoon.data import entities
from lagoon.data.subscriptions import find_subscription
from lagoon.data.usage_keys import period_key
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.customers import Customer
from lagoon.domain.events import microseconds_to_datetime
from lagoon.domain.plans import Charge, ChargeFilter, Plan
from lagoon.domain.subscriptions import Subscription, terms_of
from lagoon.domain.usage import EstimateEventInput
from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.charge_filters import group_key
from lagoon.engine.charges import ChargeResult, amount_details_json, price_in_advance_event
from lagoon.engine.invoice_math import (
    AppliedTaxTotal,
    FeeInput,
    TaxRate,
    compute_invoice,
    resolve_fee_taxes,
)
from lagoon.engine.metric_definitions import UsageEvent, numeric_property
from lagoon.engine.money import currency_exponent
from lagoon.engine.period_units import fold_in_advance
from lagoon.engine.periods import charges_period_days
from lagoon.ingestion.directory import plan_view
from lagoon.observability import logger
from lagoon.services import customers, organizations
from lagoon.services.catalog import billable_metrics, plans, taxes
from lagoon.services.invoicing import in_advance_invoices
from lagoon.services.subscriptions.terms import current_period, read_billing_timezone
from lagoon.services.usage.charges import carries_over, grouped_by, period_states
from lagoon.services.usage.totals import tax_rates

if TYPE_CHECKING:  # the aggregator calls in with its folds; importing it would load it with every caller
    from lagoon.ingestion.in_advance import InAdvanceFold

# --- pay-in-advance fees --------------------------------------------------------------------------------

FEE_KIND = "fee"
"""Entity kind of fees (key: lago_id); the body is Lago's `FeeObject`."""
"""Entity kind of a subscription's lifetime usage settings (key: subscription lago_id)."""
_FEE_NAMESPACE = uuid.UUID("5b0e3c1e-8a57-4f0c-9d61-2f4a7c3e9b12")


def in_advance_fee_id(
    subscription_id: str, charge_id: str, filter_id: str, group: str, transaction_id: str
) -> str:
    """The fee of one event on one bucket of a pay-in-advance charge: the same id on every redelivery."""
    return str(
        uuid.uuid5(_FEE_NAMESPACE, f"{subscription_id}#{charge_id}#{filter_id}#{group}#{transaction_id}")
    )


@dataclass(frozen=True, slots=True)
class _FeeContext:
    subscription: Subscription | None
    lago_subscription_id: str
    lago_customer_id: str
    external_subscription_id: str
    external_customer_id: str
    customer: Customer | None
    plan: Plan
    metric: BillableMetric
    charge: Charge
    charge_filter: ChargeFilter | None
    grouped_by: dict[str, str | None] | None
    period_from: datetime
    period_to: datetime


def _fee_taxes(
    organization_id: str, context: _FeeContext, amount_cents: int
) -> tuple[int, Decimal, Decimal, list[AppliedTaxTotal]]:
    """(taxes_amount_cents, precise taxes cents, rate, applied taxes) of one charge fee."""
    organization = organizations.get_organization(organization_id)
    customer_codes = context.customer.tax_codes if context.customer else []
    codes = {*organization.tax_codes, *customer_codes, *context.plan.tax_codes, *context.charge.tax_codes}
    by_code = {tax.code: tax for tax in taxes.get_taxes(organization_id, sorted(codes))} if codes else {}

    def rates(names: Iterable[str]) -> tuple[TaxRate, ...]:
        return tax_rates(by_code[name] for name in names if name in by_code)

    fee_taxes = resolve_fee_taxes(
        organization=rates(organization.tax_codes),
        customer=rates(customer_codes),
        plan=rates(context.plan.tax_codes),
        charge_or_add_on=rates(context.charge.tax_codes),
    )
    totals = compute_invoice([FeeInput(key="fee", amount_cents=amount_cents, taxes=fee_taxes)])
    fee = totals.fees[0]
    return fee.taxes_amount_cents, fee.taxes_precise_amount_cents, fee.taxes_rate, list(totals.applied_taxes)


def render_charge_fee(
    organization_id: str,
    context: _FeeContext,
    priced: ChargeResult,
    *,
    lago_id: str | None,
    transaction_id: str | None,
    created_at: str | None,
    units_total: Decimal,
) -> dict[str, Any]:
    """A pay-in-advance charge fee as Lago's `FeeObject` (taxes resolved charge > plan > customer > org)."""
    currency = context.plan.amount_currency
    taxes_cents, taxes_precise, taxes_rate, applied = _fee_taxes(
        organization_id, context, priced.amount_cents
    )
    scale = Decimal(10 ** currency_exponent(currency))
    precise_amount = priced.amount
    taxes_precise_amount = taxes_precise / scale
    amounts = FeeAmounts(
        amount_cents=priced.amount_cents,
        precise_amount=precise_amount,
        precise_total_amount=precise_amount + taxes_precise_amount,
        taxes_amount_cents=taxes_cents,
        taxes_precise_amount=taxes_precise_amount,
        taxes_rate=taxes_rate,
        units=priced.units,
        precise_unit_amount=priced.unit_amount,
        total_aggregated_units=units_total,
        sub_total_excluding_taxes_amount_cents=priced.amount_cents,
        sub_total_excluding_taxes_precise_amount_cents=precise_amount * scale,
    )
    charge_filter = context.charge_filter
    facts = FeeFacts(
        lago_id=lago_id,
        currency=currency,
        amounts=amounts,
        item=_charge_item(context),
        # An estimate has no id, so no taxes to show.
        taxes=[] if lago_id is None else _shown_taxes(lago_id, applied),
        lago_customer_id=context.lago_customer_id,
        external_customer_id=context.external_customer_id,
        created_at=created_at,
        from_date=period_key(context.period_from),
        to_date=period_key(context.period_to - timedelta(seconds=1)),
        lago_subscription_id=context.lago_subscription_id,
        external_subscription_id=context.external_subscription_id,
        lago_charge_id=context.charge.lago_id,
        lago_charge_filter_id=None if charge_filter is None else charge_filter.lago_id,
        events_count=priced.events_count,
        pay_in_advance=True,
        invoiceable=context.charge.invoiceable,
        event_transaction_id=transaction_id,
        amount_details=amount_details_json(priced.details),
    )
    return build_fee(facts, PAY_IN_ADVANCE_FEE)


def _charge_item(context: _FeeContext) -> FeeItem:
    charge_filter = context.charge_filter
    return FeeItem(
        type="charge",
        code=context.metric.code,
        name=context.metric.name,
        invoice_display_name=context.charge.invoice_display_name or context.metric.name,
        filter_invoice_display_name=None if charge_filter is None else charge_filter.invoice_display_name,
        filters=None if charge_filter is None else charge_filter.values,
        grouped_by=context.grouped_by or {},
        lago_item_id=context.metric.lago_id,
        item_type="BillableMetric",
    )


def _shown_taxes(fee_id: str, applied: list[AppliedTaxTotal]) -> list[FeeTax]:
    """The fee's applied taxes, their ids derived from the fee."""
    return [
        FeeTax(
            lago_id=str(uuid.uuid5(_FEE_NAMESPACE, f"{fee_id}#{tax.tax_code}")),
            lago_tax_id=None,
            name=tax.tax_name,
            code=tax.tax_code,
            rate=tax.tax_rate,
            description=None,
            amount_cents=tax.amount_cents,
        )
        for tax in applied
    ]


def record_in_advance_fees(folds: Sequence[InAdvanceFold]) -> None:
    """The aggregator's pay-in-advance hook: one fee per event and bucket of a pay-in-advance charge,
    `price(after) - price(before)`, stored (kind `fee`) with its `fee.created` webhook in one transaction.

    Exactly once: the fee id derives from (subscription, charge, filter, group, transaction_id) and is put
    only if absent; the webhook's message id derives from the fee id. A replayed batch refolds only events no
    aggregate recorded, from the same state, so it finds (or completes) the same fees.
    An `invoiceable` fee is stored with its instant invoice, in the same transaction (`_bill_fees`); the others
    are stored alone, `lago_invoice_id: null`.
    """
    by_org: dict[str, list[InAdvanceFold]] = defaultdict(list)
    for folded in folds:
        by_org[folded.organization_id].append(folded)
    for organization_id, org_folds in by_org.items():
        _record_organization_fees(organization_id, org_folds)


def _record_organization_fees(organization_id: str, org_folds: Sequence[InAdvanceFold]) -> None:
    """The fees of one organization's folds: its plans, metrics, customers and existing fees read once."""
    plan_ids = {f.subscription.plan.plan_id for f in org_folds}
    plan_by_id = {pid: plans.get_plan_by_id(organization_id, pid, include_deleted=True) for pid in plan_ids}
    metric_ids = [c.billable_metric_id for p in plan_by_id.values() for c in p.charges]
    metrics = billable_metrics.get_billable_metrics_by_ids(organization_id, list(dict.fromkeys(metric_ids)))
    customer_ids = list({f.subscription.lago_customer_id for f in org_folds})
    customer_docs = entities.get_many(organization_id, "customer", customer_ids)
    customer_by_id = {k: Customer.model_validate(v) for k, v in customer_docs.items()}
    pending: list[tuple[str, dict[str, Any]]] = []
    invoiced: list[tuple[str, dict[str, Any], InAdvanceFold, Customer]] = []
    wanted = {}
    for folded in org_folds:
        key = folded.key
        fee_id = in_advance_fee_id(
            key.subscription_id,
            key.charge_id,
            key.filter_id,
            key.group or "-",
            folded.event.transaction_id,
        )
        wanted[fee_id] = folded
    existing = entities.get_many(organization_id, FEE_KIND, list(wanted))
    for fee_id, folded in wanted.items():
        if fee_id in existing:
            continue
        customer = customer_by_id.get(folded.subscription.lago_customer_id)
        try:
            priced = _event_fee(
                organization_id,
                fee_id,
                folded,
                plan_by_id[folded.subscription.plan.plan_id],
                metrics,
                customer,
            )
        except errors.AmountOutOfRange:
            # Counted, never billed: no fee holds it, and failing the batch would stall the stream for good.
            logger.error("a pay-in-advance fee is beyond a 64-bit amount", extra={"fee_id": fee_id})
            continue
        if priced is None:
            continue
        invoiceable, body = priced
        if invoiceable and customer is not None:
            invoiced.append((fee_id, body, folded, customer))
        else:
            pending.append((fee_id, body))
    _write_fees(organization_id, pending)
    if invoiced:
        _bill_fees(organization_id, invoiced)


def _event_fee(
    organization_id: str,
    fee_id: str,
    folded: InAdvanceFold,
    plan: Plan,
    metrics: dict[str, BillableMetric],
    customer: Customer | None,
) -> tuple[bool, dict[str, Any]] | None:
    """(whether its charge is invoiceable, the fee body) of one folded event; None when its charge or metric is
    gone from the plan."""
    charge = next((c for c in plan.charges if c.lago_id == folded.key.charge_id), None)
    metric = None if charge is None else metrics.get(charge.billable_metric_id)
    if charge is None or metric is None:
        return None
    charge_filter = next((f for f in charge.filters if f.lago_id == folded.key.filter_id), None)
    context = _FeeContext(
        subscription=None,
        lago_subscription_id=folded.subscription.lago_id,
        lago_customer_id=folded.subscription.lago_customer_id,
        external_subscription_id=folded.subscription.external_id,
        external_customer_id=customer.external_id if customer else "",
        customer=customer,
        plan=plan,
        metric=metric,
        charge=charge,
        charge_filter=charge_filter,
        grouped_by=grouped_by(charge, folded.key.group or "-"),
        period_from=folded.period_from,
        period_to=folded.period_to,
    )
    priced = price_in_advance_event(
        charge.charge_model,
        charge.pricing(charge_filter),
        folded.before,
        folded.after,
        plan.amount_currency,
        prorated=charge.prorated,
    )
    body = render_charge_fee(
        organization_id,
        context,
        priced,
        lago_id=fee_id,
        transaction_id=folded.event.transaction_id,
        created_at=entities.now_iso()[:19] + "Z",
        units_total=priced.total_aggregated_units or Decimal(0),
    )
    return charge.invoiceable, body


def _bill_fees(
    organization_id: str, invoiced: Sequence[tuple[str, dict[str, Any], InAdvanceFold, Customer]]
) -> None:
    """Each invoiceable fee with its instant invoice (`lagoon.services.invoicing.in_advance_invoices`), one
    transaction per fee: the customer's invoice number is taken in it."""
    organization = organizations.get_organization(organization_id)
    moment = datetime.now(UTC).replace(microsecond=0)
    for fee_id, body, folded, customer in invoiced:
        in_advance_invoices.bill_fee(
            organization,
            customer,
            body,
            functools.partial(_fee_message, organization_id, fee_id),
            period_from=folded.period_from,
            period_to=folded.period_to,
            event_at=microseconds_to_datetime(folded.event.timestamp_us),
            moment=moment,
        )


def _fee_message(organization_id: str, fee_id: str, body: dict[str, Any]) -> entities.OutboxMessage:
    return entities.OutboxMessage(
        organization_id,
        "fee.created",
        "fee",
        body,
        message_id=str(uuid.uuid5(_FEE_NAMESPACE, f"fee.created#{fee_id}")),
    )


def _write_fees(organization_id: str, fees: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Put absent fees with their webhooks, 50 per transaction; a chunk that meets an existing fee (a
    concurrent replay) is retried fee by fee, skipping the ones already there."""
    for start in range(0, len(fees), 50):
        chunk = fees[start : start + 50]
        writes = entities.Writes()
        for fee_id, body in chunk:
            writes.put(organization_id, FEE_KIND, fee_id, body, must_not_exist=True)
            writes.message(_fee_message(organization_id, fee_id, body))
        try:
            writes.commit()
        except errors.ConflictRetry:
            for fee_id, body in chunk:
                single = entities.Writes().put(organization_id, FEE_KIND, fee_id, body, must_not_exist=True)
                single.message(_fee_message(organization_id, fee_id, body))
                try:
                    single.commit()
                except errors.ConflictRetry:
                    continue


# --- estimate_fees --------------------------------------------------------------------------------------


_NUMERIC_AGGREGATIONS = frozenset({"sum_agg", "max_agg", "latest_agg"})
"""The aggregations whose `field_name` value Lago's estimate checks is a number (ValidateCreationService)."""


def _estimated_targets(
    organization_id: str, event: EstimateEventInput
) -> tuple[Subscription, BillableMetric]:
    """The subscription and metric of an estimated event, checked in Lago's order: a blank or unknown
    subscription 404, a blank or unknown code 404, an aggregated value that is not a number 422."""
    subscription = None
    if event.external_subscription_id:
        subscription = find_subscription(organization_id, event.external_subscription_id)
    if subscription is None:
        raise errors.NotFound("subscription")
    metric = billable_metrics.find_billable_metric(organization_id, event.code) if event.code else None
    if metric is None:
        raise errors.NotFound("billable_metric")
    value = (event.properties or {}).get(metric.field_name or "")
    if (
        metric.aggregation_type in _NUMERIC_AGGREGATIONS
        and value is not None
        and numeric_property(value) is None
    ):
        raise errors.ValidationFailed({"properties": ["value_is_not_valid_number"]})
    return subscription, metric


def _event_moment(event: EstimateEventInput) -> datetime:
    """The event's timestamp (seconds, kept to the microsecond as `POST /events` keeps it), else now."""
    if event.timestamp is None:
        return datetime.now(UTC)
    return microseconds_to_datetime(int(event.timestamp * 1_000_000))


def estimate_fees(organization_id: str, event: EstimateEventInput) -> list[dict[str, Any]]:
    """`POST /events/estimate_fees`: the fees one event would create on the subscription's pay-in-advance
    charges of its metric, from the current aggregates (nothing is stored): `FeeObject`s without lago_id. Lago's
    errors: blank or unknown subscription 404, blank or unknown metric 404, an aggregated value that is not a
    number 422 `value_is_not_valid_number`, no pay-in-advance charge 422 `does_not_match_an_instant_charge`."""
    subscription, metric = _estimated_targets(organization_id, event)
    properties = event.properties or {}
    plan = plans.get_plan_by_id(organization_id, subscription.plan_id, include_deleted=True)
    charges = [c for c in plan.charges if c.pay_in_advance and c.billable_metric_id == metric.lago_id]
    if not charges:
        raise errors.ValidationFailed({"code": ["does_not_match_an_instant_charge"]})
    customer = customers.get_customer_by_id(organization_id, subscription.lago_customer_id)
    timezone = read_billing_timezone(customer)
    moment = _event_moment(event)
    period = current_period(subscription, plan, timezone, moment)
    terms = terms_of(subscription, plan, timezone)
    days = None if terms is None else charges_period_days(terms, period.charges_from_datetime)
    start, end = period.charges_from_datetime, period.charges_to_datetime
    metrics = {metric.lago_id: metric}
    states = period_states(
        organization_id, subscription, plan, metrics, start, with_carry=carries_over(metric)
    )
    views = plan_view(plan, {metric.lago_id: metric}).charges_by_code.get(metric.code, ())
    transaction_id = event.transaction_id or str(uuid.uuid4())
    usage_event = UsageEvent(transaction_id=transaction_id, timestamp=moment, properties=properties)
    fees = []
    for charge in charges:
        view = next(v for v in views if v.charge_id == charge.lago_id)
        group = "-"
        if view.group_keys:
            group = json.dumps(group_key(properties, view.group_keys), separators=(",", ":"))
        for filter_id in view.filter_ids(properties):
            state = states.get((charge.lago_id, filter_id, group)) or new_state(
                view.metric,
                timezone=timezone,
                keep=view.keep(filter_id),
            )
            before, after = fold_in_advance(
                AggregationState.from_dict(state.to_dict()),
                usage_event,
                start,
                end,
                metric=view.metric,
                period_days=days,
            )
            charge_filter = next((f for f in charge.filters if f.lago_id == filter_id), None)
            priced = price_in_advance_event(
                charge.charge_model,
                charge.pricing(charge_filter),
                before,
                after,
                plan.amount_currency,
                prorated=charge.prorated,
            )
            context = _FeeContext(
                subscription=subscription,
                lago_subscription_id=subscription.lago_id,
                lago_customer_id=subscription.lago_customer_id,
                external_subscription_id=subscription.external_id,
                external_customer_id=subscription.external_customer_id,
                customer=customer,
                plan=plan,
                metric=metric,
                charge=charge,
                charge_filter=charge_filter,
                grouped_by=grouped_by(charge, group),
                period_from=start,
                period_to=end,
            )
            fee = render_charge_fee(
                organization_id,
                context,
                priced,
                lago_id=None,
                transaction_id=transaction_id,
                created_at=None,
                units_total=priced.total_aggregated_units or Decimal(0),
            )
            fees.append(fee)
    return fees
