"""Billable metrics: create, read, update, delete — with their webhook messages in the same write.

Other modules read metrics through `get_billable_metric` (by code, as events name them) and
`get_billable_metric_by_id` (as charges reference them).
"""

from __future__ import annotations

import uuid
from typing import Any

from lagoon import errors
from lagoon.contract.billable_metrics import render_billable_metric
from lagoon.data import catalog, entities
from lagoon.data.catalog import BILLABLE_METRIC
from lagoon.domain.billable_metrics import (
    AGGREGATIONS_NEVER_RECURRING,
    AGGREGATIONS_WITHOUT_FIELD_NAME,
    BillableMetric,
    BillableMetricCreateInput,
    BillableMetricFilter,
    BillableMetricFilterInput,
    BillableMetricUpdateInput,
)
from lagoon.domain.plans import ALL_FILTER_VALUES, ChargeFilter, Plan
from lagoon.services.contention import retried_on_conflict

_METRICS = catalog.METRICS
find_billable_metric = _METRICS.find
get_billable_metric = _METRICS.get
get_billable_metric_by_id = _METRICS.get_by_id


get_billable_metrics_by_ids = catalog.get_billable_metrics_by_ids
list_billable_metrics = _METRICS.live


def _reject_expression(expression: str | None) -> None:
    if expression:
        raise errors.UnprocessableError(
            "not_implemented",
            "custom expressions (billable_metric.expression) are not implemented in this version of Lagoon",
        )


def _filters(sent: list[BillableMetricFilterInput]) -> list[BillableMetricFilter]:
    """One filter per key (the last one sent wins), values deduplicated in the order sent."""
    by_key: dict[str, list[str]] = {}
    for item in sent:
        if not item.values:
            raise errors.ValidationFailed.field("values", "value_is_mandatory")
        by_key[item.key] = list(dict.fromkeys(item.values))
    return [BillableMetricFilter(key=key, values=values) for key, values in by_key.items()]


def _consistency_errors(metric: BillableMetric) -> dict[str, list[str]]:
    """Lago's model rules that span fields (`BillableMetric` validations), reported with the code's
    uniqueness (`catalog.raise_field_errors`)."""
    details: dict[str, list[str]] = {}
    if metric.aggregation_type not in AGGREGATIONS_WITHOUT_FIELD_NAME and not metric.field_name:
        details["field_name"] = ["value_is_mandatory"]
    if metric.recurring and metric.aggregation_type in AGGREGATIONS_NEVER_RECURRING:
        details["recurring"] = ["not_compatible_with_aggregation_type"]
    return details


@retried_on_conflict("billable metric")
def create_billable_metric(organization_id: str, data: BillableMetricCreateInput) -> BillableMetric:
    """`POST /billable_metrics`."""
    _reject_expression(data.expression)
    now = entities.now_iso()
    metric = BillableMetric(
        lago_id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=data.name,
        code=data.code,
        description=data.description,
        aggregation_type=data.aggregation_type,
        recurring=bool(data.recurring),
        field_name=data.field_name or None,
        # The spec: "When this field is not provided, the default time interval is assumed to be in seconds".
        weighted_interval=data.weighted_interval
        or ("seconds" if data.aggregation_type == "weighted_sum_agg" else None),
        rounding_function=data.rounding_function,
        rounding_precision=data.rounding_precision,
        filters=[],
        created_at=now,
        updated_at=now,
    )
    catalog.raise_field_errors(_consistency_errors(metric), organization_id, BILLABLE_METRIC, metric.code)
    # Lago creates the filters once the metric is valid (BillableMetricFilters::CreateOrUpdateBatchService).
    metric = metric.model_copy(update={"filters": _filters(data.filters or [])})
    writes = entities.Writes()
    catalog.put_new(writes, organization_id, BILLABLE_METRIC, metric)
    catalog.claim_code(writes, organization_id, BILLABLE_METRIC, metric.code, metric.lago_id)
    writes.message(_message("billable_metric.created", metric, plans_count=0))
    writes.commit()
    return metric


