"""moto as patched for the local stack (lagoon.local.moto_aws): what a request costs next to many other items.

Run from the repository root: `python -m bench.moto_patches`. Each figure is the best of 3 runs, measured once
on an almost empty table or stream and again after 5,000 other items (DynamoDB) or 75,000 more records
(Kinesis).
Goal: at most 3x either way, i.e. the cost does not grow with what else is stored (unpatched, moto's Query
lists and sorts the whole table and a TransactWriteItems deep-copies it: docs/local-stack.md).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from lagoon.local.moto_aws import patch_dynamodb_queries, patch_dynamodb_transactions, patch_kinesis_shards
from moto import mock_aws

GOAL_RATIO = 3.0
OTHER_ITEMS = 5_000
REQUESTS = 20
KINESIS_ROUNDS = 30  # each 5 PutRecords of 500 records
REPEATS = 3


def _best_seconds(run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


@contextmanager
def _table() -> Iterator[Any]:
    patch_dynamodb_queries()
    patch_dynamodb_transactions()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _fill_other_partition(client: Any) -> None:
    requests = [
        {"PutRequest": {"Item": {"pk": {"S": "big"}, "sk": {"S": f"{n:06d}"}}}} for n in range(OTHER_ITEMS)
    ]
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={"t": requests[start : start + 25]})


def bench_query() -> tuple[float, float]:
    """20 base-table Queries of a one-item partition, before and after 5,000 items in another partition."""
    with _table() as client:
        client.put_item(TableName="t", Item={"pk": {"S": "small"}, "sk": {"S": "1"}})

        def queries() -> None:
            for _ in range(REQUESTS):
                client.query(
                    TableName="t",
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "small"}},
                )

        before = _best_seconds(queries)
        _fill_other_partition(client)
        return before, _best_seconds(queries)


def bench_transactions() -> tuple[float, float]:
    """20 two-item TransactWriteItems, before and after 5,000 items in another partition."""
    with _table() as client:

        def transactions() -> None:
            for n in range(REQUESTS):
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "t", "Item": {"pk": {"S": pk}, "sk": {"S": str(n)}}}}
                        for pk in ("small", "other")
                    ]
                )

        before = _best_seconds(transactions)
        _fill_other_partition(client)
        return before, _best_seconds(transactions)


def bench_kinesis_puts() -> tuple[float, float]:
    """5 PutRecords of 500 records on one shard, first and after 30 more rounds (75,000 more records)."""
    patch_kinesis_shards()
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="s", ShardCount=1)

        def puts() -> None:
            for _ in range(5):
                kinesis.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "p"}] * 500)

        first = _best_seconds(puts)
        for _ in range(KINESIS_ROUNDS):
            puts()
        return first, _best_seconds(puts)


def main() -> int:
    print(
        f"moto as patched for the local stack (best of {REPEATS}; goal: at most {GOAL_RATIO:.0f}x when full):"
    )
    status = 0
    for label, bench in (
        (f"{REQUESTS} Queries of a small partition, then next to {OTHER_ITEMS:,} items", bench_query),
        (f"{REQUESTS} TransactWriteItems, then next to {OTHER_ITEMS:,} items", bench_transactions),
        ("5 PutRecords of 500, then after 75,000 more records", bench_kinesis_puts),
    ):
        before, after = bench()
        ratio = after / before
        verdict = "ok" if ratio <= GOAL_RATIO else "ABOVE GOAL"
        status |= ratio > GOAL_RATIO
        print(f"  {label}")
        print(f"    {before * 1000:8.1f} ms -> {after * 1000:8.1f} ms  ({ratio:.2f}x)  {verdict}")
    return status


if __name__ == "__main__":
    sys.exit(main())
