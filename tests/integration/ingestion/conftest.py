"""Ingestion fixtures: catalog and subscription builders through the API, and a driver that delivers the
events stream to the aggregator the way Lambda's Kinesis event source does (through the real handler)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.conftest import ApiClient


def create_metric(api: ApiClient, code: str = "storage", **fields: Any) -> dict[str, Any]:
    body = {"name": code.title(), "code": code, "aggregation_type": "sum_agg", "field_name": "gb", **fields}
    response = api.post("/billable_metrics", {"billable_metric": body})
    assert response.status == 200, response.body
    return response.json["billable_metric"]  # type: ignore[no-any-return]


def charge(metric: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "properties": {"amount": "1"},
        **fields,
    }


def create_plan(
    api: ApiClient, code: str = "startup", charges: list[dict[str, Any]] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {
        "name": code.title(),
        "code": code,
        "interval": "monthly",
        "amount_cents": 10000,
        "amount_currency": "USD",
        "pay_in_advance": False,
        "charges": charges or [],
        **fields,
    }
    response = api.post("/plans", {"plan": body})
    assert response.status == 200, response.body
    return response.json["plan"]  # type: ignore[no-any-return]


def subscribe(
    api: ApiClient,
    external_id: str = "sub_1",
    plan_code: str = "startup",
    customer: str = "cus_1",
    subscription_at: str = "2024-01-01T00:00:00Z",
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "external_customer_id": customer,
        "plan_code": plan_code,
        "external_id": external_id,
        "subscription_at": subscription_at,
        **fields,
    }
    response = api.post("/subscriptions", {"subscription": body})
    assert response.status == 200, response.body
    return response.json["subscription"]  # type: ignore[no-any-return]


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp())


def event(
    transaction_id: str,
    sub: str = "sub_1",
    code: str = "storage",
    at: str = "2024-01-15T12:00:00Z",
    **props: Any,
) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "external_subscription_id": sub,
        "code": code,
        "timestamp": epoch(at),
        "properties": props,
    }


@dataclass
class StreamDriver:
    """Reads the events stream from where it left off and invokes the aggregator with Lambda's Kinesis event."""

    template: Any
    gateway: Any
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def _stream(self) -> str:
        return str(self.template.physical_name("EventsStream"))

    def pending(self) -> list[dict[str, Any]]:
        """Lambda-shaped records not yet delivered (all shards), without delivering them."""
        from lagoon.local.poller import KinesisSource, lambda_kinesis_record

        kinesis = boto3.client("kinesis", region_name="us-east-1")
        (source,) = [s for s in KinesisSource.all_in(self.template) if s.function == "AggregatorFunction"]
        records: list[dict[str, Any]] = []
        for shard in kinesis.describe_stream(StreamName=self._stream)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            after = self.positions.get(shard_id)
            kwargs: dict[str, Any] = {"StreamName": self._stream, "ShardId": shard_id}
            if after is None:
                kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            else:
                kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=str(after))
            iterator = kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
            while iterator:
                response = kinesis.get_records(ShardIterator=iterator, Limit=10000)
                for record in response["Records"]:
                    records.append(lambda_kinesis_record(record, shard_id, source, "us-east-1"))
                if not response["Records"]:
                    break
                iterator = response.get("NextShardIterator")
        return records

    def mark_delivered(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            shard_id = record["eventID"].split(":", 1)[0]
            sequence = int(record["kinesis"]["sequenceNumber"])
            self.positions[shard_id] = max(self.positions.get(shard_id, 0), sequence)

    def deliver(self, records: list[dict[str, Any]]) -> Any:
        return self.gateway.functions.invoke("AggregatorFunction", {"Records": records})

    def drain(self, batch_size: int = 1000) -> list[Any]:
        """Deliver every pending record, `batch_size` at a time; returns the handler's answers."""
        answers = []
        records = self.pending()
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            answers.append(self.deliver(batch))
            self.mark_delivered(batch)
        return answers


@pytest.fixture
def stream(template: Any, gateway: Any) -> StreamDriver:
    from lagoon.ingestion.aggregator import reset_default_aggregator

    reset_default_aggregator()
    return StreamDriver(template, gateway)


def aggregates(organization_id: str, subscription_lago_id: str) -> list[dict[str, Any]]:
    """Every aggregate item of a subscription, decoded: sk, state, watermarks."""
    from lagoon.data.usage_keys import aggregate_pk
    from lagoon.data.usage_store import UsageStore, aggregates_table

    found = []
    for item in UsageStore().query(aggregates_table(), aggregate_pk(organization_id, subscription_lago_id)):
        if item["sk"]["S"].startswith("closed#"):
            continue
        found.append(
            {
                "sk": item["sk"]["S"],
                "charge_id": item["ch"]["S"],
                "filter_id": item["f"]["S"],
                "group": item["g"]["S"],
                "period_from": item["pf"]["S"],
                "period_to": item["pt"]["S"],
                "state": json.loads(item["st"]["S"]),
                "watermarks": json.loads(item["wm"]["S"]),
            }
        )
    return found


def outbox(webhook_type: str | None = None) -> list[dict[str, Any]]:
    from lagoon.data.connection import ensure_bound
    from lagoon.data.records import OutboxRecord

    ensure_bound()
    messages = [
        {
            "message_id": r.message_id,
            "webhook_type": r.webhook_type,
            "organization_id": r.organization_id,
            "payload": json.loads(r.payload),
        }
        for r in OutboxRecord.scan()
    ]
    return [m for m in messages if webhook_type is None or m["webhook_type"] == webhook_type]
