"""The aggregator's Kinesis entry point: decode the records with Powertools' BatchProcessor, then apply them
all at once (DynamoDB work is batched across records, never one record at a time).

Failure semantics (TOOLCHAIN-NOTES): a record Lagoon cannot read is logged and skipped — retrying it would
never succeed, and there is no organization to report it to; any storage error fails the whole batch (an
exception), which Lambda retries (bisecting), and the aggregator's watermarks make the retry exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from lagoon.domain.events import MalformedRecord, StreamRecord, decode_record
from lagoon.ingestion.aggregator import Aggregator, BatchReport
from lagoon.observability import logger

_processor: list[BatchProcessor] = []


def _batch_processor() -> BatchProcessor:
    if not _processor:
        _processor.append(BatchProcessor(event_type=EventType.KinesisDataStreams))
    return _processor[0]


def decode_kinesis_record(record: KinesisStreamRecord) -> StreamRecord:
    shard_id = (record.event_id or "").split(":", 1)[0] or "shardId-000000000000"
    arrived = datetime.fromtimestamp(float(record.kinesis.approximate_arrival_timestamp), tz=UTC)
    return decode_record(record.kinesis.data_as_bytes(), shard_id, record.kinesis.sequence_number, arrived)


def process_kinesis_event(event: dict[str, Any], aggregator: Aggregator) -> dict[str, Any]:
    """Decode every record, apply the batch, answer `batchItemFailures` (empty unless decoding failed)."""
    records = event.get("Records") or []
    if not records:
        return {"batchItemFailures": []}
    decoded: list[StreamRecord] = []

    def decode(record: KinesisStreamRecord) -> None:
        try:
            decoded.append(decode_kinesis_record(record))
        except MalformedRecord as exc:
            logger.error(
                "unreadable stream record skipped",
                extra={"sequence_number": record.kinesis.sequence_number, "reason": str(exc)},
            )

    processor = _batch_processor()
    with processor(records=records, handler=decode):
        processor.process()
    report: BatchReport = aggregator.apply(decoded) if decoded else BatchReport()
    logger.info("batch applied", extra={"report": report.__dict__})
    return dict(processor.response())
