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

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.data.usage_keys import CLOSED_PREFIX, aggregate_pk
from lagoon.data.usage_store import UsageStore, aggregates_table, text
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.customers import Customer
from lagoon.domain.plans import Charge, ChargeFilter, Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.usage import ChargeUsageResult, SubscriptionUsage
from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.charges import amount_details_json, price_charge
from lagoon.engine.folding import merge
from lagoon.engine.invoice_math import (
    FeeInput,
    TaxRate,
    compute_invoice,
    resolve_fee_taxes,
)
from lagoon.engine.metric_definitions import MetricDefinition
from lagoon.engine.numbers import decimal_text
from lagoon.engine.period_units import finalize, open_next_period
from lagoon.engine.periods import BillingPeriod, billing_period_containing, local_date
from lagoon.ingestion.directory import DEFAULT_FILTER, metric_definition
from lagoon.services import customers, organizations, subscriptions
from lagoon.services.catalog import billable_metrics, plans, taxes
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


def grouped_by(charge: Charge, group: str) -> dict[str, str | None] | None:
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
        grouped_by=grouped_by(charge, group),
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


LIFETIME_USAGE_KIND = "lifetime_usage"
_LIFETIME_NAMESPACE = uuid.UUID(
    "5b0e3c1e-8a57-4f0c-9d61-2f4a7c3e9b12"
)  # the fees' namespace, kept for stable ids


# --- lifetime usage -------------------------------------------------------------------------------------


def _lifetime_id(subscription_id: str) -> str:
    return str(uuid.uuid5(_LIFETIME_NAMESPACE, f"lifetime_usage#{subscription_id}"))


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
