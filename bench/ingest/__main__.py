"""Ingestion benchmark: events through `POST /events/batch` until the aggregator has drained the stream.

Run from the repository root: `python -m bench.ingest`. By default on the local stack (`make run`, started in
this process: HTTP to its gateway from several keep-alive clients, PutRecords to moto's Kinesis, the stack's
poller feeding the real aggregator, `/_local/drain` to wait). `--in-process` runs the same handlers without
HTTP or the moto server (moto `mock_aws`, the aggregator fed the way Lambda's Kinesis event source feeds it):
the cost of the code alone. Prints events/s end to end, DynamoDB requests and computed write units per 1,000
events by part, Kinesis calls per 1,000 events, and the AWS cost per million events (unit prices:
../shared/reference/aws-limits-and-costs.md §3.1, us-east-1, secondary sources there).

Goals (issue 6): ≥ 2,000 events/s end to end on a 2-core machine; ≤ 1.1 write units per event in total;
≤ 60 DynamoDB requests per 1,000 events. Then (unless `--no-usage`) `bench.ingest.current_usage` measures
current_usage at 10, 10k and 100k events of one subscription in one run (issue 7: 100k ≤ 1.3 x 10).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

GOAL_EVENTS_PER_SECOND = 2000
GOAL_WRITE_UNITS_PER_EVENT = 1.1
GOAL_REQUESTS_PER_1000 = 60

# us-east-1 list prices (aws-limits-and-costs.md §3.1).
PRICE_API_REST_PER_M = 3.50
PRICE_LAMBDA_REQUEST_PER_M = 0.20
PRICE_LAMBDA_GB_SECOND = 0.0000166667
PRICE_KINESIS_IN_PER_GB = 0.08  # on-demand, each record rounded up to 1 KB
PRICE_KINESIS_OUT_PER_GB = 0.04
PRICE_DYNAMODB_WRITE_PER_M = 0.625
PRICE_DYNAMODB_READ_PER_M = 0.125

for _key, _value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_NAMESPACE": "Lagoon",
    "POWERTOOLS_SERVICE_NAME": "lagoon",
}.items():
    os.environ.setdefault(_key, _value)


def _post(gateway: Any, api_key: str, path: str, body: Any) -> Any:
    import json

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    response = gateway.handle("POST", f"/api/v1{path}", headers, "", json.dumps(body).encode())
    assert response.status == 200, response.body
    return json.loads(response.body)


def _catalog(post: Callable[[str, Any], Any], subscriptions: int) -> None:
    """A sum metric, a one-charge plan and `subscriptions` subscriptions started on 2024-01-01."""
    metric = post(
        "/billable_metrics",
        {
            "billable_metric": {
                "name": "Storage",
                "code": "storage",
                "aggregation_type": "sum_agg",
                "field_name": "gb",
            }
        },
    )["billable_metric"]
    charge = {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "properties": {"amount": "1"},
    }
    plan = {
        "name": "Bench",
        "code": "bench",
        "interval": "monthly",
        "amount_cents": 1000,
        "amount_currency": "USD",
        "pay_in_advance": False,
        "charges": [charge],
    }
    post("/plans", {"plan": plan})
    for n in range(subscriptions):
        subscription = {
            "external_customer_id": f"customer-{n:04d}",
            "plan_code": "bench",
            "external_id": f"subscription-{n:04d}",
            "subscription_at": "2024-01-01T00:00:00Z",
        }
        post("/subscriptions", {"subscription": subscription})


def _batches(events: int, subscriptions: int) -> list[dict[str, Any]]:
    """Bodies of POST /events/batch: 100 events each, spread over the subscriptions."""
    base = 1705276800  # 2024-01-15
    return [
        {
            "events": [
                {
                    "transaction_id": str(uuid.uuid4()),
                    "external_subscription_id": f"subscription-{i % subscriptions:04d}",
                    "code": "storage",
                    "timestamp": base + i,
                    "properties": {"gb": i % 7, "region": "eu-west-1"},
                }
                for i in range(start, min(start + 100, events))
            ]
        }
        for start in range(0, events, 100)
    ]


def run_on_stack(events: int, subscriptions: int, clients: int) -> dict[str, Any]:
    """On the local stack: `clients` keep-alive HTTP clients post the batches, then /_local/drain."""
    from lagoon.data.capacity import metering

    from bench.ingest.clients import post_all
    from bench.stack import local_stack

    with local_stack() as running:
        setup = running.session()
        _catalog(lambda path, body: running.post(setup, path, body), subscriptions)
        bodies = _batches(events, subscriptions)
        # Time the aggregator's invocations (the Lambda duration part of the cost).
        registry = running.stack.functions
        aggregator = registry.handler("AggregatorFunction")
        durations: list[float] = []

        def timed(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return aggregator(event, context)
            finally:
                durations.append(time.perf_counter() - started)

        registry._handlers["AggregatorFunction"] = timed
        jobs = [
            (running.base_url, running.api_key, "/events/batch", bodies[index::clients])
            for index in range(clients)
        ]
        with metering() as meter, multiprocessing.get_context("spawn").Pool(clients) as pool:
            began, cpu_began = time.perf_counter(), time.process_time()
            pool.starmap(post_all, jobs)
            api_done = time.perf_counter()
            running.drain()
            elapsed = time.perf_counter() - began
            cpu = time.process_time() - cpu_began
        return {
            "where": f"local stack over HTTP, {clients} client processes",
            "events": events,
            "subscriptions": subscriptions,
            "elapsed": elapsed,
            "api_seconds": api_done - began,
            "aggregator_seconds": sum(durations),
            "invocations": len(durations),
            "api_requests": len(bodies),
            "meter": meter,
            "cpu_seconds": cpu,
        }


def run_in_process(events: int, subscriptions: int) -> dict[str, Any]:
    """The handlers alone: moto `mock_aws`, the gateway called in-process, the stream read in this thread."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        from lagoon.config import reset_settings
        from lagoon.data.capacity import metering
        from lagoon.data.connection import reset_clients
        from lagoon.local.gateway import Gateway
        from lagoon.local.poller import KinesisSource, lambda_kinesis_record
        from lagoon.local.template import Template, create_aws_resources
        from lagoon.services import organizations

        template = Template.load()
        create_aws_resources(template, boto3.Session(region_name="us-east-1"))
        for logical_id in template.functions:
            os.environ.update(template.function_environment(logical_id))
        reset_settings()
        reset_clients()
        gateway = Gateway(template)
        _, key = organizations.create_organization("Bench Corp", api_key=f"bench-{uuid.uuid4()}")
        _catalog(lambda path, body: _post(gateway, key, path, body), subscriptions)
        (source,) = [s for s in KinesisSource.all_in(template) if s.function == "AggregatorFunction"]
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        stream = template.physical_name("EventsStream")
        shards = [
            s["ShardId"] for s in kinesis.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]
        ]
        iterators = {
            shard: kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for shard in shards
        }
        bodies = _batches(events, subscriptions)
        aggregator_seconds = 0.0
        invocations = 0
        with metering() as meter:
            began = time.perf_counter()
            for body in bodies:
                _post(gateway, key, "/events/batch", body)
            api_done = time.perf_counter()
            # Drain as Lambda's event source does: up to BatchSize records per invocation, per shard.
            for shard in shards:
                while True:
                    response = kinesis.get_records(ShardIterator=iterators[shard], Limit=source.batch_size)
                    iterators[shard] = response["NextShardIterator"]
                    if not response["Records"]:
                        break
                    batch = [
                        lambda_kinesis_record(r, shard, source, "us-east-1") for r in response["Records"]
                    ]
                    started = time.perf_counter()
                    gateway.functions.invoke("AggregatorFunction", {"Records": batch})
                    aggregator_seconds += time.perf_counter() - started
                    invocations += 1
            elapsed = time.perf_counter() - began
        return {
            "where": "in process (mock_aws, no HTTP)",
            "events": events,
            "subscriptions": subscriptions,
            "elapsed": elapsed,
            "api_seconds": api_done - began,
            "aggregator_seconds": aggregator_seconds,
            "invocations": invocations,
            "api_requests": len(bodies),
            "meter": meter,
        }


