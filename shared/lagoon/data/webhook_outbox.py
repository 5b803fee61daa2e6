"""Delivery state of outbox messages: find due ones, claim them with a lease, record progress, retry failures.

A message waits in the sparse index `pending-by-next-attempt` (pending_shard, next_attempt_at). Claiming is a
conditional update that moves `next_attempt_at` to the end of a lease and names the run holding it: a
concurrent dispatcher that read the same index entry fails the condition, and if the holder dies the
message simply becomes due again when the lease ends (nothing is lost; it may be sent twice — at-least-once).
Progress is written only by the run holding the lease. Failed messages are also indexed per organization in
the entity store (kind `webhook_failure`) so they can be listed and retried.
"""

from __future__ import annotations

import json
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, QueryError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from lagoon import errors
from lagoon.data.connection import ensure_bound, transaction_connection
from lagoon.data.entities import OUTBOX_SHARDS, partition
from lagoon.data.records import EntityRecord, OutboxRecord

FAILURE_KIND = "webhook_failure"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
SHARDS = tuple(f"p{n}" for n in range(OUTBOX_SHARDS))


@dataclass
class OutboxEntry:
    """An outbox message with its delivery state (`deliveries`: endpoint lago_id -> delivery dict)."""

    message_id: str
    organization_id: str
    webhook_type: str
    object_type: str
    payload: str
    created_at: str
    status: str
    attempts: int
    next_attempt_at: str | None
    lease_owner: str | None = None
    finished_at: str | None = None
    deliveries: dict[str, dict[str, Any]] | None = None
    # The index entry this entry was read from (what a claim must still find).
    seen_next_attempt_at: str | None = field(default=None, repr=False)


def _entry(record: OutboxRecord) -> OutboxEntry:
    return OutboxEntry(
        message_id=record.message_id,
        organization_id=record.organization_id,
        webhook_type=record.webhook_type,
        object_type=record.object_type,
        payload=record.payload,
        created_at=record.created_at,
        status=record.status,
        attempts=int(record.attempts or 0),
        next_attempt_at=record.next_attempt_at,
        lease_owner=record.lease_owner,
        finished_at=record.finished_at,
        deliveries=json.loads(record.deliveries) if record.deliveries else None,
        seen_next_attempt_at=record.next_attempt_at,
    )


def shard_of(message_id: str) -> str:
    """The same shard `entities.Writes.message` chose for the message."""
    try:
        return f"p{int(uuid.UUID(message_id)) % OUTBOX_SHARDS}"
    except ValueError:
        return f"p{zlib.crc32(message_id.encode()) % OUTBOX_SHARDS}"


@dataclass
class DuePage:
    entries: list[OutboxEntry]
    next_key: dict[str, Any] | None


def due_messages(shard: str, now: str, limit: int, start_key: dict[str, Any] | None = None) -> DuePage:
    """Pending messages of one shard whose next attempt is at or before `now`, oldest first (eventually
    consistent: a claim re-checks against the table)."""
    ensure_bound()
    results = OutboxRecord.pending_index.query(
        shard,
        OutboxRecord.next_attempt_at <= now,
        limit=limit,
        last_evaluated_key=start_key,
    )
    try:
        entries = [_entry(record) for record in results]
    except QueryError as exc:
        raise errors.TransientFailure("could not read the due outbox messages") from exc
    return DuePage(entries, results.last_evaluated_key)


def get(message_id: str) -> OutboxEntry | None:
    ensure_bound()
    try:
        return _entry(OutboxRecord.get(message_id, consistent_read=True))
    except DoesNotExist:
        return None


def claim(entry: OutboxEntry, run_id: str, lease_until: str) -> OutboxEntry | None:
    """Take the message for `run_id` until `lease_until`, or None if another run changed it first."""
    ensure_bound()
    record = OutboxRecord(entry.message_id)
    try:
        record.update(
            actions=[
                OutboxRecord.next_attempt_at.set(lease_until),
                OutboxRecord.lease_owner.set(run_id),
                OutboxRecord.attempts.add(1),
            ],
            condition=(OutboxRecord.status == PENDING)
            & (OutboxRecord.next_attempt_at == entry.seen_next_attempt_at),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise errors.TransientFailure("could not claim an outbox message") from exc
    return _entry(record)


def _connection() -> Connection:
    return transaction_connection()


def save_progress(
    entry: OutboxEntry,
    run_id: str,
    *,
    status: str,
    deliveries: dict[str, dict[str, Any]],
    next_attempt_at: str | None,
    finished_at: str | None,
    expires_at: datetime | None,
    failure: dict[str, Any] | None = None,
) -> bool:
    """Record what a run did and hand the message back (due again at `next_attempt_at`, or finished).

    Only the lease holder may write; returns False if the lease was lost (another run took the message over).
    A `failure` document is indexed in the same transaction when the message ends `failed`.
    """
    ensure_bound()
    actions: list[Any] = [
        OutboxRecord.status.set(status),
        OutboxRecord.deliveries.set(json.dumps(deliveries, separators=(",", ":"))),
        OutboxRecord.lease_owner.remove(),
    ]
    if next_attempt_at is not None:
        actions += [
            OutboxRecord.next_attempt_at.set(next_attempt_at),
            OutboxRecord.pending_shard.set(shard_of(entry.message_id)),
        ]
    else:
        actions += [OutboxRecord.next_attempt_at.remove(), OutboxRecord.pending_shard.remove()]
    actions.append(
        OutboxRecord.finished_at.set(finished_at) if finished_at else OutboxRecord.finished_at.remove()
    )
    actions.append(
        OutboxRecord.expires_at.set(expires_at) if expires_at else OutboxRecord.expires_at.remove()
    )
    condition = OutboxRecord.lease_owner == run_id
    if failure is None:
        try:
            OutboxRecord(entry.message_id).update(actions=actions, condition=condition)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise errors.TransientFailure("could not record webhook delivery progress") from exc
        return True
    index = EntityRecord(
        partition(entry.organization_id, FAILURE_KIND),
        entry.message_id,
        kind=FAILURE_KIND,
        body=json.dumps(failure, separators=(",", ":")),
        revision=1,
    )
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.update(OutboxRecord(entry.message_id), actions=actions, condition=condition)
            transaction.save(index)
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r]
        if "ConditionalCheckFailed" in reasons:
            return False
        raise errors.TransientFailure("could not record a failed webhook") from exc
    return True


def reschedule_failed(
    entry: OutboxEntry, deliveries: dict[str, dict[str, Any]], next_attempt_at: str
) -> bool:
    """A failed message becomes pending again (a manual retry); False if it was not failed any more."""
    ensure_bound()
    actions: list[Any] = [
        OutboxRecord.status.set(PENDING),
        OutboxRecord.deliveries.set(json.dumps(deliveries, separators=(",", ":"))),
        OutboxRecord.next_attempt_at.set(next_attempt_at),
        OutboxRecord.pending_shard.set(shard_of(entry.message_id)),
        OutboxRecord.finished_at.remove(),
        OutboxRecord.expires_at.remove(),
    ]
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.update(
                OutboxRecord(entry.message_id), actions=actions, condition=OutboxRecord.status == FAILED
            )
            transaction.delete(EntityRecord(partition(entry.organization_id, FAILURE_KIND), entry.message_id))
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r]
        if "ConditionalCheckFailed" in reasons:
            return False
        raise errors.TransientFailure("could not retry a failed webhook") from exc
    return True