@retried_on_conflict("billable metric")
def update_billable_metric(
    organization_id: str, code: str, data: BillableMetricUpdateInput
) -> BillableMetric:
    """`PUT /billable_metrics/{code}`: the fields sent change.

    Lago (BillableMetrics::UpdateService): once a plan uses the metric, only name, description and filters
    change; the other fields sent are ignored. Filter values removed from the metric are removed from the
    charge filters of the plans that use it.
    """
    current = get_billable_metric(organization_id, code)
    sent = data.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if sent.get("name") is not None:
        changes["name"] = sent["name"]
    if "description" in sent:
        changes["description"] = sent["description"]
    if data.filters is not None:
        changes["filters"] = _filters(data.filters)
    using_plans = catalog.plans_using_metric(organization_id, current.lago_id)
    if not using_plans:
        _reject_expression(data.expression)
        for key in ("code", "aggregation_type", "recurring"):
            if sent.get(key) is not None:
                changes[key] = sent[key]
        for key in ("field_name", "weighted_interval", "rounding_function", "rounding_precision"):
            if key in sent:
                changes[key] = sent[key]
    metric = current.model_copy(update={**changes, "updated_at": entities.now_iso()})
    metric = BillableMetric.model_validate(metric.model_dump())
    if metric.aggregation_type == "weighted_sum_agg" and metric.weighted_interval is None:
        metric = metric.model_copy(update={"weighted_interval": "seconds"})
    catalog.raise_field_errors(
        _consistency_errors(metric), organization_id, BILLABLE_METRIC, metric.code, current.code
    )

    writes = entities.Writes()
    metric = catalog.put_changed(writes, organization_id, BILLABLE_METRIC, metric)
    catalog.change_code(writes, organization_id, BILLABLE_METRIC, current.code, metric.code, metric.lago_id)
    if "filters" in changes:
        _prune_charge_filters(writes, organization_id, metric, using_plans)
    writes.message(_message("billable_metric.updated", metric, plans_count=len(using_plans)))
    writes.commit()
    catalog.bump_version(organization_id)
    return metric


@retried_on_conflict("billable metric")
def delete_billable_metric(organization_id: str, code: str) -> BillableMetric:
    """`DELETE /billable_metrics/{code}`.

    Lago (BillableMetrics::DestroyService): the metric is discarded and every charge using it is deleted,
    so plans lose those charges; the code is free again.
    """
    metric = get_billable_metric(organization_id, code)
    using_plans = catalog.plans_using_metric(organization_id, metric.lago_id)
    now = entities.now_iso()
    deleted = metric.model_copy(update={"deleted_at": now, "updated_at": now})
    writes = entities.Writes()
    deleted = catalog.put_changed(writes, organization_id, BILLABLE_METRIC, deleted)
    catalog.release_code(writes, organization_id, BILLABLE_METRIC, metric.code)
    _remove_charges_of_metric(writes, organization_id, metric.lago_id, using_plans)
    writes.message(_message("billable_metric.deleted", deleted, plans_count=0))
    writes.commit()
    catalog.bump_version(organization_id)
    return deleted


# --- what a metric change does to the plans using it----------------------------------------------------------


def _remove_charges_of_metric(
    writes: entities.Writes, organization_id: str, billable_metric_id: str, plans: list[Plan]
) -> None:
    """A deleted metric takes its charges with it (Lago BillableMetrics::DestroyService)."""
    now = entities.now_iso()
    for plan in plans:
        kept = [c for c in plan.charges if c.billable_metric_id != billable_metric_id]
        updated = plan.model_copy(update={"charges": kept, "updated_at": now})
        catalog.put_changed(writes, organization_id, catalog.PLAN, updated)


def _prune_charge_filters(
    writes: entities.Writes, organization_id: str, metric: BillableMetric, plans: list[Plan]
) -> None:
    """Filter values a metric no longer has leave the charge filters; a filter left without a key goes."""
    now = entities.now_iso()
    for plan in plans:
        charges = []
        for charge in plan.charges:
            if charge.billable_metric_id != metric.lago_id:
                charges.append(charge)
                continue
            charges.append(charge.model_copy(update={"filters": _pruned(charge.filters, metric)}))
        if charges != plan.charges:
            updated = plan.model_copy(update={"charges": charges, "updated_at": now})
            catalog.put_changed(writes, organization_id, catalog.PLAN, updated)


def _pruned(filters: list[ChargeFilter], metric: BillableMetric) -> list[ChargeFilter]:
    kept: list[ChargeFilter] = []
    for charge_filter in filters:
        values: dict[str, list[str]] = {}
        for key, vals in charge_filter.values.items():
            allowed = metric.filter_values(key)
            if allowed is None:
                break
            remaining = vals if vals == [ALL_FILTER_VALUES] else [v for v in vals if v in allowed]
            if not remaining:
                break
            values[key] = remaining
        else:
            kept.append(charge_filter.model_copy(update={"values": values}))
    return kept


def _message(webhook_type: str, metric: BillableMetric, *, plans_count: int) -> entities.OutboxMessage:
    return entities.OutboxMessage(
        organization_id=metric.organization_id,
        webhook_type=webhook_type,
        object_type="billable_metric",
        payload=render_billable_metric(metric, plans_count=plans_count),
    )
