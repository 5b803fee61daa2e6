"""Usage: a subscription's charges priced over a period from the aggregator's running aggregates.

The aggregator (lagoon.ingestion.aggregator) keeps one running aggregate per (subscription, charges period,
charge, filter, group) in the subscription's partition of AggregatesTable. Pricing a period is therefore:
1. one Query on that partition — the period's items (`begins_with(sk, "<period from>#")`), or, when a charge
   is on a recurring or weighted metric whose units carry over, every item up to the period (one per past
   period and bucket);
2. `aggregation.finalize` + `charges.price_charge` per bucket, in memory.
Nothing here reads events: the cost is bounded by charges x filters x groups (x periods for carried units),
never by the number of events (docs/usage.md).

Service API used by invoicing:
- `charges_usage(organization_id, subscription, plan, period_from, period_to, *, timezone, ...)` →
  `list[ChargeUsageResult]`, one per (charge, filter, group) — each becomes one usage fee;
- `subscription_usage(organization_id, subscription, *, at=None, period=None, apply_taxes=True)` →
  `SubscriptionUsage` with the totals (taxes through `engine.invoice_math`).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.data.usage_keys import CLOSED_PREFIX, aggregate_pk
from lagoon.data.usage_store import UsageStore, aggregates_table, text
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.customers import Customer
from lagoon.domain.events import microseconds_to_datetime
from lagoon.domain.plans import Charge, ChargeFilter, Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.usage import ChargeUsageResult, EstimateEventInput, SubscriptionUsage
from lagoon.engine.aggregation import (
    AggregationState,
    MetricDefinition,
    UsageEvent,
    finalize,
    fold,
    group_key,
    merge,
    new_state,
    open_next_period,
)
from lagoon.engine.charges import ChargeResult, amount_details_json, price_charge, price_in_advance_event
from lagoon.engine.invoice_math import (
    AppliedTaxTotal,
    FeeInput,
    TaxRate,
    compute_invoice,
    resolve_fee_taxes,
)
from lagoon.engine.money import currency_exponent
from lagoon.engine.numbers import decimal_text
from lagoon.engine.periods import BillingPeriod, billing_period_containing, local_date
from lagoon.ingestion.aggregator import InAdvanceFold
from lagoon.ingestion.directory import DEFAULT_FILTER, metric_definition, plan_view
from lagoon.services import (
    billable_metrics,
    customers,
    in_advance_invoices,
    organizations,
    plans,
    subscriptions,
    taxes,
)
from lagoon.services.subscriptions import billing_timezone, terms_of

_ONE_MICROSECOND = timedelta(microseconds=1)


def period_key(moment: datetime) -> str:
    """How the aggregator names a charges period in its sort keys (its start, UTC, seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def carries_over(metric: BillableMetric) -> bool:
    """Whether a metric's units carry from one period to the next (recurring metrics, weighted sums)."""
    return metric.aggregation_type == "weighted_sum_agg" or metric.recurring


# --- reading the aggregates -----------------------------------------------------------------------------

Bucket = tuple[str, str, str]
"""(charge lago_id, filter id or `-`, group JSON or `-`) — as the aggregator keys its items."""


def _bucket_items(items: Iterable[Mapping[str, Any]]) -> dict[Bucket, list[tuple[str, AggregationState]]]:
    found: dict[Bucket, list[tuple[str, AggregationState]]] = defaultdict(list)
    for item in items:
        state = text(item, "st")
        charge_id, filter_id, group, period_from = (
            text(item, "ch"),
            text(item, "f"),
            text(item, "g"),
            text(item, "pf"),
        )
        if state is None or charge_id is None or period_from is None:
            continue  # a period-closed marker
        found[(charge_id, filter_id or DEFAULT_FILTER, group or "-")].append(
            (period_from, AggregationState.from_dict(json.loads(state)))
        )
    return found


def _state_for_period(periods: list[tuple[str, AggregationState]], current: str) -> AggregationState | None:
    """The bucket's state for the `current` period: its own events, opened with what earlier periods carry
    (`open_next_period` is the identity carry for non-recurring metrics: they start from zero)."""
    carried: AggregationState | None = None
    for period_from, state in sorted(periods, key=lambda entry: entry[0]):
        if period_from > current:
            break
        combined = state if carried is None else merge(carried, state)
        if period_from == current:
            return combined
        carried = open_next_period(combined)
    if carried is not None and carried.recurring:
        return carried
    return None


def read_period_states(
    organization_id: str,
    subscription_id: str,
    period_from: datetime,
    *,
    with_carry: bool,
    store: UsageStore | None = None,
) -> dict[Bucket, AggregationState]:
    """The subscription's aggregates of the charges period starting at `period_from`, by bucket.

    One Query: the period's items, or (`with_carry`) every earlier item as well so carried units are folded
    in. Never reads events."""
    store = store or UsageStore()
    current = period_key(period_from)
    pk = aggregate_pk(organization_id, subscription_id)
    if with_carry:
        items = store.query(aggregates_table(), pk, before=f"{current}#\uffff")
    else:
        items = store.query(aggregates_table(), pk, prefix=f"{current}#")
    states: dict[Bucket, AggregationState] = {}
    for bucket, periods in _bucket_items(items).items():
        state = _state_for_period(periods, current)
        if state is not None:
            states[bucket] = state
    return states


# --- pricing --------------------------------------------------------------------------------------------


def _grouped_by(charge: Charge, group: str) -> dict[str, str | None] | None:
    if group in ("-", ""):
        return None
    keys = charge.properties.get("pricing_group_keys") or charge.properties.get("grouped_by") or []
    values = json.loads(group)
    return {str(key): value for key, value in zip(keys, values, strict=False)}


def _price_bucket(
    charge: Charge,
    metric: BillableMetric,
    definition: MetricDefinition,
    charge_filter: ChargeFilter | None,
    group: str,
    state: AggregationState | None,
    period_from: datetime,
    period_to: datetime,
    currency: str,
    timezone: str,
) -> ChargeUsageResult:
    if state is None:
        state = new_state(definition, timezone=timezone)
    aggregation = finalize(state, period_from, period_to, metric=definition)
    priced = price_charge(
        charge.charge_model, charge.pricing(charge_filter), aggregation, currency, prorated=charge.prorated
    )
    return ChargeUsageResult(
        charge=charge,
        billable_metric=metric,
        charge_filter=charge_filter,
        grouped_by=_grouped_by(charge, group),
        units=priced.units,
        total_aggregated_units=aggregation.total_aggregated_units,
        prorated_units=aggregation.prorated_units,
        events_count=priced.events_count,
        amount_cents=priced.amount_cents,
        precise_amount=priced.amount,
        unit_amount=priced.unit_amount,
        amount_details=amount_details_json(priced.details),
    )


def price_states(
    plan: Plan,
    metrics: Mapping[str, BillableMetric],
    states: Mapping[Bucket, AggregationState],
    period_from: datetime,
    period_to: datetime,
    *,
    timezone: str = "UTC",
    charges: Sequence[Charge] | None = None,
) -> list[ChargeUsageResult]:
    """Price buckets' states (pure): every charge of the plan, each filter and the default price (even without
    events, at zero), each group seen. Charges on a deleted metric are skipped."""
    currency = plan.amount_currency
    results: list[ChargeUsageResult] = []
    by_charge: dict[tuple[str, str], list[tuple[str, AggregationState]]] = defaultdict(list)
    for (charge_id, filter_id, group), state in states.items():
        by_charge[(charge_id, filter_id)].append((group, state))
    for charge in plan.charges if charges is None else charges:
        metric = metrics.get(charge.billable_metric_id)
        if metric is None:
            continue
        definition = metric_definition(metric)
        buckets: list[tuple[ChargeFilter | None, str]] = [(f, f.lago_id) for f in charge.filters]
        buckets.append((None, DEFAULT_FILTER))
        for charge_filter, filter_id in buckets:
            groups = sorted(by_charge.get((charge.lago_id, filter_id), []), key=lambda entry: entry[0])
            if not groups:
                groups = [("-", new_state(definition, timezone=timezone))]
            for group, state in groups:
                results.append(
                    _price_bucket(
                        charge,
                        metric,
                        definition,
                        charge_filter,
                        group,
                        state,
                        period_from,
                        period_to,
                        currency,
                        timezone,
                    )
                )
    return results


def plan_metrics(organization_id: str, plan: Plan) -> dict[str, BillableMetric]:
    """The metrics of a plan's charges by lago_id (one BatchGet; deleted metrics absent)."""
    ids = list(dict.fromkeys(charge.billable_metric_id for charge in plan.charges))
    return billable_metrics.get_billable_metrics_by_ids(organization_id, ids) if ids else {}


def charges_usage(
    organization_id: str,
    subscription: Subscription,
    plan: Plan,
    period_from: datetime,
    period_to: datetime,
    *,
    timezone: str = "UTC",
    metrics: Mapping[str, BillableMetric] | None = None,
    charges: Sequence[Charge] | None = None,
    store: UsageStore | None = None,
) -> list[ChargeUsageResult]:
    """Price a subscription's charges over the charges period [period_from, period_to).

    `period_from` must be a charges period start as the aggregator keys it (`BillingPeriod.
    charges_from_datetime`); `timezone` is the billing timezone (recurring proration by local days).
    One result per (charge, filter or default price, group), including zero-unit buckets of every charge
    and filter; pass `charges` to price a subset (e.g. only the in-arrears charges). Reads: one Query on the
    subscription's aggregate partition (+ one BatchGet of the metrics unless `metrics` is given).
    """
    metrics = plan_metrics(organization_id, plan) if metrics is None else metrics
    priced = plan.charges if charges is None else charges
    with_carry = any(
        carries_over(metrics[c.billable_metric_id]) for c in priced if c.billable_metric_id in metrics
    )
    states = read_period_states(
        organization_id, subscription.lago_id, period_from, with_carry=with_carry, store=store
    )
    return price_states(plan, metrics, states, period_from, period_to, timezone=timezone, charges=priced)


# --- totals ---------------------------------------------------------------------------------------------


def _tax_rates(taxes: Iterable[Any]) -> tuple[TaxRate, ...]:
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
        return amount, 0, amount
    organization = organizations.get_organization(organization_id)
    codes = {
        *organization.tax_codes,
        *customer.tax_codes,
        *plan.tax_codes,
        *(code for r in results for code in r.charge.tax_codes),
    }
    by_code = {tax.code: tax for tax in taxes.get_taxes(organization_id, sorted(codes))} if codes else {}

    def rates(names: Iterable[str]) -> tuple[TaxRate, ...]:
        return _tax_rates(by_code[name] for name in names if name in by_code)

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


# --- a subscription's period ----------------------------------------------------------------------------


def current_period(subscription: Subscription, plan: Plan, timezone: str, at: datetime) -> BillingPeriod:
    """The billing period containing `at` (the last one of a terminated subscription)."""
    terms = terms_of(subscription, plan, timezone)
    if terms is None:
        raise errors.NotFound("subscription")
    if terms.terminated_at is not None and at >= terms.terminated_at:
        at = terms.terminated_at - _ONE_MICROSECOND
    if at < terms.started_at:
        at = terms.started_at
    return billing_period_containing(terms, at)


def subscription_usage(
    organization_id: str,
    subscription: Subscription,
    *,
    at: datetime | None = None,
    period: BillingPeriod | None = None,
    apply_taxes: bool = True,
    customer: Customer | None = None,
    plan: Plan | None = None,
    store: UsageStore | None = None,
) -> SubscriptionUsage:
    """A subscription's priced usage over the charges period containing `at` (default: now), or `period`."""
    customer = customer or customers.get_customer_by_id(organization_id, subscription.lago_customer_id)
    plan = plan or plans.get_plan_by_id(organization_id, subscription.plan_id, include_deleted=True)
    timezone = billing_timezone(customer)
    if period is None:
        period = current_period(subscription, plan, timezone, at or datetime.now(UTC))
    results = charges_usage(
        organization_id,
        subscription,
        plan,
        period.charges_from_datetime,
        period.charges_to_datetime,
        timezone=timezone,
        store=store,
    )
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


# --- rendering (CustomerUsageObject) --------------------------------------------------------------------


def _sums(results: Sequence[ChargeUsageResult]) -> dict[str, Any]:
    return {
        "units": decimal_text(sum((r.units for r in results), Decimal(0))),
        "total_aggregated_units": decimal_text(sum((r.total_aggregated_units for r in results), Decimal(0))),
        "events_count": sum(r.events_count for r in results),
        "amount_cents": sum(r.amount_cents for r in results),
        "pricing_unit_details": None,
    }


def _filters_usage(charge: Charge, results: Sequence[ChargeUsageResult]) -> list[dict[str, Any]]:
    """Per charge filter (and the default price, `values: {}`), summed over groups."""
    if not charge.filters:
        return []
    by_filter: dict[str | None, list[ChargeUsageResult]] = defaultdict(list)
    for result in results:
        by_filter[result.charge_filter_id].append(result)
    rendered = []
    for charge_filter in [*charge.filters, None]:
        entry: dict[str, Any] = {
            **_sums(by_filter.get(None if charge_filter is None else charge_filter.lago_id, [])),
            "values": {} if charge_filter is None else charge_filter.values,
        }
        name = charge.invoice_display_name if charge_filter is None else charge_filter.invoice_display_name
        if name:
            entry["invoice_display_name"] = name
        rendered.append(entry)
    return rendered


def _grouped_usage(charge: Charge, results: Sequence[ChargeUsageResult]) -> list[dict[str, Any]]:
    groups: dict[str, list[ChargeUsageResult]] = defaultdict(list)
    labels: dict[str, dict[str, str | None]] = {}
    for result in results:
        if result.grouped_by is None:
            continue
        key = json.dumps(result.grouped_by, sort_keys=True)
        groups[key].append(result)
        labels[key] = result.grouped_by
    return [
        {**_sums(members), "grouped_by": labels[key], "filters": _filters_usage(charge, members)}
        for key, members in sorted(groups.items())
    ]


def render_charges_usage(results: Sequence[ChargeUsageResult], currency: str) -> list[dict[str, Any]]:
    """`charges_usage[]`: one entry per charge, its buckets summed, with `filters[]` and `grouped_usage[]`."""
    by_charge: dict[str, list[ChargeUsageResult]] = {}
    for result in results:
        by_charge.setdefault(result.charge.lago_id, []).append(result)
    rendered = []
    for members in by_charge.values():
        charge, metric = members[0].charge, members[0].billable_metric
        rendered.append(
            {
                **_sums(members),
                "amount_currency": currency,
                "charge": {
                    "lago_id": charge.lago_id,
                    "charge_model": charge.charge_model,
                    "invoice_display_name": charge.invoice_display_name,
                },
                "billable_metric": {
                    "lago_id": metric.lago_id,
                    "name": metric.name,
                    "code": metric.code,
                    "aggregation_type": metric.aggregation_type,
                },
                "filters": _filters_usage(charge, members),
                "grouped_usage": _grouped_usage(charge, members),
            }
        )
    return rendered


def render_customer_usage(usage: SubscriptionUsage) -> dict[str, Any]:
    """Lago's `CustomerUsageObject`."""
    return {
        "from_datetime": period_key(usage.from_datetime),
        "to_datetime": period_key(usage.to_datetime - timedelta(seconds=1)),
        "issuing_date": usage.issuing_date.isoformat(),
        "lago_invoice_id": None,
        "currency": usage.currency,
        "amount_cents": usage.amount_cents,
        "taxes_amount_cents": usage.taxes_amount_cents,
        "total_amount_cents": usage.total_amount_cents,
        "charges_usage": render_charges_usage(usage.charges, usage.currency),
    }


# --- endpoints ------------------------------------------------------------------------------------------


def _customer_subscription(
    organization_id: str, external_customer_id: str, external_subscription_id: str
) -> tuple[Customer, Subscription]:
    customer = customers.get_customer(organization_id, external_customer_id)
    subscription = subscriptions.find_subscription(organization_id, external_subscription_id)
    if subscription is None or subscription.lago_customer_id != customer.lago_id:
        raise errors.NotFound("subscription")
    return customer, subscription


def current_usage(
    organization_id: str,
    external_customer_id: str,
    external_subscription_id: str,
    *,
    apply_taxes: bool = True,
    at: datetime | None = None,
) -> SubscriptionUsage:
    """`GET /customers/{id}/current_usage`: the active subscription's usage in its current period."""
    customer, subscription = _customer_subscription(
        organization_id, external_customer_id, external_subscription_id
    )
    return subscription_usage(
        organization_id, subscription, at=at, apply_taxes=apply_taxes, customer=customer
    )


def closed_periods(organization_id: str, subscription_id: str, store: UsageStore | None = None) -> list[str]:
    """Starts of the subscription's charges periods invoicing has closed, newest first (one Query)."""
    store = store or UsageStore()
    items = store.query(
        aggregates_table(),
        aggregate_pk(organization_id, subscription_id),
        prefix=CLOSED_PREFIX,
        descending=True,
        projection=("sk",),
    )
    return [item["sk"]["S"][len(CLOSED_PREFIX) :] for item in items]


def past_usage(
    organization_id: str,
    external_customer_id: str,
    external_subscription_id: str,
    *,
    billable_metric_code: str | None = None,
    periods_count: int | None = None,
) -> list[SubscriptionUsage]:
    """`GET /customers/{id}/past_usage`: the closed periods of the subscription, newest first, priced from
    their aggregates (one Query for the closed markers, one for the aggregates of the periods shown)."""
    customer = customers.get_customer(organization_id, external_customer_id)
    found = [
        s
        for s in subscriptions.subscriptions_of(organization_id, external_subscription_id)
        if s.lago_customer_id == customer.lago_id and s.started_at is not None
    ]
    if not found:
        raise errors.NotFound("subscription")
    subscription = found[-1]
    plan = plans.get_plan_by_id(organization_id, subscription.plan_id, include_deleted=True)
    charges: Sequence[Charge] | None = None
    if billable_metric_code is not None:
        metric = billable_metrics.find_billable_metric(organization_id, billable_metric_code)
        if metric is None:
            raise errors.NotFound("billable_metric")
        charges = [c for c in plan.charges if c.billable_metric_id == metric.lago_id]
    timezone = billing_timezone(customer)
    return _closed_usages(organization_id, customer, subscription, plan, timezone, charges, periods_count)


def _closed_usages(
    organization_id: str,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    timezone: str,
    charges: Sequence[Charge] | None,
    periods_count: int | None,
) -> list[SubscriptionUsage]:
    terms = terms_of(subscription, plan, timezone)
    starts = closed_periods(organization_id, subscription.lago_id)
    if periods_count is not None:
        starts = starts[:periods_count]
    if terms is None or not starts:
        return []
    metrics = plan_metrics(organization_id, plan)
    items = UsageStore().query(
        aggregates_table(), aggregate_pk(organization_id, subscription.lago_id), before=f"{starts[0]}#\uffff"
    )
    buckets = _bucket_items(items)
    usages = []
    for start in starts:
        period = billing_period_containing(terms, datetime.fromisoformat(start.replace("Z", "+00:00")))
        states = {
            bucket: s for bucket, periods in buckets.items() if (s := _state_for_period(periods, start))
        }
        results = price_states(
            plan,
            metrics,
            states,
            period.charges_from_datetime,
            period.charges_to_datetime,
            timezone=timezone,
            charges=charges,
        )
        amount, taxes_amount, total = usage_totals(organization_id, customer, plan, results)
        usages.append(
            SubscriptionUsage(
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
        )
    return usages


# --- pay-in-advance fees --------------------------------------------------------------------------------

FEE_KIND = "fee"
"""Entity kind of fees (key: lago_id); the body is Lago's `FeeObject`."""
LIFETIME_USAGE_KIND = "lifetime_usage"
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
        return _tax_rates(by_code[name] for name in names if name in by_code)

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
    precise_amount = priced.amount
    taxes_precise_amount = taxes_precise / Decimal(10 ** currency_exponent(currency))
    charge_filter = context.charge_filter
    return {
        "lago_id": lago_id,
        "lago_charge_id": context.charge.lago_id,
        "lago_charge_filter_id": None if charge_filter is None else charge_filter.lago_id,
        "lago_fixed_charge_id": None,
        "lago_invoice_id": None,
        "lago_true_up_fee_id": None,
        "lago_true_up_parent_fee_id": None,
        "lago_subscription_id": context.lago_subscription_id,
        "lago_customer_id": context.lago_customer_id,
        "external_subscription_id": context.external_subscription_id,
        "external_customer_id": context.external_customer_id,
        "amount_cents": priced.amount_cents,
        "amount_currency": currency,
        "precise_amount": decimal_text(precise_amount),
        "precise_total_amount": decimal_text(precise_amount + taxes_precise_amount),
        "taxes_amount_cents": taxes_cents,
        "taxes_precise_amount": decimal_text(taxes_precise_amount),
        "taxes_rate": float(taxes_rate),
        "total_amount_cents": priced.amount_cents + taxes_cents,
        "total_amount_currency": currency,
        "sub_total_excluding_taxes_amount_cents": priced.amount_cents,
        "sub_total_excluding_taxes_precise_amount_cents": decimal_text(
            precise_amount * Decimal(10 ** currency_exponent(currency))
        ),
        "precise_coupons_amount_cents": "0",
        "units": decimal_text(priced.units),
        "total_aggregated_units": decimal_text(units_total),
        "precise_unit_amount": decimal_text(priced.unit_amount),
        "events_count": priced.events_count,
        "pay_in_advance": True,
        "invoiceable": context.charge.invoiceable,
        "self_billed": False,
        "from_date": period_key(context.period_from),
        "to_date": period_key(context.period_to - timedelta(seconds=1)),
        "payment_status": "pending",
        "created_at": created_at,
        "succeeded_at": None,
        "failed_at": None,
        "refunded_at": None,
        "event_transaction_id": transaction_id,
        "amount_details": amount_details_json(priced.details),
        "item": {
            "type": "charge",
            "code": context.metric.code,
            "name": context.metric.name,
            "invoice_display_name": context.charge.invoice_display_name or context.metric.name,
            "filter_invoice_display_name": None
            if charge_filter is None
            else charge_filter.invoice_display_name,
            "filters": None if charge_filter is None else charge_filter.values,
            "grouped_by": context.grouped_by or {},
            "lago_item_id": context.metric.lago_id,
            "item_type": "BillableMetric",
        },
        "applied_taxes": [
            {
                "lago_id": str(uuid.uuid5(_FEE_NAMESPACE, f"{lago_id}#{tax.tax_code}")),
                "lago_fee_id": lago_id,
                "lago_tax_id": None,
                "tax_name": tax.tax_name,
                "tax_code": tax.tax_code,
                "tax_rate": float(tax.tax_rate),
                "tax_description": None,
                "amount_cents": tax.amount_cents,
                "amount_currency": currency,
                "created_at": created_at,
            }
            for tax in applied
            if lago_id is not None
        ],
    }


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
        plan_ids = {f.subscription.plan.plan_id for f in org_folds}
        plan_by_id = {
            pid: plans.get_plan_by_id(organization_id, pid, include_deleted=True) for pid in plan_ids
        }
        metric_ids = [c.billable_metric_id for p in plan_by_id.values() for c in p.charges]
        metrics = billable_metrics.get_billable_metrics_by_ids(
            organization_id, list(dict.fromkeys(metric_ids))
        )
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
            plan = plan_by_id[folded.subscription.plan.plan_id]
            charge = next((c for c in plan.charges if c.lago_id == folded.key.charge_id), None)
            metric = None if charge is None else metrics.get(charge.billable_metric_id)
            if charge is None or metric is None:
                continue
            charge_filter = next((f for f in charge.filters if f.lago_id == folded.key.filter_id), None)
            customer = customer_by_id.get(folded.subscription.lago_customer_id)
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
                grouped_by=_grouped_by(charge, folded.key.group or "-"),
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
                units_total=folded.after.total_aggregated_units - folded.before.total_aggregated_units,
            )
            if charge.invoiceable and customer is not None:
                invoiced.append((fee_id, body, folded, customer))
            else:
                pending.append((fee_id, body))
        _write_fees(organization_id, pending)
        if invoiced:
            _bill_fees(organization_id, invoiced)


def _bill_fees(
    organization_id: str, invoiced: Sequence[tuple[str, dict[str, Any], InAdvanceFold, Customer]]
) -> None:
    """Each invoiceable fee with its instant invoice (`lagoon.services.in_advance_invoices`), one
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


def _parse_timestamp(value: int | float | str | None) -> datetime:
    if value is None or value == "":
        return datetime.now(UTC)
    return datetime.fromtimestamp(float(Decimal(str(value))), UTC)


def estimate_fees(organization_id: str, event: EstimateEventInput) -> list[dict[str, Any]]:
    """`POST /events/estimate_fees`: the fees one event would create on the subscription's pay-in-advance
    charges of its metric, from the current aggregates (nothing is stored): `FeeObject`s without lago_id. Lago's errors: unknown
    subscription 404, unknown metric 404, no pay-in-advance charge 422 `does_not_match_an_instant_charge`."""
    subscription = subscriptions.find_subscription(organization_id, event.external_subscription_id)
    if subscription is None:
        raise errors.NotFound("subscription")
    metric = billable_metrics.find_billable_metric(organization_id, event.code)
    if metric is None:
        raise errors.NotFound("billable_metric")
    plan = plans.get_plan_by_id(organization_id, subscription.plan_id, include_deleted=True)
    charges = [c for c in plan.charges if c.pay_in_advance and c.billable_metric_id == metric.lago_id]
    if not charges:
        raise errors.ValidationFailed({"code": ["does_not_match_an_instant_charge"]})
    customer = customers.get_customer_by_id(organization_id, subscription.lago_customer_id)
    timezone = billing_timezone(customer)
    moment = _parse_timestamp(event.timestamp)
    period = current_period(subscription, plan, timezone, moment)
    states = read_period_states(
        organization_id, subscription.lago_id, period.charges_from_datetime, with_carry=carries_over(metric)
    )
    views = plan_view(plan, {metric.lago_id: metric}).charges_by_code.get(metric.code, ())
    transaction_id = event.transaction_id or str(uuid.uuid4())
    usage_event = UsageEvent(transaction_id=transaction_id, timestamp=moment, properties=event.properties)
    fees = []
    for charge in charges:
        view = next(v for v in views if v.charge_id == charge.lago_id)
        group = "-"
        if view.group_keys:
            group = json.dumps(group_key(event.properties, view.group_keys), separators=(",", ":"))
        for filter_id in view.filter_ids(event.properties):
            state = states.get((charge.lago_id, filter_id, group)) or new_state(
                view.metric, timezone=timezone, keep_event_values=view.keep_event_values
            )
            start, end = period.charges_from_datetime, period.charges_to_datetime
            before = finalize(state, start, end, metric=view.metric)
            after_state = AggregationState.from_dict(state.to_dict())
            fold(after_state, usage_event)
            after = finalize(after_state, start, end, metric=view.metric)
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
                grouped_by=_grouped_by(charge, group),
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
                units_total=after.total_aggregated_units - before.total_aggregated_units,
            )
            fees.append(fee)
    return fees


# --- lifetime usage -------------------------------------------------------------------------------------


def _lifetime_id(subscription_id: str) -> str:
    return str(uuid.uuid5(_FEE_NAMESPACE, f"lifetime_usage#{subscription_id}"))


def lifetime_usage(organization_id: str, external_id: str) -> dict[str, Any]:
    """`GET /subscriptions/{external_id}/lifetime_usage` (Lago's `LifetimeUsageObject`): the current
    period's usage, the usage of the periods invoicing has closed, and what the client declared."""
    subscription = subscriptions.get_subscription(organization_id, external_id)
    return _render_lifetime_usage(organization_id, subscription)


def set_historical_usage(organization_id: str, external_id: str, amount_cents: int) -> dict[str, Any]:
    """`PUT /subscriptions/{external_id}/lifetime_usage`: sets `external_historical_usage_amount_cents`."""
    subscription = subscriptions.get_subscription(organization_id, external_id)
    document = {
        "lago_id": _lifetime_id(subscription.lago_id),
        "lago_subscription_id": subscription.lago_id,
        "external_historical_usage_amount_cents": amount_cents,
        "updated_at": entities.now_iso(),
    }
    entities.Writes().put(organization_id, LIFETIME_USAGE_KIND, subscription.lago_id, document).commit()
    return _render_lifetime_usage(organization_id, subscription)


def _render_lifetime_usage(organization_id: str, subscription: Subscription) -> dict[str, Any]:
    stored = entities.get(organization_id, LIFETIME_USAGE_KIND, subscription.lago_id) or {}
    customer = customers.get_customer_by_id(organization_id, subscription.lago_customer_id)
    plan = plans.get_plan_by_id(organization_id, subscription.plan_id, include_deleted=True)
    current = subscription_usage(
        organization_id, subscription, apply_taxes=False, customer=customer, plan=plan
    )
    invoiced = sum(
        usage.amount_cents
        for usage in _closed_usages(
            organization_id, customer, subscription, plan, billing_timezone(customer), None, None
        )
    )
    return {
        "lago_id": _lifetime_id(subscription.lago_id),
        "lago_subscription_id": subscription.lago_id,
        "external_subscription_id": subscription.external_id,
        "external_historical_usage_amount_cents": int(
            stored.get("external_historical_usage_amount_cents", 0)
        ),
        "invoiced_usage_amount_cents": invoiced,
        "current_usage_amount_cents": current.amount_cents,
        "from_datetime": subscription.started_at,
        "to_datetime": period_key(current.to_datetime - timedelta(seconds=1)),
        "usage_thresholds": [],
    }
