"""What aggregation reads (lago-docs/13-billable-metrics.md, checklist §3): a billable metric's definition, a
usage event, and the number an event brings to the metric's aggregation.

An event whose aggregated property is missing or not a number is ignored by the value aggregations (see
`lagoon.engine.folding`); `aggregation_property_error` names why, as an `events.errors` category
("Missing aggregation property", lago-docs/02-changelog.md and DECISIONS.md "Events").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lagoon.engine.numbers import event_number
from lagoon.engine.properties import AGGREGATION_TYPES, ROUNDING_FUNCTIONS


@dataclass(frozen=True, slots=True)
class MetricFilter:
    """A billable metric filter: an event property `key` and the values it may take."""

    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """What the engine needs of a billable metric (spec: `BillableMetricObject`)."""

    code: str
    aggregation_type: str
    field_name: str | None = None
    recurring: bool = False
    weighted_interval: str | None = None
    rounding_function: str | None = None
    rounding_precision: int | None = None
    filters: tuple[MetricFilter, ...] = ()

    def __post_init__(self) -> None:
        if self.aggregation_type not in AGGREGATION_TYPES:
            raise ValueError(f"unsupported aggregation_type {self.aggregation_type!r}")
        if self.aggregation_type != "count_agg" and not self.field_name:
            raise ValueError(f"{self.aggregation_type} needs a field_name")
        if self.rounding_function is not None and self.rounding_function not in ROUNDING_FUNCTIONS:
            raise ValueError(f"unsupported rounding_function {self.rounding_function!r}")


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One event as the aggregator sees it; `timestamp` is an aware datetime."""

    transaction_id: str
    timestamp: datetime
    properties: Mapping[str, Any]
    precise_total_amount_cents: Decimal | None = None


def numeric_property(value: object) -> Decimal | None:
    """The Decimal of an event property, or None when it is missing, not a number or out of bounds.

    Numbers or numeric strings count ("12", 12, 12.5); strings as Lago tests them (ASCII digits, optional
    minus and decimals), bounded (`lagoon.engine.numbers`).
    """
    return event_number(value)


def aggregation_property_error(metric: MetricDefinition, event: UsageEvent) -> str | None:
    """Why `event` cannot be aggregated for `metric`, as an `events.errors` category, or None when it can.

    `missing_aggregation_property` when the `field_name` property is absent or null,
    `invalid_aggregation_property` when a numeric aggregation gets a value that is not a number.
    """
    if metric.aggregation_type == "count_agg":
        return None
    value = event.properties.get(metric.field_name or "")
    if value is None:
        return "missing_aggregation_property"
    if metric.aggregation_type == "unique_count_agg":
        return None
    if numeric_property(value) is None:
        return "invalid_aggregation_property"
    return None
