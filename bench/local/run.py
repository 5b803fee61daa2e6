"""Local stack benchmark: keep-alive requests/s, Kinesis puts/s past 100k stored records, restart time.

    python -m bench.local.run [--records 100000]

Starts `python -m lagoon.local` in a temporary data directory, fills the events stream with N records and
an N-item table (the stored events), then restarts it (Ctrl-C + start, and kill -9 + start) and times each
until /health answers. Targets (issue 3): puts/s flat past 100k records, restart ≤ 10 s with 100k events.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.e2e.conftest import LocalStackProcess

RESTART_TARGET_SECONDS = 10.0


def requests_per_second(stack: LocalStackProcess, path: str, seconds: float = 3.0, clients: int = 1) -> float:
    counts = [0] * clients

    def loop(index: int) -> None:
        session = requests.Session()
        session.headers.update(stack.session.headers)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            session.get(stack.url(path)).raise_for_status()
            counts[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def fill(stack: LocalStackProcess, records: int) -> list[tuple[int, float]]:
    """Put `records` Kinesis records (500 per call) and as many table items; puts/s per 20k-record slice."""
    kinesis, dynamodb = stack.aws("kinesis"), stack.aws("dynamodb")
    kinesis.create_stream(StreamName="bench-events", ShardCount=1)
    table = "lagoon-local-entitiestable"
    slices, started, done = [], time.perf_counter(), 0
    while done < records:
        batch = [
            {
                "Data": b'{"transaction_id":"tx%d","code":"api_calls","properties":{"gb":1}}' % (done + i),
                "PartitionKey": "sub_1",
            }
            for i in range(500)
        ]
        kinesis.put_records(StreamName="bench-events", Records=batch)
        done += len(batch)
        if done % 20_000 == 0:
            slices.append((done, 20_000 / (time.perf_counter() - started)))
            started = time.perf_counter()
    for start in range(0, records, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": "bench#event"},
                                "sk": {"S": f"tx{start + i:09d}"},
                                "kind": {"S": "event"},
                                "body": {
                                    "S": '{"code":"api_calls","properties":{"gb":1},"timestamp":1795305600}'
                                },
                            }
                        }
                    }
                    for i in range(25)
                ]
            }
        )
    return slices


def timed_start(stack: LocalStackProcess) -> float:
    started = time.perf_counter()
    stack.start(timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lagoon-bench-") as root:
        stack = LocalStackProcess(Path(root) / "stack")
        print(f"cold start: {timed_start(stack):.1f} s")
        print(f"keep-alive GET /health: {requests_per_second(stack, '/health'):.0f} req/s (1 client)")
        print(
            f"keep-alive GET /api/v1/customers: {requests_per_second(stack, '/api/v1/customers'):.0f} req/s (1 client)"
        )
        print(
            f"keep-alive GET /api/v1/customers: {requests_per_second(stack, '/api/v1/customers', clients=4):.0f} "
            "req/s (4 clients)"
        )
        for done, rate in fill(stack, args.records):
            print(f"  Kinesis PutRecords at {done:>7} stored records: {rate:,.0f} records/s")
        stop_started = time.perf_counter()
        stack.stop()
        print(f"Ctrl-C stop (with snapshot): {time.perf_counter() - stop_started:.1f} s")
        size = sum(p.stat().st_size for p in stack.data_dir.glob("*")) / 1e6
        print(f"data dir: {size:.0f} MB")
        clean = timed_start(stack)
        print(
            f"restart after Ctrl-C with {args.records} events: {clean:.1f} s (target ≤ {RESTART_TARGET_SECONDS} s)"
        )
        stack.aws("dynamodb").put_item(
            TableName="lagoon-local-entitiestable", Item={"pk": {"S": "bench#late"}, "sk": {"S": "1"}}
        )
        stack.kill()
        crashed = timed_start(stack)
        print(
            f"restart after kill -9 with {args.records} events: {crashed:.1f} s (target ≤ {RESTART_TARGET_SECONDS} s)"
        )
        item = stack.aws("dynamodb").get_item(
            TableName="lagoon-local-entitiestable", Key={"pk": {"S": "bench#late"}, "sk": {"S": "1"}}
        )
        print(f"write answered just before kill -9 kept: {'Item' in item}")
        stack.stop()


if __name__ == "__main__":
    main()
