"""BillableMetricObject: a billable metric as the API and its webhooks render it."""

from __future__ import annotations

from typing import Any

from lagoon.data import catalog
from lagoon.domain.billable_metrics import BillableMetric


def render_billable_metric(metric: BillableMetric, *, plans_count: int | None = None) -> dict[str, Any]:
    """BillableMetricObject of the contract (plus Lago's counters); `plans_count` is read when not given."""
    if plans_count is None:
        plans_count = len(catalog.plans_using_metric(metric.organization_id, metric.lago_id))
    return {
        "lago_id": metric.lago_id,
        "name": metric.name,
        "code": metric.code,
        "description": metric.description,
        "aggregation_type": metric.aggregation_type,
        "weighted_interval": metric.weighted_interval,
        "recurring": metric.recurring,
        "rounding_function": metric.rounding_function,
        "rounding_precision": metric.rounding_precision,
        "created_at": metric.created_at,
        "field_name": metric.field_name,
        "filters": [{"key": f.key, "values": list(f.values)} for f in metric.filters],
        # Subscriptions and invoices are counted by later modules; Lago's own serializers often send 0 here.
        "active_subscriptions_count": 0,
        "draft_invoices_count": 0,
        "plans_count": plans_count,
    }
