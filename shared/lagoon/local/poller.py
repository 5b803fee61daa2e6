"""Kinesis event source mappings run locally: read the stream from moto, invoke the real handler.

What Lambda does and this emulates, per `Kinesis` event of a function in the template:
- One poller per shard, from the checkpoint (else `StartingPosition`: TRIM_HORIZON / LATEST), up to
  `BatchSize` records per invocation (default 100), never an empty batch; `MaximumBatchingWindowInSeconds`
  waits for a fuller batch. Records are Lambda's Kinesis shape: base64 `data`, `approximateArrivalTimestamp`
  in epoch seconds, `eventID` `shardId-…:<sequence number>`, `eventSourceARN`, …
- An exception fails the whole batch: it is retried from its first record. With
  `FunctionResponseTypes: [ReportBatchItemFailures]`, `{"batchItemFailures": [{"itemIdentifier": seq}]}`
  commits the records before the lowest failed sequence number and retries from it; an empty or missing
  list is a success; an empty/null/unknown identifier fails the whole batch (Lambda's rules).
- `BisectBatchOnFunctionError`: a failed batch of more than one record is retried in halves (not counted
  as a retry). `MaximumRetryAttempts` (default -1: until it succeeds): once exhausted the batch is skipped
  and, with `DestinationConfig.OnFailure` (SQS), Lambda's failure record (`KinesisBatchInfo`) is sent there.
- Retries back off from 50 ms to 1 s. Checkpoints are kept in `<data dir>/checkpoints.json` (flushed within
  half a second: after a crash a batch may be delivered again — at least once, as on Lambda).
Not emulated: ParallelizationFactor (one batch at a time per shard), TumblingWindowInSeconds,
FilterCriteria, MaximumRecordAgeInSeconds, resharding after start, enhanced fan-out.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lagoon.local.template import LOCAL_ACCOUNT, Template

log = logging.getLogger("lagoon-local.poller")

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class KinesisSource:
    """One `Kinesis` event of a function, with Lambda's defaults."""

    function: str
    stream: str  # physical name
    stream_arn: str
    function_arn: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    report_item_failures: bool = False
    bisect: bool = False
    max_retries: int = -1
    batching_window: float = 0.0
    on_failure_arn: str | None = None
    enabled: bool = True

    @classmethod
    def all_in(cls, template: Template) -> list[KinesisSource]:
        sources = []
        for function, stream, props in template.kinesis_triggers():
            on_failure = (props.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
            sources.append(
                cls(
                    function=function,
                    stream=template.physical_name(stream),
                    stream_arn=template.arn(stream),
                    function_arn=template.arn(function),
                    batch_size=int(template.resolve(props.get("BatchSize", 100))),
                    starting_position=str(template.resolve(props.get("StartingPosition", "TRIM_HORIZON"))),
                    report_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    bisect=bool(template.resolve(props.get("BisectBatchOnFunctionError", False))),
                    max_retries=int(template.resolve(props.get("MaximumRetryAttempts", -1))),
                    batching_window=float(template.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                    on_failure_arn=str(template.resolve(on_failure)) if on_failure else None,
                    enabled=template.resolve(props.get("Enabled", True)) not in (False, "false", "False"),
                )
            )
        return sources


def lambda_kinesis_record(
    record: dict[str, Any], shard_id: str, source: KinesisSource, region: str
) -> dict[str, Any]:
    """A boto3 GetRecords record as Lambda delivers it."""
    arrival = record["ApproximateArrivalTimestamp"]
    if isinstance(arrival, datetime):
        arrival = (arrival if arrival.tzinfo else arrival.replace(tzinfo=UTC)).timestamp()
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": round(float(arrival), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{source.function}Role",
        "awsRegion": region,
        "eventSourceARN": source.stream_arn,
    }


def lowest_failure(response: Any, batch: list[dict[str, Any]]) -> int | None:
    """Index in `batch` to retry from, per Lambda's partial batch response rules (None = success)."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return None
    positions = {int(r["SequenceNumber"]): i for i, r in enumerate(batch)}
    lowest: int | None = None
    for failure in response["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier in (None, "") or not str(identifier).isdigit() or int(identifier) not in positions:
            return 0  # Lambda treats the whole batch as failed
        index = positions[int(identifier)]
        lowest = index if lowest is None else min(lowest, index)
    return lowest


class Checkpoints:
    """{source/shard: last committed sequence number}, flushed atomically to a JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}
        self._dirty = False
        if path and path.exists():
            self._values = json.loads(path.read_text() or "{}")

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._values.get(key)

    def set(self, key: str, sequence_number: str) -> None:
        with self._lock:
            self._values[key] = sequence_number
            self._dirty = True

    def flush(self) -> None:
        with self._lock:
            if not self._dirty or self.path is None:
                return
            text, self._dirty = json.dumps(self._values, indent=1, sort_keys=True), False
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(text)
        os.replace(temporary, self.path)


