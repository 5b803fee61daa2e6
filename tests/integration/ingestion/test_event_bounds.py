"""Events within what the stream and the event store hold: ids that fit the usage tables' keys, properties of
at most 64 KiB of JSON (422 otherwise, nothing ingested), records split to stay within Kinesis' 1 MiB, and
groups of any length kept by the aggregator."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.integration.ingestion.conftest import (
    aggregates,
    charge,
    create_metric,
    create_plan,
    event,
    subscribe,
)


def _refused(details: dict[str, object]) -> dict[str, object]:
    return {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": details,
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"transaction_id": "é" * 257}, "transaction_id"),
        ({"external_subscription_id": "é" * 257}, "external_subscription_id"),
        ({"code": "c" * 256}, "code"),
        ({"properties": {"blob": "b" * (64 * 1024)}}, "properties"),
    ],
)
def test_an_event_beyond_the_stores_bounds_is_too_long(api, stream, fields, field):
    body = {**event("tx_1"), **fields}
    # A single event answers 422 with the field, a batch keys it by index; nothing reaches the stream
    assert api.post("/events", {"event": body}).json == _refused({field: ["value_is_too_long"]})
    batch = api.post("/events/batch", {"events": [event("tx_0"), body]})
    assert batch.json == _refused({"1": {field: ["value_is_too_long"]}})
    assert stream.pending() == []


def test_a_precise_total_amount_beyond_the_engines_numbers_is_invalid(api, stream):
    for amount in ("1e308", "1" * 21, "NaN"):
        response = api.post("/events", {"event": {**event("tx_1"), "precise_total_amount_cents": amount}})
        assert response.json == _refused({"precise_total_amount_cents": ["value_is_invalid"]}), amount
    assert stream.pending() == []


def test_a_batch_larger_than_a_stream_record_is_split_and_counted(api, org, stream):
    metric = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    create_plan(api, charges=[charge(metric)])
    subscription = subscribe(api)
    # Given 20 events of one subscription whose properties are 10,000 "é" each: 60 KB each as the stream's
    # escaped JSON, 1.2 MB together (one record of them was refused by Kinesis: a retryable 503 forever)
    events = [event(f"tx_{i}", code="calls", note="é" * 10_000) for i in range(20)]
    raw = json.dumps({"events": events}, ensure_ascii=False).encode()
    # When they are posted in one batch
    response = api.post("/events/batch", raw_body=raw)
    # Then they are accepted, spread over records of at most 1 MB, and all counted once
    assert response.status == 200, response.body[:300]
    records = stream.pending()
    assert len(records) == 2
    stream.drain()
    [aggregate] = aggregates(org.id, subscription["lago_id"])
    assert aggregate["state"]["events_count"] == 20
    assert api.get("/events/tx_19").json["event"]["properties"] == {"note": "é" * 10_000}


def test_a_group_longer_than_a_sort_key_is_aggregated(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, properties={"amount": "1", "pricing_group_keys": ["region"]})])
    subscription = subscribe(api)
    region = "r" * 2000  # the group is part of the aggregate's sort key (1,024 bytes)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.post("/events", {"event": event("tx_1", at=now, gb=3, region=region)}).status == 200
    stream.drain()
    [aggregate] = aggregates(org.id, subscription["lago_id"])
    assert aggregate["sk"].endswith("#sha256:" + hashlib.sha256(aggregate["group"].encode()).hexdigest())
    assert aggregate["group"] == json.dumps([region], separators=(",", ":"))
    assert Decimal(aggregate["state"]["total"]) == 3
    usage = api.get("/customers/cus_1/current_usage", query={"external_subscription_id": "sub_1"})
    assert usage.status == 200, usage.body[:300]
    (charge_usage,) = usage.json["customer_usage"]["charges_usage"]
    assert [group["grouped_by"] for group in charge_usage["grouped_usage"]] == [{"region": region}]


def test_estimate_fees_takes_the_timestamps_events_take(api):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, pay_in_advance=True)])
    subscribe(api)
    head = b'{"event": {"code": "storage", "external_subscription_id": "sub_1", "properties": {"gb": 1}, "timestamp": '
    # NaN, 1e308 and 10**20 seconds were a 500 (datetime.fromtimestamp); Lago's estimate says invalid_format
    for timestamp in (b"NaN", b"1e308", b"99999999999999999999", b"-1", b'"soon"', b"253402300800"):
        response = api.post("/events/estimate_fees", raw_body=head + timestamp + b"}}")
        assert response.json == _refused({"timestamp": ["invalid_format"]}), timestamp
    estimated = api.post("/events/estimate_fees", raw_body=head + b'"1705320000"}}')
    assert estimated.status == 200, estimated.body
    assert [fee["amount_cents"] for fee in estimated.json["fees"]] == [100]
