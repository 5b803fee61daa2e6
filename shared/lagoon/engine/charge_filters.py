"""Which charge filters and pricing group an event is aggregated under (checklist §3.4), and the metric filter
values it carries that the metric does not declare. Event properties compare as Lago reads them: JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lagoon.engine.metric_definitions import MetricDefinition


@dataclass(frozen=True, slots=True)
class ChargeFilterDefinition:
    """A charge filter (spec: `ChargeFilterObject`): `values` maps a metric filter key to accepted values."""

    values: Mapping[str, Sequence[str]]
    properties: Any = None
    invoice_display_name: str | None = None


def filter_value(value: object) -> str:
    """An event property as filters and group keys compare it: Lago reads properties as JSON text, so
    booleans are "true" / "false" (not Python's "True")."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _matches(event_properties: Mapping[str, Any], values: Mapping[str, Sequence[str]]) -> bool:
    for key, accepted in values.items():
        value = event_properties.get(key)
        if value is None or filter_value(value) not in accepted:
            return False
    return True


def matching_charge_filters(
    event_properties: Mapping[str, Any], charge_filters: Sequence[ChargeFilterDefinition]
) -> tuple[int, ...]:
    """Indexes of the charge filters an event is aggregated under; empty: the charge's default properties.

    An event matches a filter when each of the filter's keys has one of its values. Among matches, a filter
    is left out when another matching filter is more specific (it constrains a strict superset of its keys),
    as Lago excludes the events of a filter's children; sibling filters on unrelated keys may therefore
    both count an event. Events matching no filter fall to the default price (checklist §3.4: "it applies to
    events that match no specific filter").
    """
    matched = [
        index
        for index, charge_filter in enumerate(charge_filters)
        if _matches(event_properties, charge_filter.values)
    ]
    if len(matched) <= 1:
        return tuple(matched)
    keys = {index: set(charge_filters[index].values) for index in matched}
    return tuple(
        index
        for index in matched
        if not any(keys[index] < keys[other] for other in matched if other != index)
    )


def invalid_filter_keys(metric: MetricDefinition, event_properties: Mapping[str, Any]) -> tuple[str, ...]:
    """Metric filter keys the event carries with a value the metric does not declare (an `events.errors`
    "invalid filter values" case, DECISIONS.md "Events")."""
    invalid = []
    for metric_filter in metric.filters:
        value = event_properties.get(metric_filter.key)
        if value is not None and filter_value(value) not in metric_filter.values:
            invalid.append(metric_filter.key)
    return tuple(invalid)


def group_key(event_properties: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, ...]:
    """The values of the charge's `pricing_group_keys` (or `grouped_by`) on an event; a missing key groups
    under None (Lago shows such usage without a group value)."""
    return tuple(
        None if event_properties.get(key) is None else filter_value(event_properties[key]) for key in keys
    )
