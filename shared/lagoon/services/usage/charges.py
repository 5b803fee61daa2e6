"""A subscription's charges priced over a charges period from the aggregator's running aggregates.

The aggregator (lagoon.ingestion.aggregator) keeps one running aggregate per (subscription, charges period,
charge, filter, group) in the subscription's partition of AggregatesTable. Pricing a period is therefore:
1. one Query on that partition (lagoon.data.aggregates) — the period's items, or, when a charge is on a
   recurring or weighted metric whose units carry over, every item up to the period (one per past period and
   bucket) — and, for a subscription that replaced another after a plan change, what that one carried out
   (`inherited_states`: one Query of its partition per plan change);
2. `period_units.finalize` + `charges.price_charge` per bucket, in memory.
Nothing here reads events: the cost is bounded by charges x filters x groups (x periods for carried units),
never by the number of events (docs/usage.md).

Used by invoicing: `charges_usage(organization_id, subscription, plan, period_from, period_to, *, timezone,
...)` → `list[ChargeUsageResult]`, one per (charge, filter, group) — each becomes one usage fee.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from lagoon.data import catalog
from lagoon.data.aggregates import Bucket, read_bucket_periods
from lagoon.data.usage_keys import DEFAULT_FILTER, period_key
from lagoon.data.usage_store import UsageStore
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.plans import Charge, ChargeFilter, Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.usage import ChargeUsageResult
from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.carry import state_for_period
from lagoon.engine.charges import amount_details_json, price_charge
from lagoon.engine.metric_definitions import MetricDefinition
from lagoon.engine.period_units import finalize
from lagoon.ingestion.directory import metric_definition, plan_view
from lagoon.ingestion.inheritance import inherited_buckets


def carries_over(metric: BillableMetric) -> bool:
    """Whether a metric's units carry from one period to the next (recurring metrics, weighted sums)."""
    return metric.aggregation_type == "weighted_sum_agg" or metric.recurring


# --- reading the aggregates -----------------------------------------------------------------------------


def read_period_states(
    organization_id: str,
    subscription_id: str,
    period_from: datetime,
    *,
    with_carry: bool,
    store: UsageStore | None = None,
    inherited: Mapping[Bucket, AggregationState] | None = None,
) -> dict[Bucket, AggregationState]:
    """The subscription's aggregates of the charges period starting at `period_from`, by bucket.

    One Query: the period's items, or (`with_carry`) every earlier item as well so carried units are folded
    in, from what the subscription `inherited` from the ones it replaced (`inherited_states`). Never reads
    events."""
    current = period_key(period_from)
    buckets = read_bucket_periods(
        organization_id, subscription_id, current, with_earlier=with_carry, store=store
    )
    inherited = inherited or {}
    states: dict[Bucket, AggregationState] = {}
    for bucket in buckets.keys() | inherited.keys():
        state = state_for_period(buckets.get(bucket, ()), current, inherited.get(bucket))
        if state is not None:
            states[bucket] = state
    return states


def inherited_states(
    organization_id: str,
    subscription: Subscription,
    plan: Plan,
    metrics: Mapping[str, BillableMetric],
    *,
    store: UsageStore | None = None,
) -> dict[Bucket, AggregationState]:
    """What the subscription's buckets on recurring metrics start with from the subscriptions it replaced after
    plan changes (lago-api reads a recurring metric's events by external_id, across them): nothing to read
    for a first subscription (lagoon.ingestion.inheritance)."""
    if subscription.previous_subscription_id is None:
        return {}
    charges = plan_view(plan, metrics).recurring_buckets()
    previous_id = subscription.previous_subscription_id
    return inherited_buckets(organization_id, previous_id, charges, store=store or UsageStore())


def period_states(
    organization_id: str,
    subscription: Subscription,
    plan: Plan,
    metrics: Mapping[str, BillableMetric],
    period_from: datetime,
    *,
    with_carry: bool,
    store: UsageStore | None = None,
) -> dict[Bucket, AggregationState]:
    """`read_period_states` with, when units carry over (`with_carry`), what the subscription inherited."""
    inherited = (
        inherited_states(organization_id, subscription, plan, metrics, store=store) if with_carry else {}
    )
    return read_period_states(
        organization_id,
        subscription.lago_id,
        period_from,
        with_carry=with_carry,
        store=store,
        inherited=inherited,
    )


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
    period_days: int | None,
) -> ChargeUsageResult:
    if state is None:
        state = new_state(definition, timezone=timezone)
    aggregation = finalize(state, period_from, period_to, metric=definition, period_days=period_days)
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
    period_days: int | None = None,
) -> list[ChargeUsageResult]:
    """Price buckets' states (pure): every charge of the plan, each filter and the default price (even without
    events, at zero), each group seen. Charges on a deleted metric are skipped. `period_days`: the days of
    the whole charges interval, what prorated charges divide by (`engine.periods.charges_period_days`)."""
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
                        period_days,
                    )
                )
    return results


def plan_metrics(organization_id: str, plan: Plan) -> dict[str, BillableMetric]:
    """The metrics of a plan's charges by lago_id (one BatchGet; deleted metrics absent)."""
    ids = list(dict.fromkeys(charge.billable_metric_id for charge in plan.charges))
    return catalog.get_billable_metrics_by_ids(organization_id, ids) if ids else {}


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
    period_days: int | None = None,
) -> list[ChargeUsageResult]:
    """Price a subscription's charges over the charges period [period_from, period_to).

    `period_from` must be a charges period start as the aggregator keys it (`BillingPeriod.
    charges_from_datetime`); `timezone` is the billing timezone (recurring proration by local days);
    `period_days` the days of the whole charges interval (`engine.periods.charges_period_days`): prorated
    charges divide by them, also in a first or a terminated period (default: the period's own days).
    One result per (charge, filter or default price, group), including zero-unit buckets of every charge
    and filter; pass `charges` to price a subset (e.g. only the in-arrears charges). Reads: one Query on the
    subscription's aggregate partition (+ one BatchGet of the metrics unless `metrics` is given).
    """
    metrics = plan_metrics(organization_id, plan) if metrics is None else metrics
    priced = plan.charges if charges is None else charges
    with_carry = any(
        carries_over(metrics[c.billable_metric_id]) for c in priced if c.billable_metric_id in metrics
    )
    states = period_states(
        organization_id, subscription, plan, metrics, period_from, with_carry=with_carry, store=store
    )
    return price_states(
        plan,
        metrics,
        states,
        period_from,
        period_to,
        timezone=timezone,
        charges=priced,
        period_days=period_days,
    )
