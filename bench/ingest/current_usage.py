"""current_usage latency at 10, 10k and 100k events of the same subscription, in one run.

Run from the repository root: `python -m bench.ingest.current_usage` (also run by `python -m bench.ingest`). In-process: moto AWS created from template.yaml,
the real gateway (authorizer + UsageFunction handler) and the real aggregator folding the events (records of
100 events, as the events API writes them). Goal (issue 7): latency at 100k <= 1.3 x latency at 10 — the
endpoint reads the subscription's aggregates (one Query), never its events.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

LEVELS = (10, 10_000, 100_000)
CALLS = 40
WARMUP = 5
GOAL_RATIO = 1.3
API_KEY = "bench-usage-key"


def _environment() -> None:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Lagoon",
        "POWERTOOLS_SERVICE_NAME": "lagoon",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        os.environ.setdefault(key, value)


class Api:
    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def call(self, method: str, path: str, body: Any = None, query: str = "") -> Any:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}
        data = json.dumps(body).encode() if body is not None else None
        response = self.gateway.handle(method, f"/api/v1{path}", headers, query, data)
        assert response.status == 200, (path, response.status, response.body)
        return json.loads(response.body)


def _catalog(api: Api, period_start: datetime) -> None:
    """A plan with three charges: a standard sum, a graduated sum filtered by region, a count grouped by
    model — the aggregates are charges x filters x groups items, whatever the number of events."""
    storage = api.call(
        "POST",
        "/billable_metrics",
        {
            "billable_metric": {
                "name": "Storage",
                "code": "storage",
                "aggregation_type": "sum_agg",
                "field_name": "gb",
                "filters": [{"key": "region", "values": ["eu", "us"]}],
            }
        },
    )["billable_metric"]
    calls = api.call(
        "POST",
        "/billable_metrics",
        {"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg"}},
    )["billable_metric"]
    ranges = [
        {"from_value": 0, "to_value": 1000, "per_unit_amount": "0.01", "flat_amount": "1"},
        {"from_value": 1001, "to_value": None, "per_unit_amount": "0.005", "flat_amount": "0"},
    ]
    charges = [
        {
            "billable_metric_id": storage["lago_id"],
            "charge_model": "standard",
            "properties": {"amount": "0.1"},
        },
        {
            "billable_metric_id": storage["lago_id"],
            "charge_model": "graduated",
            "properties": {"graduated_ranges": ranges},
            "filters": [
                {"values": {"region": ["eu"]}, "properties": {"graduated_ranges": ranges}},
                {"values": {"region": ["us"]}, "properties": {"graduated_ranges": ranges}},
            ],
        },
        {
            "billable_metric_id": calls["lago_id"],
            "charge_model": "standard",
            "properties": {"amount": "0.001", "pricing_group_keys": ["model"]},
        },
    ]
    plan = {
        "name": "Bench",
        "code": "bench",
        "interval": "monthly",
        "amount_cents": 1000,
        "amount_currency": "USD",
        "pay_in_advance": False,
        "charges": charges,
    }
    api.call("POST", "/plans", {"plan": plan})
    api.call("POST", "/customers", {"customer": {"external_id": "cus_bench", "name": "Bench"}})
    api.call(
        "POST",
        "/subscriptions",
        {
            "subscription": {
                "external_customer_id": "cus_bench",
                "plan_code": "bench",
                "external_id": "sub_bench",
                "subscription_at": period_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        },
    )


class Feeder:
    """Folds events into the subscription's aggregates with the real aggregator, 100 events a record."""

    def __init__(self, organization_id: str, period_start: datetime, now: datetime) -> None:
        from lagoon.ingestion.aggregator import Aggregator

        self.organization_id = organization_id
        self.aggregator = Aggregator()
        self.sent = 0
        self.sequence = 0
        self.start_us = int(period_start.timestamp() * 1_000_000)
        self.span_us = max(int((now - period_start).total_seconds() * 1_000_000) - 1, 1)

    def _event(self, index: int) -> Any:
        from lagoon.domain.events import IncomingEvent

        at = self.start_us + (index * 7_919_993) % self.span_us
        if index % 2:
            return IncomingEvent(f"tx-{index}", "sub_bench", "calls", at, {"model": f"m{index % 5}"})
        region = ("eu", "us", "apac")[index % 3]
        return IncomingEvent(f"tx-{index}", "sub_bench", "storage", at, {"gb": index % 97, "region": region})

    def feed(self, total: int) -> None:
        from lagoon.domain.events import StreamRecord

        arrived_ms = int(time.time() * 1000)
        while self.sent < total:
            records = []
            for _ in range(100):  # one aggregator batch: up to 100 records of 100 events
                if self.sent >= total:
                    break
                count = min(100, total - self.sent)
                events = tuple(self._event(self.sent + i) for i in range(count))
                self.sequence += 1
                records.append(
                    StreamRecord(
                        "shardId-000000000000",
                        str(self.sequence),
                        self.organization_id,
                        "sub_bench",
                        events,
                        arrived_ms,
                    )
                )
                self.sent += count
            self.aggregator.apply(records)


def _latency(api: Api) -> tuple[float, dict[str, Any]]:
    query = "external_subscription_id=sub_bench"
    for _ in range(WARMUP):
        api.call("GET", "/customers/cus_bench/current_usage", query=query)
    timings = []
    body: dict[str, Any] = {}
    for _ in range(CALLS):
        began = time.perf_counter()
        body = api.call("GET", "/customers/cus_bench/current_usage", query=query)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings), body["customer_usage"]


def main() -> int:
    _environment()
    warnings.filterwarnings("ignore", message="No application metrics")
    import boto3
    from lagoon.config import reset_settings
    from lagoon.data.connection import reset_clients
    from lagoon.local.gateway import Gateway
    from lagoon.local.template import Template, create_aws_resources
    from lagoon.services import organizations
    from moto import mock_aws

    template = Template.load()
    with mock_aws():
        create_aws_resources(template, boto3.Session(region_name="us-east-1"))
        for logical_id in template.functions:
            os.environ.update(template.function_environment(logical_id))
        os.environ.pop("LAGOON_AWS_ENDPOINT_URL", None)
        reset_settings()
        reset_clients()
        organization, _ = organizations.create_organization("Bench", api_key=API_KEY)
        api = Api(Gateway(template))
        now = datetime.now(UTC)
        period_start = datetime(now.year, now.month, 1, tzinfo=UTC)
        if now - period_start < timedelta(hours=1):
            now = period_start + timedelta(hours=1)  # events need a little room at the start of a month
        _catalog(api, period_start)
        feeder = Feeder(organization.lago_id, period_start, datetime.now(UTC))
        results: dict[int, float] = {}
        for level in LEVELS:
            began = time.perf_counter()
            feeder.feed(level)
            fed = time.perf_counter() - began
            latency, usage = _latency(api)
            counted = sum(c["events_count"] for c in usage["charges_usage"])
            results[level] = latency
            print(
                f"{level:>7} events (folded in {fed:6.1f} s): current_usage median {latency * 1000:6.2f} ms "
                f"over {CALLS} calls; events_count {counted}, amount_cents {usage['amount_cents']}",
                flush=True,
            )
            assert counted >= level, "every event must be counted (some charges count an event twice)"
        ratio = results[LEVELS[-1]] / results[LEVELS[0]]
        verdict = "ok" if ratio <= GOAL_RATIO else "ABOVE GOAL"
        print(
            f"ratio latency(100k) / latency(10) = {ratio:.2f} (goal <= {GOAL_RATIO}): {verdict}",
            flush=True,
        )
        return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
