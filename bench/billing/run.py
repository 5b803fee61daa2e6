"""Billing benchmark: one hourly run for 1,000 subscriptions x 5 charges, in-process on moto.

Run from the repository root: `python -m bench.billing.run`. Goal (issue 8): <= 60 s, and the same time when
each subscription has 10x more events — the run reads one aggregate per charge, never the events. The
aggregates are written as the aggregator writes them (engine states folded from the events), so the setup
does not depend on the stream.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "1000"))
CHARGES = 5
GOAL_SECONDS = 60.0
START = datetime(2024, 1, 1, tzinfo=UTC)
RUN_AT = "2024-02-01T00:00:00Z"

for key, value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_NAMESPACE": "Lagoon",
}.items():
    os.environ.setdefault(key, value)


def _setup(events_per_charge: int) -> str:
    """An organization with a 5-charge plan and SUBSCRIPTIONS subscriptions, their January aggregates."""
    from lagoon.data.usage_store import UsageStore, aggregates_table
    from lagoon.domain.billable_metrics import BillableMetricCreateInput
    from lagoon.domain.customers import CustomerInput
    from lagoon.domain.plans import PlanCreateInput
    from lagoon.domain.subscriptions import SubscriptionInput
    from lagoon.engine.aggregation import UsageEvent, fold, new_state
    from lagoon.ingestion.aggregator import aggregate_pk
    from lagoon.ingestion.directory import metric_definition
    from lagoon.services import billable_metrics, customers, organizations, plans, subscriptions

    organization, _ = organizations.create_organization("Bench")
    org = organization.lago_id
    metrics = [
        billable_metrics.create_billable_metric(
            org,
            BillableMetricCreateInput(
                name=f"m{i}", code=f"m{i}", aggregation_type="sum_agg", field_name="value"
            ),
        )
        for i in range(CHARGES)
    ]
    charges = [
        {"billable_metric_id": m.lago_id, "charge_model": "standard", "properties": {"amount": "0.01"}}
        for m in metrics
    ]
    plan_input = {
        "name": "Bench",
        "code": "bench",
        "interval": "monthly",
        "amount_cents": 1000,
        "amount_currency": "USD",
        "pay_in_advance": False,
        "charges": charges,
    }
    plan = plans.create_plan(org, PlanCreateInput.model_validate(plan_input))
    items: list[tuple[str, dict[str, Any]]] = []
    table = aggregates_table()
    for n in range(SUBSCRIPTIONS):
        customers.upsert_customer(org, CustomerInput(external_id=f"cus_{n}"))
        subscription = subscriptions.create_subscription(
            org,
            SubscriptionInput(external_customer_id=f"cus_{n}", plan_code="bench", external_id=f"sub_{n}"),
            now=START,
        )
        for charge, metric in zip(plan.charges, metrics, strict=True):
            state = new_state(metric_definition(metric))
            for e in range(events_per_charge):
                fold(state, UsageEvent(f"{n}-{e}", START + timedelta(minutes=e), {"value": "1"}))
            items.append(
                (
                    table,
                    {
                        "pk": {"S": aggregate_pk(org, subscription.lago_id)},
                        "sk": {"S": f"2024-01-01T00:00:00Z#{charge.lago_id}#-#"},
                        "st": {"S": json.dumps(state.to_dict(), separators=(",", ":"))},
                        "wm": {"S": "{}"},
                        "ch": {"S": charge.lago_id},
                        "m": {"S": metric.lago_id},
                        "f": {"S": "-"},
                        "g": {"S": "-"},
                        "pf": {"S": "2024-01-01T00:00:00Z"},
                        "pt": {"S": "2024-02-01T00:00:00Z"},
                    },
                )
            )
    UsageStore().batch_write(items)
    return org


def _reuse_transaction_connections() -> None:
    """`entities.Writes.commit` opens a new PynamoDB Connection (a new botocore client, ~0.5 s here) per
    transaction; a Lambda container would want one per process. Measured both ways (BENCH_RAW_CONNECTIONS=1)."""
    from functools import cache

    from lagoon.data import entities

    entities.Connection = cache(entities.Connection)  # type: ignore[misc]


def _measure(events_per_charge: int) -> tuple[float, int, int]:
    import boto3
    from lagoon.config import reset_settings
    from lagoon.data.connection import reset_clients
    from lagoon.local.template import Template, create_aws_resources
    from moto import mock_aws

    template = Template.load()
    with mock_aws():
        create_aws_resources(template, boto3.Session(region_name="us-east-1"))
        for logical_id in template.functions:
            os.environ.update(template.function_environment(logical_id))
        os.environ.pop("LAGOON_AWS_ENDPOINT_URL", None)
        reset_settings()
        reset_clients()
        org = _setup(events_per_charge)
        from lagoon.services import billing, invoices

        started = time.perf_counter()
        report = billing.run_billing(datetime.fromisoformat(RUN_AT.replace("Z", "+00:00")))
        elapsed = time.perf_counter() - started
        total = sum(i.total_amount_cents for i in invoices.all_invoices(org))
        return elapsed, len(report.invoices), total


def main() -> None:
    if os.environ.get("BENCH_RAW_CONNECTIONS") != "1":
        _reuse_transaction_connections()
    base = 20
    for label, events in (("1x events", base), ("10x events", base * 10)):
        elapsed, count, total = _measure(events)
        events_total = SUBSCRIPTIONS * CHARGES * events
        print(
            f"billing run, {SUBSCRIPTIONS} subscriptions x {CHARGES} charges, {label} ({events_total:,} events): "
            f"{elapsed:.1f} s for {count} invoices (total {total} cents) — goal <= {GOAL_SECONDS:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
