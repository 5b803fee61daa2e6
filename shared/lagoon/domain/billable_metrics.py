"""Billable metrics: the request bodies of `/billable_metrics` and the stored metric other modules read.

A metric says how the events carrying its `code` are aggregated into billable units (spec:
`BillableMetricObject`). Ingestion and usage read it through `lagoon.services.catalog.billable_metrics`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from lagoon.domain.bounds import CatalogCode, NonEmptyText
from lagoon.engine.numbers import MAX_INTEGER_DIGITS, MAX_SCALE
from lagoon.models import LagoonModel

AggregationType = Literal[
    "count_agg", "sum_agg", "max_agg", "unique_count_agg", "weighted_sum_agg", "latest_agg"
]
"""Same values as `lagoon.engine.properties.AGGREGATION_TYPES` (custom SQL `custom_agg` is deferred)."""
RoundingFunction = Literal["round", "ceil", "floor"]
WeightedInterval = Literal["seconds"]

AGGREGATIONS_WITHOUT_FIELD_NAME = frozenset({"count_agg"})
"""Lago: `field_name` is required for every aggregation except `count_agg` (model `should_have_field_name?`)."""
AGGREGATIONS_NEVER_RECURRING = frozenset({"count_agg", "max_agg", "latest_agg"})
"""Lago: `recurring` is refused for these (`not_compatible_with_aggregation_type`)."""
AGGREGATIONS_PAYABLE_IN_ADVANCE = frozenset({"count_agg", "sum_agg", "unique_count_agg"})
"""Lago `AGGREGATION_TYPES_PAYABLE_IN_ADVANCE`: only these metrics can back a pay-in-advance charge."""

RoundingPrecision = Annotated[int, Field(ge=-MAX_INTEGER_DIGITS, le=MAX_SCALE)]
"""Decimals the units are rounded to; beyond the engine's bounded numbers a rounding cannot be computed."""


class BillableMetricFilterInput(LagoonModel):
    """`BillableMetricFilterInput`: one dimension and the values it may take."""

    model_config = ConfigDict(extra="ignore")

    key: NonEmptyText
    values: list[str]


class BillableMetricCreateInput(LagoonModel):
    """`billable_metric` of `POST /billable_metrics` (name, code and aggregation_type are required)."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText
    code: CatalogCode
    aggregation_type: AggregationType
    description: str | None = None
    recurring: bool | None = None
    field_name: str | None = None
    weighted_interval: WeightedInterval | None = None
    rounding_function: RoundingFunction | None = None
    rounding_precision: RoundingPrecision | None = None
    expression: str | None = None
    filters: list[BillableMetricFilterInput] | None = None


class BillableMetricUpdateInput(LagoonModel):
    """`billable_metric` of `PUT /billable_metrics/{code}`: only the fields sent change."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText | None = None
    code: CatalogCode | None = None
    aggregation_type: AggregationType | None = None
    description: str | None = None
    recurring: bool | None = None
    field_name: str | None = None
    weighted_interval: WeightedInterval | None = None
    rounding_function: RoundingFunction | None = None
    rounding_precision: RoundingPrecision | None = None
    expression: str | None = None
    filters: list[BillableMetricFilterInput] | None = None


class BillableMetricFilter(LagoonModel):
    """A dimension of a metric: events carry `properties[key]`, one of `values`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    values: list[str]


class BillableMetric(LagoonModel):
    """A stored billable metric (kind `billable_metric`, key `lago_id`).

    `deleted_at` is set when the metric is deleted: its code is then free again, but charges and fees that
    referenced it keep resolving it by `lago_id` (`get_billable_metric_by_id(..., include_deleted=True)`).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    organization_id: str
    name: str
    code: str
    description: str | None = None
    aggregation_type: AggregationType
    recurring: bool = False
    field_name: str | None = None
    weighted_interval: WeightedInterval | None = None
    rounding_function: RoundingFunction | None = None
    rounding_precision: int | None = None
    filters: list[BillableMetricFilter] = Field(default_factory=list)
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""

    @property
    def payable_in_advance(self) -> bool:
        """Whether a pay-in-advance charge may use this metric (Lago `payable_in_advance?`)."""
        return self.aggregation_type in AGGREGATIONS_PAYABLE_IN_ADVANCE

    def filter_values(self, key: str) -> list[str] | None:
        """The values allowed for a filter key, or None when the metric has no such filter."""
        for metric_filter in self.filters:
            if metric_filter.key == key:
                return metric_filter.values
        return None
