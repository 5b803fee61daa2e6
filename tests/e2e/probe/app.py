"""Probe functions of tests/e2e/probe/template.yaml: they record what the local stack delivered to them.

consume: each Kinesis record's data is stored under its sequence number; a record whose data starts with
`fail-once` is reported as a failed item the first time it is seen. scheduled: stores the event it got.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import boto3


def _table() -> Any:
    return boto3.resource(
        "dynamodb", endpoint_url=os.environ["LAGOON_AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"]
    ).Table(os.environ["PROBE_TABLE"])


def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = _table()
    assert event["Records"], "never an empty batch"
    table.put_item(Item={"pk": f"batch#{context.aws_request_id}", "size": len(event["Records"])})
    failures = []
    for record in event["Records"]:
        sequence = record["kinesis"]["sequenceNumber"]
        data = base64.b64decode(record["kinesis"]["data"]).decode()
        if data.startswith("fail-once") and "Item" not in table.get_item(Key={"pk": f"failed#{sequence}"}):
            table.put_item(Item={"pk": f"failed#{sequence}"})
            failures.append({"itemIdentifier": sequence})
            break  # the rest of the batch is retried from here anyway
        table.put_item(Item={"pk": f"record#{int(sequence):08d}", "data": data, "event": json.dumps(record)})
    return {"batchItemFailures": failures}


def scheduled(event: dict[str, Any], context: Any) -> None:
    _table().put_item(Item={"pk": f"tick#{event['time']}", "event": json.dumps(event)})
