"""The events stream (Kinesis `EventsStream`): PutRecords with retries of the records that failed.

PutRecords is not atomic: some records may fail (throttling, internal errors) while others land. Only the
failed ones are resent, a few times with backoff; if some still fail, `TransientFailure` tells the caller to
retry the whole request (503). Records that already landed are then sent again, and the aggregator drops the
repeated events by transaction_id (first write wins): a retry never drops and never double counts.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lagoon import errors
from lagoon.data.connection import aws_client, get_settings

PUT_RECORDS_LIMIT = 500
MAX_ATTEMPTS = 4


def put_records(records: Sequence[tuple[str, bytes]], *, attempts: int = MAX_ATTEMPTS) -> None:
    """Put (partition key, data) records onto the events stream; raise TransientFailure if any is not stored."""
    client: Any = aws_client("kinesis")
    stream = get_settings().events_stream
    for start in range(0, len(records), PUT_RECORDS_LIMIT):
        pending = [
            {"PartitionKey": key, "Data": data} for key, data in records[start : start + PUT_RECORDS_LIMIT]
        ]
        for attempt in range(attempts):
            try:
                response = client.put_records(StreamName=stream, Records=pending)
            except (ClientError, BotoCoreError) as exc:
                if attempt == attempts - 1:
                    raise errors.TransientFailure("the events stream is unavailable, retry later") from exc
                time.sleep(0.05 * 2**attempt)
                continue
            if not response.get("FailedRecordCount"):
                break
            pending = [
                record
                for record, result in zip(pending, response["Records"], strict=True)
                if result.get("ErrorCode")
            ]
            if attempt == attempts - 1:
                raise errors.TransientFailure("the events stream is throttling, retry later")
            time.sleep(0.05 * 2**attempt)
