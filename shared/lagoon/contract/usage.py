"""Lago's usage bodies: `CustomerUsageObject` (current and past usage) and `LifetimeUsageObject`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from lagoon.data.usage_keys import period_key
from lagoon.domain.plans import Charge
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.usage import ChargeUsageResult, SubscriptionUsage
from lagoon.engine.numbers import decimal_text


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


def render_lifetime_usage(
    lago_id: str,
    subscription: Subscription,
    *,
    historical_amount_cents: int,
    invoiced_amount_cents: int,
    current: SubscriptionUsage,
) -> dict[str, Any]:
    """Lago's `LifetimeUsageObject`: what the client declared, what invoicing has billed, the current period
    (progressive billing is deferred: no thresholds)."""
    return {
        "lago_id": lago_id,
        "lago_subscription_id": subscription.lago_id,
        "external_subscription_id": subscription.external_id,
        "external_historical_usage_amount_cents": historical_amount_cents,
        "invoiced_usage_amount_cents": invoiced_amount_cents,
        "current_usage_amount_cents": current.amount_cents,
        "from_datetime": subscription.started_at,
        "to_datetime": period_key(current.to_datetime - timedelta(seconds=1)),
        "usage_thresholds": [],
    }
