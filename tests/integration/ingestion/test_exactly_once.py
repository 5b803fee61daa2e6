"""Exactly once under redelivery: crash the aggregator after each write it makes, replay, compare.

The reference is the same batch applied without a crash. Every replay — the whole batch again, or the
batch redelivered in halves (as Lambda's bisection does) — must end in exactly the reference state:
nothing applied twice, nothing missing.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe


class Crash(Exception):
    """The aggregator's process dies here."""


def _crash_after(n: int):
    def after_write(count: int) -> None:
        if count == n:
            raise Crash(f"crashed after write request {n}")

    return after_write


def _decode(records: list[dict[str, Any]]):
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from lagoon.ingestion.kinesis import decode_kinesis_record

    return [decode_kinesis_record(KinesisStreamRecord(r)) for r in records]


def _tables() -> list[str]:
    from lagoon.data.usage_store import aggregates_table, events_table

    return [events_table(), aggregates_table()]


def _snapshot() -> dict[str, Any]:
    """Every usage item, without the aggregates' `u` (updated_at) stamp; page/error/orphan lists as sets."""
    import zlib

    client = boto3.client("dynamodb", region_name="us-east-1")
    found: dict[str, Any] = {}
    for table in _tables():
        for item in client.scan(TableName=table)["Items"]:
            item = dict(item)
            item.pop("u", None)
            if "e" in item and "B" in item["e"]:
                body = json.loads(zlib.decompress(item["e"]["B"]))
                item["e"] = sorted((ts, body["c"][c], tx) for ts, c, tx in body["e"])
            found[f"{table}|{item['pk']['S']}|{item['sk']['S']}"] = item
    return found


def _wipe() -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    for table in _tables():
        for item in client.scan(TableName=table)["Items"]:
            client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


@pytest.fixture
def batch(api, stream):
    """60 distinct events over 3 subscriptions and 2 charges (one filtered, one grouped), with duplicates,
    an unknown subscription and an unknown code: enough items for several write requests."""
    storage = create_metric(api, "storage", filters=[{"key": "region", "values": ["eu", "us"]}])
    calls = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    create_plan(
        api,
        charges=[
            charge(storage, filters=[{"values": {"region": ["eu"]}, "properties": {"amount": "2"}}]),
            charge(calls, properties={"amount": "1", "grouped_by": ["model"]}),
        ],
    )
    for n in range(3):
        subscribe(api, external_id=f"sub_{n}", customer=f"cus_{n}")
    events = []
    for i in range(60):
        sub = f"sub_{i % 3}"
        if i % 2:
            events.append(event(f"tx_{i}", sub=sub, gb=i, region="eu" if i % 4 == 1 else "us"))
        else:
            events.append(event(f"tx_{i}", sub=sub, code="calls", model=f"m{i % 5}"))
    events += [
        event("tx_1", sub="sub_1", gb=1000),
        event("tx_x", sub="ghost", gb=1),
        event("tx_y", code="nope"),
    ]
    for start in range(0, len(events), 20):
        assert api.post("/events/batch", {"events": events[start : start + 20]}).status == 200
    return stream.pending()


def test_a_crash_after_any_write_then_a_replay_applies_everything_exactly_once(batch):
    from lagoon.data.usage_store import UsageStore
    from lagoon.ingestion.aggregator import Aggregator

    records = _decode(batch)
    counting = UsageStore()
    reference_report = Aggregator(counting).apply(records)
    reference = _snapshot()
    writes = counting.write_requests
    assert writes >= 3
    assert reference_report.duplicates == 1
    for crash_point in range(1, writes):
        for replay in ("whole", "halves"):
            _wipe()
            with pytest.raises(Crash):
                Aggregator(UsageStore(after_write=_crash_after(crash_point))).apply(records)
            if replay == "whole":
                Aggregator(UsageStore()).apply(records)
            else:
                half = len(records) // 2
                Aggregator(UsageStore()).apply(records[:half])
                Aggregator(UsageStore()).apply(records)
            assert _snapshot() == reference, f"crash after write {crash_point}, replay {replay}"


def test_a_batch_delivered_twice_changes_nothing(batch):
    from lagoon.data.usage_store import UsageStore
    from lagoon.ingestion.aggregator import Aggregator

    records = _decode(batch)
    Aggregator(UsageStore()).apply(records)
    reference = _snapshot()
    report = Aggregator(UsageStore()).apply(records)
    assert report.folded == 0
    assert report.new_events == 0
    assert _snapshot() == reference


def test_a_crash_twice_in_a_row_still_converges(batch):
    from lagoon.data.usage_store import UsageStore
    from lagoon.ingestion.aggregator import Aggregator

    records = _decode(batch)
    Aggregator(UsageStore()).apply(records)
    reference = _snapshot()
    _wipe()
    with pytest.raises(Crash):
        Aggregator(UsageStore(after_write=_crash_after(1))).apply(records)
    with pytest.raises(Crash):
        Aggregator(UsageStore(after_write=_crash_after(2))).apply(records[:7])
    Aggregator(UsageStore()).apply(records)
    assert _snapshot() == reference


def test_the_real_handler_retries_a_failed_batch_and_counts_once(api, org, stream, batch, monkeypatch):
    """Through the Lambda handler: a storage failure fails the whole invocation; Lambda redelivers."""
    from lagoon.data import usage_store
    from lagoon.ingestion.aggregator import reset_default_aggregator

    original = usage_store.UsageStore.batch_write
    calls = {"n": 0}

    def flaky(self, items):  # the first invocation dies after its first write request
        calls["n"] += 1
        if calls["n"] == 1:
            items = list(items)
            original(self, items[:25])
            raise usage_store.errors.TransientFailure("throttled")
        return original(self, items)

    monkeypatch.setattr(usage_store.UsageStore, "batch_write", flaky)
    reset_default_aggregator()
    with pytest.raises(usage_store.errors.TransientFailure):
        stream.deliver(batch)
    assert stream.deliver(batch) == {"batchItemFailures": []}
    from lagoon.data.usage_store import UsageStore, aggregates_table

    client = boto3.client("dynamodb", region_name="us-east-1")
    totals = 0
    for item in client.scan(TableName=aggregates_table())["Items"]:
        state = json.loads(item["st"]["S"])
        totals += state["events_count"] + state["ignored_events_count"]
    # 60 distinct events, 30 calls + 30 storage (each counted once, whichever filters they fall under)
    assert totals == 60
    assert UsageStore  # imported for the type only