def report(result: dict[str, Any]) -> bool:
    meter = result["meter"]
    events = result["events"]
    per_1000 = 1000 / events
    rate = events / result["elapsed"]
    write_units = meter.total_write_units
    kinesis_gb_in = (
        meter.kinesis_records * 1024 * 1.0 / 1e9
    )  # each record rounded up to 1 KB (≤ 1 KB here: see docs)
    per_million = 1e6 / events
    costs = {
        "API Gateway (REST)": result["api_requests"] * per_million * PRICE_API_REST_PER_M / 1e6,
        "Lambda requests": (result["api_requests"] + result["invocations"])
        * per_million
        * PRICE_LAMBDA_REQUEST_PER_M
        / 1e6,
        "Lambda duration": (result["api_seconds"] * 0.5 + result["aggregator_seconds"] * 1.0)
        * per_million
        * PRICE_LAMBDA_GB_SECOND,
        "Kinesis": kinesis_gb_in * per_million * (PRICE_KINESIS_IN_PER_GB + PRICE_KINESIS_OUT_PER_GB),
        "DynamoDB writes": write_units * per_million * PRICE_DYNAMODB_WRITE_PER_M / 1e6,
        "DynamoDB reads": meter.read_units * per_million * PRICE_DYNAMODB_READ_PER_M / 1e6,
    }
    print(
        f"events: {events:,} over {result['subscriptions']} subscriptions, {result['api_requests']} POST /events/batch"
        f" ({result['where']})"
    )
    print(
        f"end to end: {result['elapsed']:.2f} s = {rate:,.0f} events/s "
        f"(API {result['api_seconds']:.2f} s, aggregator {result['aggregator_seconds']:.2f} s in "
        f"{result['invocations']} invocations)   goal >= {GOAL_EVENTS_PER_SECOND:,}"
    )
    if "cpu_seconds" in result:
        print(
            f"  the stack's process used {result['cpu_seconds']:.2f} s of CPU "
            f"({result['cpu_seconds'] / result['elapsed']:.0%} of one core: one interpreter, one lock)"
        )
    print(
        f"DynamoDB requests per 1,000 events: {meter.dynamodb_requests * per_1000:.1f}   goal <= {GOAL_REQUESTS_PER_1000}"
    )
    for operation, count in sorted(meter.requests.items()):
        print(f"  {operation:<28} {count * per_1000:8.2f} / 1,000 events")
    print(f"write units per event: {write_units / events:.3f}   goal <= {GOAL_WRITE_UNITS_PER_EVENT}")
    for part, units in sorted(meter.write_units.items()):
        print(f"  {part:<28} {units * per_1000:8.1f} WU / 1,000 events ({meter.items_written[part]} items)")
    puts = sum(n for op, n in meter.requests.items() if op.startswith("kinesis.Put"))
    print(
        f"Kinesis calls per 1,000 events: {puts * per_1000:.2f} PutRecords "
        f"({meter.kinesis_records * per_1000:.1f} records / 1,000 events), "
        f"{(meter.kinesis_requests - puts) * per_1000:.2f} reads by the event source (free on AWS)"
    )
    print("AWS cost per million events (on-demand, us-east-1):")
    for name, cost in costs.items():
        print(f"  {name:<28} ${cost:.4f}")
    print(f"  {'total':<28} ${sum(costs.values()):.4f}")
    return (
        rate >= GOAL_EVENTS_PER_SECOND
        and write_units / events <= GOAL_WRITE_UNITS_PER_EVENT
        and meter.dynamodb_requests * per_1000 <= GOAL_REQUESTS_PER_1000
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4, help="HTTP client processes (local stack)")
    parser.add_argument("--in-process", action="store_true", help="mock_aws and no HTTP: the code alone")
    parser.add_argument(
        "--no-usage", action="store_true", help="skip the current_usage latency at 10, 10k and 100k events"
    )
    args = parser.parse_args()
    if args.in_process:
        result = run_in_process(args.events, args.subscriptions)
    else:
        result = run_on_stack(args.events, args.subscriptions, args.clients)
    ok = report(result)
    print("goals met" if ok else "GOALS NOT MET", flush=True)
    if not args.no_usage:
        # Its own process: moto keeps its state per process, and the latency must not see this run's data
        print("\ncurrent_usage latency (bench.ingest.current_usage):", flush=True)
        ok &= subprocess.call([sys.executable, "-m", "bench.ingest.current_usage"]) == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
