"""The entity store: JSON documents keyed by organization and kind, and atomic multi-item writes.

Keys: pk = "<organization_id>#<kind>", sk = key within that kind. Every read and write names the
organization, so one organization's key can never reach another's objects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import (
    DeleteError,
    DoesNotExist,
    PutError,
    PynamoDBException,
    TransactWriteError,
)
from pynamodb.transactions import TransactWrite

from lagoon import errors
from lagoon.data.connection import ensure_bound, transaction_connection
from lagoon.data.records import EntityRecord, OutboxRecord
from lagoon.domain.times import iso_microseconds

OUTBOX_SHARDS = 4
MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit, attribute names included."""
ITEM_HEADROOM = 16 * 1024
"""Kept free in every item written: what is added to it later (an outbox message's delivery log)."""


def partition(organization_id: str, kind: str) -> str:
    return f"{organization_id}#{kind}"


def now_iso() -> str:
    return iso_microseconds(datetime.now(UTC))


def get(organization_id: str, kind: str, key: str) -> dict[str, Any] | None:
    """The stored document, or None. Nothing is stored under an empty key (DynamoDB refuses one, even in a
    read): a request naming an empty id or code finds nothing, as any unknown one."""
    if not key:
        return None
    ensure_bound()
    try:
        record = EntityRecord.get(partition(organization_id, kind), key, consistent_read=True)
    except DoesNotExist:
        return None
    return json.loads(record.body)  # type: ignore[no-any-return]


