"""Billing benchmark: one billing run for 1,000 subscriptions x 5 charges on the local stack.

Run from the repository root: `python -m bench.billing.run`. The local stack (`make run`) starts in this
process; the setup writes the organization, plan, customers, subscriptions and their January aggregates
through the services (the aggregates as the aggregator writes them: engine states folded from the events, so
the setup does not depend on the stream) and the events themselves in the events table, as the aggregator
stores them (so a run that read events would have them to read), then `POST /_local/tick` at 2024-02-01T00:00:00Z fires the
scheduled functions as EventBridge would; the time reported is the BillingFunction's run within that tick.
Goal (issue 8): <= 60 s, and the same time when each subscription has 10x more events — the run reads one
aggregate per charge, never the events: it prints the run's DynamoDB requests for both and exits 1 when they
differ or the run is over its goal.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", "1000"))
CHARGES = 5
GOAL_SECONDS = 60.0
START = datetime(2024, 1, 1, tzinfo=UTC)
RUN_AT = "2024-02-01T00:00:00Z"

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")


def _setup(events_per_charge: int) -> str:
    """An organization with a 5-charge plan and SUBSCRIPTIONS subscriptions, their January aggregates."""
    from lagoon.data.usage_keys import aggregate_pk, event_pk
    from lagoon.data.usage_store import UsageStore, aggregates_table, events_table
    from lagoon.domain.billable_metrics import BillableMetricCreateInput
    from lagoon.domain.customers import CustomerInput
    from lagoon.domain.plans import PlanCreateInput
    from lagoon.domain.subscriptions import SubscriptionInput
    from lagoon.engine.aggregation_state import new_state
    from lagoon.engine.folding import fold
    from lagoon.engine.metric_definitions import UsageEvent
    from lagoon.ingestion.aggregator import STATUS_COUNTED
    from lagoon.ingestion.directory import metric_definition
    from lagoon.services import customers, organizations
    from lagoon.services.catalog import billable_metrics, plans
    from lagoon.services.subscriptions import changes

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
    events: list[tuple[str, dict[str, Any]]] = []
    table = aggregates_table()
    for n in range(SUBSCRIPTIONS):
        customers.upsert_customer(org, CustomerInput(external_id=f"cus_{n}"))
        subscription = changes.create_subscription(
            org,
            SubscriptionInput(external_customer_id=f"cus_{n}", plan_code="bench", external_id=f"sub_{n}"),
            now=START,
        ).subscription
        for charge, metric in zip(plan.charges, metrics, strict=True):
            state = new_state(metric_definition(metric))
            for e in range(events_per_charge):
                transaction_id = f"{n}-{metric.code}-{e}"
                timestamp = START + timedelta(minutes=e)
                fold(state, UsageEvent(transaction_id, timestamp, {"value": "1"}))
                micros = int(timestamp.timestamp()) * 1_000_000
                events.append(
                    (
                        events_table(),
                        {
                            "pk": {"S": event_pk(org, transaction_id)},
                            "sk": {"S": f"sub_{n}"},
                            "c": {"S": metric.code},
                            "t": {"N": str(micros)},
                            "r": {"N": str(micros // 1000)},
                            "src": {"S": f"0/{n}/{e}"},
                            "st": {"S": STATUS_COUNTED},
                            "p": {"S": '{"value":"1"}'},
                            "ls": {"S": subscription.lago_id},
                            "lc": {"S": subscription.lago_customer_id},
                        },
                    )
                )
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
    UsageStore().batch_write(events)
    return org


def _measure(events_per_charge: int) -> dict[str, Any]:
    """One run on a fresh local stack. Called in a process of its own: moto keeps its state per process, so a
    second stack in the same process would also see (and the billing run visit) the first one's data."""
    from lagoon.data import invoices
    from lagoon.data.capacity import metering

    from bench.stack import local_stack

    with local_stack(persist=False) as running:
        org = _setup(events_per_charge)
        registry = running.stack.functions
        billing = registry.handler("BillingFunction")
        requests: list[int] = []

        def metered(event: Any, context: Any) -> Any:  # the billing run's own calls, not the poller's
            with metering() as meter:
                try:
                    return billing(event, context)
                finally:
                    requests.append(meter.dynamodb_requests)

        registry._handlers["BillingFunction"] = metered
        started = time.perf_counter()
        answer = running.tick(RUN_AT)
        tick_seconds = time.perf_counter() - started
        failed = [i for i in answer["invocations"] if i["error"]]
        assert not failed, failed
        found = invoices.all_invoices(org)
        return {
            "seconds": {i["function"]: i["seconds"] for i in answer["invocations"]},
            "tick": tick_seconds,
            "invoices": len(found),
            "total": sum(i.total_amount_cents for i in found),
            "requests": sum(requests),
        }


def main() -> int:
    base = 4
    ok = True
    requests: list[int] = []
    for label, events in (("1x events", base), ("10x events", base * 10)):
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            result = pool.apply(_measure, (events,))
        seconds, count = result["seconds"], result["invoices"]
        events_total = SUBSCRIPTIONS * CHARGES * events
        others = ", ".join(
            f"{name} {value:.1f} s" for name, value in seconds.items() if name != "BillingFunction"
        )
        print(
            f"billing run, {SUBSCRIPTIONS} subscriptions x {CHARGES} charges, {label} ({events_total:,} events): "
            f"{seconds['BillingFunction']:.1f} s for {count} invoices (total {result['total']} cents) "
            f"— goal <= {GOAL_SECONDS:.0f} s\n  the whole tick {result['tick']:.1f} s: {others}\n"
            f"  DynamoDB requests of the billing run: {result['requests']:,} "
            f"({result['requests'] / max(count, 1):.1f} per invoice)",
            flush=True,
        )
        requests.append(result["requests"])
        ok &= seconds["BillingFunction"] <= GOAL_SECONDS
    verdict = "the same" if len(set(requests)) == 1 else "DIFFERENT: the run reads something per event"
    print(
        f"DynamoDB requests of the billing run, 1x vs 10x events: {requests[0]:,} vs {requests[1]:,} — {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