@dataclass
class ShardState:
    committed: int = 0  # highest sequence number processed (or skipped)
    attempts: int = 0  # failed attempts of the batch starting at `retry_from`
    retry_from: int | None = None  # sequence number to re-read from after a failure
    limit: int = 0  # current batch size (halved by bisection)
    invocations: int = 0
    failures: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ShardPoller:
    """Delivers one shard of one event source to its function, one batch at a time."""

    def __init__(
        self,
        source: KinesisSource,
        shard_id: str,
        kinesis: Any,
        invoke: Invoke,
        checkpoints: Checkpoints,
        region: str,
        sqs: Any = None,
        backoff: tuple[float, float] = (0.05, 1.0),
    ) -> None:
        self.source = source
        self.shard_id = shard_id
        self.kinesis = kinesis
        self.invoke = invoke
        self.checkpoints = checkpoints
        self.region = region
        self.sqs = sqs
        self.backoff = backoff
        self.key = f"{source.function}/{source.stream}/{shard_id}"
        committed = checkpoints.get(self.key)
        self.state = ShardState(committed=int(committed) if committed else 0, limit=source.batch_size)
        self._iterator: str | None = None
        self._started = committed is not None
        self.progress = threading.Condition()

    # -- reading ---------------------------------------------------------------------------------
    def _new_iterator(self) -> str:
        kwargs: dict[str, Any] = {"StreamName": self.source.stream, "ShardId": self.shard_id}
        if self.state.retry_from is not None:
            kwargs.update(
                ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=str(self.state.retry_from)
            )
        elif self._started:
            kwargs.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=str(self.state.committed)
            )
        else:
            kwargs.update(ShardIteratorType=self.source.starting_position)
        return str(self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"])

    def _read(self, limit: int) -> list[dict[str, Any]]:
        if self._iterator is None:
            self._iterator = self._new_iterator()
        answer = self.kinesis.get_records(ShardIterator=self._iterator, Limit=limit)
        self._iterator = answer.get("NextShardIterator")
        return list(answer.get("Records") or [])

    def read_batch(self, stop: threading.Event | None = None) -> list[dict[str, Any]]:
        """Up to `limit` records (waiting up to the batching window for more); [] when there are none."""
        limit = self.state.limit
        batch = self._read(limit)
        if self.source.batching_window > 0 and batch and len(batch) < limit:
            deadline = time.monotonic() + self.source.batching_window
            while len(batch) < limit and time.monotonic() < deadline:
                if stop is not None and stop.wait(0.05):
                    break
                batch += self._read(limit - len(batch))
        return batch

    # -- delivering ------------------------------------------------------------------------------
    def deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Invoke the function with `batch` (non-empty); True when every record is done with."""
        assert batch, "Lambda never invokes with an empty batch"
        event = {
            "Records": [lambda_kinesis_record(r, self.shard_id, self.source, self.region) for r in batch]
        }
        self.state.invocations += 1
        try:
            response = self.invoke(self.source.function, event)
        except Exception as exc:
            failed_at: int | None = 0
            self.state.last_error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "%s failed on %d records of %s: %s", self.source.function, len(batch), self.shard_id, exc
            )
        else:
            failed_at = lowest_failure(response, batch) if self.source.report_item_failures else None
            if failed_at is not None:
                self.state.last_error = f"partial batch failure at {batch[failed_at]['SequenceNumber']}"
        if failed_at is None:
            self._commit(int(batch[-1]["SequenceNumber"]))
            self.state.limit = self.source.batch_size
            return True
        self.state.failures += 1
        if failed_at > 0:
            self._commit(int(batch[failed_at - 1]["SequenceNumber"]))
        failed = batch[failed_at:]
        first = int(failed[0]["SequenceNumber"])
        if self.state.retry_from != first:
            self.state.retry_from, self.state.attempts = first, 0
        if self.source.bisect and len(failed) > 1:
            self.state.limit = math.ceil(len(failed) / 2)  # a bisection is not a retry
        else:
            self.state.attempts += 1
            if 0 <= self.source.max_retries < self.state.attempts:
                self._give_up(failed)
                return True
        self._iterator = None  # re-read from retry_from
        return False

    def _commit(self, sequence_number: int) -> None:
        with self.progress:
            self.state.committed = max(self.state.committed, sequence_number)
            self._started = True
            if self.state.retry_from is not None and self.state.retry_from <= sequence_number:
                self.state.retry_from, self.state.attempts = None, 0
            self.checkpoints.set(self.key, str(self.state.committed))
            self.progress.notify_all()

    def _give_up(self, failed: list[dict[str, Any]]) -> None:
        """Retries exhausted: skip the batch; tell the OnFailure destination, as Lambda does."""
        log.error(
            "%s: retries exhausted on %s records %s..%s; skipped",
            self.source.function,
            self.shard_id,
            failed[0]["SequenceNumber"],
            failed[-1]["SequenceNumber"],
        )
        attempts = self.state.attempts
        self.state.retry_from, self.state.attempts, self.state.limit = None, 0, self.source.batch_size
        self._commit(int(failed[-1]["SequenceNumber"]))
        self._iterator = None
        if self.source.on_failure_arn and self.sqs is not None:
            queue = self.source.on_failure_arn.rsplit(":", 1)[-1]
            with contextlib.suppress(Exception):
                url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                self.sqs.send_message(
                    QueueUrl=url, MessageBody=json.dumps(self._failure_record(failed, attempts))
                )

    def _failure_record(self, failed: list[dict[str, Any]], attempts: int) -> dict[str, Any]:
        def arrival(record: dict[str, Any]) -> str:
            moment = record["ApproximateArrivalTimestamp"]
            if not isinstance(moment, datetime):
                moment = datetime.fromtimestamp(float(moment), UTC)
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.source.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": failed[0]["SequenceNumber"],
                "endSequenceNumber": failed[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(failed[0]),
                "approximateArrivalOfLastRecord": arrival(failed[-1]),
                "batchSize": len(failed),
                "streamArn": self.source.stream_arn,
            },
        }

    def poll_once(self, stop: threading.Event | None = None) -> str:
        """Read and deliver one batch: 'idle' (nothing to read), 'done' or 'failed' (will retry)."""
        batch = self.read_batch(stop)
        if not batch:
            return "idle"
        return "done" if self.deliver(batch) else "failed"

    def run(self, stop: threading.Event, idle_wait: float = 0.05) -> None:
        delay = self.backoff[0]
        while not stop.is_set():
            try:
                outcome = self.poll_once(stop)
            except Exception:
                log.exception("poller of %s on %s", self.source.function, self.shard_id)
                self._iterator = None
                outcome = "failed"
            if outcome == "done":
                delay = self.backoff[0]
                continue
            if outcome == "failed":
                stop.wait(delay)
                delay = min(delay * 2, self.backoff[1])
            else:
                stop.wait(idle_wait)

    def status(self) -> dict[str, Any]:
        return {
            "function": self.source.function,
            "stream": self.source.stream,
            "shard": self.shard_id,
            "committed": str(self.state.committed),
            "retrying_from": None if self.state.retry_from is None else str(self.state.retry_from),
            "invocations": self.state.invocations,
            "failures": self.state.failures,
            "last_error": self.state.last_error,
        }


class KinesisPoller:
    """Every Kinesis event source of the template, one thread per shard."""

    def __init__(
        self,
        template: Template,
        invoke: Invoke,
        kinesis: Any,
        sqs: Any = None,
        checkpoints: Checkpoints | None = None,
        tail: Callable[[str], dict[str, int]] | None = None,
        backoff: tuple[float, float] = (0.05, 1.0),
    ) -> None:
        self.template = template
        self.kinesis = kinesis
        self.checkpoints = checkpoints or Checkpoints(None)
        # {shard id: highest sequence number} of a stream; by default asked of the stream itself.
        self.tail = tail or self._tail_from_api
        self.pollers: list[ShardPoller] = []
        for source in KinesisSource.all_in(template):
            if not source.enabled:
                continue
            shards = kinesis.list_shards(StreamName=source.stream)["Shards"]
            for shard in shards:
                self.pollers.append(
                    ShardPoller(
                        source,
                        shard["ShardId"],
                        kinesis,
                        invoke,
                        self.checkpoints,
                        template.region,
                        sqs,
                        backoff,
                    )
                )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _tail_from_api(self, stream: str) -> dict[str, int]:
        """Slow path (reads the whole shard): the local stack passes moto's in-memory tail instead."""
        tails: dict[str, int] = {}
        for shard in self.kinesis.list_shards(StreamName=stream)["Shards"]:
            iterator = self.kinesis.get_shard_iterator(
                StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            highest = 0
            while iterator:
                answer = self.kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                if not answer["Records"]:
                    break
                highest = int(answer["Records"][-1]["SequenceNumber"])
                iterator = answer.get("NextShardIterator")
            tails[shard["ShardId"]] = highest
        return tails

    def start(self) -> None:
        for poller in self.pollers:
            if poller.source.starting_position == "LATEST" and not poller._started:
                # LATEST means "what arrives from now on": pin it so a restart does not skip or replay.
                poller._commit(self.tail(poller.source.stream).get(poller.shard_id, 0))
        for poller in self.pollers:
            thread = threading.Thread(
                target=poller.run, args=(self._stop,), name=f"poll-{poller.key}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        flusher = threading.Thread(target=self._flush_checkpoints, name="lagoon-checkpoints", daemon=True)
        flusher.start()
        self._threads.append(flusher)

    def _flush_checkpoints(self) -> None:
        while not self._stop.wait(0.5):
            self.checkpoints.flush()

    def drain(self, timeout: float = 120.0) -> tuple[bool, list[dict[str, Any]]]:
        """Wait until every record now on the streams has been processed; (done, status per shard)."""
        deadline = time.monotonic() + timeout
        while True:
            targets = {}
            for stream in {p.source.stream for p in self.pollers}:
                for shard_id, highest in self.tail(stream).items():
                    targets[(stream, shard_id)] = highest
            for poller in self.pollers:
                target = targets.get((poller.source.stream, poller.shard_id), 0)
                with poller.progress:
                    while poller.state.committed < target:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return False, [p.status() for p in self.pollers]
                        poller.progress.wait(min(remaining, 0.5))
            # Records put while we waited are part of "every record now on the stream": check again.
            again = {
                (stream, shard_id): highest
                for stream in {p.source.stream for p in self.pollers}
                for shard_id, highest in self.tail(stream).items()
            }
            if again == targets:
                self.checkpoints.flush()
                return True, [p.status() for p in self.pollers]

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.checkpoints.flush()