def get_many(organization_id: str, kind: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Documents by key (missing keys, and empty ones as in `get`, are absent from the result)."""
    ensure_bound()
    pk = partition(organization_id, kind)
    unique = [key for key in dict.fromkeys(keys) if key]
    found: dict[str, dict[str, Any]] = {}
    for record in EntityRecord.batch_get([(pk, key) for key in unique]):
        found[record.sk] = json.loads(record.body)
    return found


def delete_many(organization_id: str, kind: str, keys: list[str]) -> None:
    """Delete these documents unconditionally, 25 a BatchWriteItem request."""
    if not keys:
        return
    ensure_bound()
    pk = partition(organization_id, kind)
    try:
        with EntityRecord.batch_write() as batch:
            for key in dict.fromkeys(keys):
                batch.delete(EntityRecord(pk, key))
    except PynamoDBException as exc:
        raise errors.TransientFailure("the deletes could not be written") from exc


def query(organization_id: str, kind: str, prefix: str | None = None) -> Iterator[dict[str, Any]]:
    """Every document of a kind for an organization, in key order."""
    ensure_bound()
    condition = EntityRecord.sk.startswith(prefix) if prefix else None
    for record in EntityRecord.query(partition(organization_id, kind), condition, consistent_read=True):
        yield json.loads(record.body)


def keys(organization_id: str, kind: str, prefix: str) -> list[str]:
    """The keys of a kind that start with `prefix`, in key order (one Query of small items: index entries)."""
    ensure_bound()
    condition = EntityRecord.sk.startswith(prefix)
    return [
        record.sk
        for record in EntityRecord.query(
            partition(organization_id, kind), condition, consistent_read=True, attributes_to_get=["sk"]
        )
    ]


def revision_of(document: dict[str, Any]) -> int:
    """The revision a document was read at. Documents that change under a condition carry it in their body
    (the item's `revision` attribute mirrors it); one never changed that way is at revision 1."""
    return int(document.get("revision", 1))


def read_sequence(organization_id: str, counter: str) -> int:
    """The last number a per-organization counter gave (0 before the first); take the next one with
    `Writes.take_sequence`, in the transaction that uses it, so that a failed write burns no number."""
    ensure_bound()
    try:
        record = EntityRecord.get(partition(organization_id, "counter"), counter, consistent_read=True)
    except DoesNotExist:
        return 0
    return int(record.revision)


def _item_bytes(record: Any) -> int:
    """The stored size of a record, close enough to DynamoDB's count: names and UTF-8 values, numbers 21 bytes."""
    return sum(
        len(name) + (len(value.encode()) if isinstance(value, str) else 21)
        for name, value in record.attribute_values.items()
    )


def _check_item_size(record: Any, what: str) -> None:
    """A document too large to store is the caller's (413), never a retryable failure: sending it again
    cannot fit it (DynamoDB refuses items over 400 KB with a ValidationException, which was a 503)."""
    if _item_bytes(record) > MAX_ITEM_BYTES - ITEM_HEADROOM:
        raise errors.PayloadTooLarge(
            f"the {what} is larger than the {MAX_ITEM_BYTES // 1024} KB Lagoon can store"
        )


@dataclass
class OutboxMessage:
    """A webhook message: `{"webhook_type", "object_type", "organization_id", object_type: payload}`."""

    organization_id: str
    webhook_type: str
    object_type: str
    payload: dict[str, Any]
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Writes:
    """A batch of puts/deletes committed atomically, with the outbox messages they cause (DynamoDB transaction)."""

    _actions: list[tuple[str, Any, Any]] = field(default_factory=list)

    def put(
        self,
        organization_id: str,
        kind: str,
        key: str,
        body: dict[str, Any],
        *,
        must_exist: bool = False,
        must_not_exist: bool = False,
        expected_revision: int | None = None,
        revision: int | None = None,
    ) -> Writes:
        """Put `body`; the item's revision is `revision`, else the body's own (`revision_of`)."""
        record = EntityRecord(
            partition(organization_id, kind),
            key,
            kind=kind,
            body=json.dumps(body, default=str),
            revision=revision_of(body) if revision is None else revision,
        )
        _check_item_size(record, kind.replace("_", " "))
        condition: Any = None
        if must_not_exist:
            condition = EntityRecord.pk.does_not_exist()
        elif must_exist:
            condition = EntityRecord.pk.exists()
        if expected_revision is not None:
            condition = EntityRecord.revision == expected_revision
        self._actions.append(("put", record, condition))
        return self

    def put_revised(self, organization_id: str, kind: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace a document with `body`, a change of the document as read (its `revision`), on the condition
        that nobody changed it since (else the commit raises ConflictRetry: read again and decide again).
        Returns the document as stored, one revision further."""
        read = revision_of(body)
        stored = {**body, "revision": read + 1}
        self.put(organization_id, kind, key, stored, expected_revision=read)
        return stored

    def require(self, organization_id: str, kind: str, key: str, revision: int) -> Writes:
        """Write nothing to this document, but commit only if it is still at `revision` (a change that depends
        on it, e.g. a coupon applied while the coupon is deleted, fails with ConflictRetry)."""
        record = EntityRecord(partition(organization_id, kind), key)
        self._actions.append(("check", record, EntityRecord.revision == revision))
        return self

    def take_sequence(self, organization_id: str, counter: str, last: int) -> int:
        """The next number of a counter whose last number was `last` (`read_sequence`), taken in this
        transaction on the condition that nobody took it meanwhile: numbers are unique and gapless."""
        taken = last + 1
        self.put(
            organization_id,
            "counter",
            counter,
            {},
            must_not_exist=last == 0,
            expected_revision=last or None,
            revision=taken,
        )
        return taken

    def delete(
        self,
        organization_id: str,
        kind: str,
        key: str,
        *,
        must_exist: bool = False,
        expected_revision: int | None = None,
    ) -> Writes:
        record = EntityRecord(partition(organization_id, kind), key)
        condition: Any = EntityRecord.pk.exists() if must_exist else None
        if expected_revision is not None:
            condition = EntityRecord.revision == expected_revision
        self._actions.append(("delete", record, condition))
        return self

    def message(self, message: OutboxMessage) -> Writes:
        shard = int(uuid.UUID(message.message_id)) % OUTBOX_SHARDS
        created = now_iso()
        record = OutboxRecord(
            message.message_id,
            organization_id=message.organization_id,
            webhook_type=message.webhook_type,
            object_type=message.object_type,
            payload=json.dumps(message.payload, default=str),
            created_at=created,
            status="pending",
            attempts=0,
            pending_shard=f"p{shard}",
            next_attempt_at=created,
        )
        _check_item_size(record, f"{message.webhook_type} webhook")
        self._actions.append(("put", record, OutboxRecord.message_id.does_not_exist()))
        return self

    def __len__(self) -> int:
        return len(self._actions)

    def commit(self) -> None:
        """Write everything or nothing. A failed condition raises ConflictRetry."""
        if not self._actions:
            return
        ensure_bound()
        if len(self._actions) == 1 and self._actions[0][0] != "check":
            self._commit_single()
            return
        connection = transaction_connection()
        try:
            with TransactWrite(connection=connection) as transaction:
                for action, record, condition in self._actions:
                    if action == "put":
                        transaction.save(record, condition=condition)
                    elif action == "check":
                        transaction.condition_check(EntityRecord, record.pk, record.sk, condition=condition)
                    else:
                        transaction.delete(record, condition=condition)
        except TransactWriteError as exc:
            reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r]
            if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                # A condition failed, or another transaction was writing one of these items at the same
                # moment: either way a concurrent change won, and the caller reads again.
                raise errors.ConflictRetry("a concurrent change won") from exc
            raise errors.TransientFailure("the write could not be committed") from exc

    def _commit_single(self) -> None:
        action, record, condition = self._actions[0]
        try:
            if action == "put":
                record.save(condition=condition)
            else:
                record.delete(condition=condition)
        except (PutError, DeleteError) as exc:
            if exc.cause_response_code in ("ConditionalCheckFailedException", "TransactionConflictException"):
                raise errors.ConflictRetry("a concurrent change won") from exc
            raise errors.TransientFailure("the write could not be committed") from exc
