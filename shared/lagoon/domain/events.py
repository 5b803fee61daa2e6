"""Usage events: the request bodies of `/events` and `/events/batch`, and the stream record format.

Shape and answers follow DECISIONS.md "Events": `transaction_id`, `external_subscription_id` and `code` are
required; `timestamp` is seconds since the epoch (integer, decimal or numeric string; missing → the time of
reception); explicit nulls mean "absent" (lago-python-client sends them, lago-python-client-notes.md).

The Kinesis record format (docs/ingestion.md) is one JSON object per record carrying one or more events of
one (organization, external_subscription_id), so a subscription's events stay ordered on one shard and a
batch of 100 events over 10 subscriptions costs 10 records, not 100.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from lagoon.domain.bounds import CatalogCode, StoreKey
from lagoon.engine.numbers import in_bounds
from lagoon.models import LagoonModel

RECORD_VERSION = 1
MAX_BATCH_EVENTS = 100
MAX_RECORD_BYTES = 1_000_000
"""A Kinesis record holds 1 MiB of data and partition key: a batch's events of one subscription are split
over records of at most this size (a 100-event batch of 64 KiB events is 6.4 MB of JSON)."""
MAX_PROPERTIES_BYTES = 64 * 1024
"""Largest event `properties`, as JSON: an event is one DynamoDB item (400 KB) and rides in a stream record
(1 MiB) with others of its subscription (docs/decisions.md "Input bounds")."""
# Stored statuses (`st`) of events that wait for a subscription and are replayed when one may cover them
# (lagoon.ingestion.resolution): none existed yet, or a pending one will.
STATUS_UNKNOWN_SUBSCRIPTION = "unknown_subscription"
STATUS_PENDING_SUBSCRIPTION = "pending_subscription"
WAITING_STATUSES = frozenset({STATUS_UNKNOWN_SUBSCRIPTION, STATUS_PENDING_SUBSCRIPTION})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Timestamps Lagoon accepts: from 1970 to 9999 (anything else is a typo, e.g. milliseconds sent as seconds).
_MAX_TIMESTAMP = Decimal(253402300799)
_PropertyValue = str | int | float | bool | None


def parse_timestamp(value: Any) -> Decimal:
    """Seconds since the epoch from an integer, a decimal or a numeric string; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a timestamp")
    if isinstance(value, int | Decimal):
        seconds = Decimal(value)
    elif isinstance(value, float):
        seconds = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            seconds = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError("not a timestamp") from exc
    else:
        raise ValueError("not a timestamp")
    if not seconds.is_finite() or seconds < 0 or seconds > _MAX_TIMESTAMP:
        raise ValueError("timestamp out of range")
    return seconds


def _timestamp(value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise PydanticCustomError("invalid_timestamp", "timestamp must be seconds since the epoch") from None


EventTimestamp = Annotated[Decimal | None, BeforeValidator(_timestamp)]
"""Seconds since the epoch, 1970 to 9999 (`parse_timestamp`), else `invalid_timestamp`."""


def _amount(value: Any) -> Any:
    """A decimal amount in cents, within the engine's bounded numbers (`1e308` was accepted and stored)."""
    if value is None:
        return None
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise PydanticCustomError("value_is_invalid", "not a number") from None
    if not in_bounds(parsed):
        raise PydanticCustomError("value_is_invalid", "not a number of at most 20 digits and 26 decimals")
    return str(value)


class EventInput(LagoonModel):
    """`EventInputObject`. Strings are required non-empty; unknown fields (external_customer_id…) are ignored."""

    model_config = ConfigDict(extra="ignore")

    transaction_id: StoreKey
    external_subscription_id: StoreKey
    code: CatalogCode
    timestamp: EventTimestamp = None
    precise_total_amount_cents: Annotated[str | None, BeforeValidator(_amount)] = None
    properties: dict[str, Any] | None = None

    @field_validator("transaction_id", "external_subscription_id", "code", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return numeric_id_as_text(value)

    @field_validator("properties")
    @classmethod
    def _scalar_properties(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        value = scalar_properties(value)
        if value is not None and len(json.dumps(value, separators=(",", ":"))) > MAX_PROPERTIES_BYTES:
            raise PydanticCustomError("value_is_too_long", "event properties are at most 64 KiB of JSON")
        return value


def numeric_id_as_text(value: Any) -> Any:
    """Lago accepts numeric ids and codes and stores them as strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def scalar_properties(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Event properties are scalar values (strings, numbers, booleans, null), else `value_is_invalid`."""
    if value is None:
        return None
    for item in value.values():
        if not isinstance(item, _PropertyValue):  # type: ignore[arg-type]
            raise PydanticCustomError("value_is_invalid", "event properties must be scalar values")
    return value


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """An accepted event, normalised: the timestamp in microseconds since the epoch (UTC)."""

    transaction_id: str
    external_subscription_id: str
    code: str
    timestamp_us: int
    properties: dict[str, Any]
    precise_total_amount_cents: str | None = None

    @classmethod
    def from_input(cls, data: EventInput, received_at: datetime) -> IncomingEvent:
        seconds = data.timestamp if data.timestamp is not None else _seconds(received_at)
        return cls(
            transaction_id=data.transaction_id,
            external_subscription_id=data.external_subscription_id,
            code=data.code,
            timestamp_us=int(seconds * 1_000_000),
            properties=dict(data.properties or {}),
            precise_total_amount_cents=data.precise_total_amount_cents,
        )

    @property
    def timestamp(self) -> datetime:
        return microseconds_to_datetime(self.timestamp_us)

    def to_record_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "code": self.code,
            "timestamp": format_seconds(self.timestamp_us),
            "properties": self.properties,
        }
        if self.precise_total_amount_cents is not None:
            event["precise_total_amount_cents"] = self.precise_total_amount_cents
        return event


def _seconds(moment: datetime) -> Decimal:
    delta = moment - _EPOCH
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def microseconds_to_datetime(timestamp_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=timestamp_us)


def datetime_to_microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def format_seconds(timestamp_us: int) -> str:
    """Microseconds as a seconds string: "1700000000" or "1700000000.123456" (no float rounding)."""
    seconds, micros = divmod(timestamp_us, 1_000_000)
    return str(seconds) if micros == 0 else f"{seconds}.{micros:06d}".rstrip("0")


def iso_timestamp(timestamp_us: int) -> str:
    """Lago renders event timestamps in ISO 8601 UTC with milliseconds: 2022-04-29T08:59:51.123Z."""
    moment = microseconds_to_datetime(timestamp_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- stream records ------------------------------------------------------------------------------------


def partition_key(organization_id: str, external_subscription_id: str) -> str:
    """Organization + subscription: a subscription's events stay ordered on one shard (≤ 256 chars)."""
    key = f"{organization_id}:{external_subscription_id}"
    if len(key) <= 256:
        return key

    return f"{organization_id}:sha256:{hashlib.sha256(external_subscription_id.encode()).hexdigest()}"


def encode_record(
    organization_id: str, external_subscription_id: str, events: list[IncomingEvent], *, replay: bool = False
) -> bytes:
    """One stream record (docs/ingestion.md): events of one (organization, external_subscription_id)."""
    body: dict[str, Any] = {
        "v": RECORD_VERSION,
        "organization_id": organization_id,
        "external_subscription_id": external_subscription_id,
        "events": [event.to_record_event() for event in events],
    }
    if replay:
        body["replay"] = True
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def encode_records(
    organization_id: str, external_subscription_id: str, events: list[IncomingEvent], *, replay: bool = False
) -> list[bytes]:
    """The stream records of one subscription's events, in order: one record, or as many halves as it takes
    for each to stay within `MAX_RECORD_BYTES` (an event's properties are bounded, so one always fits)."""
    record = encode_record(organization_id, external_subscription_id, events, replay=replay)
    if len(record) <= MAX_RECORD_BYTES or len(events) == 1:
        return [record]
    half = len(events) // 2
    return encode_records(
        organization_id, external_subscription_id, events[:half], replay=replay
    ) + encode_records(organization_id, external_subscription_id, events[half:], replay=replay)


class MalformedRecord(ValueError):
    """A stream record Lagoon cannot read (not JSON, unknown version, missing organization)."""


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """A decoded stream record: its position on the shard and its events (invalid ones kept aside)."""

    shard_id: str
    sequence_number: str
    organization_id: str
    external_subscription_id: str
    events: tuple[IncomingEvent, ...]
    arrived_ms: int
    rejected: tuple[tuple[str, str], ...] = ()
    """(transaction_id or "", reason) of events a direct producer sent that fail validation."""
    replay: bool = False
    """A replay of stored events whose subscription did not exist yet (lagoon.services.usage.events)."""


def decode_record(data: bytes, shard_id: str, sequence_number: str, arrived_at: datetime) -> StreamRecord:
    """Parse one record; events that fail `EventInput` validation are returned in `rejected`."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRecord("record data is not JSON") from exc
    if not isinstance(body, dict) or body.get("v") != RECORD_VERSION:
        raise MalformedRecord("unknown record version")
    organization_id = body.get("organization_id")
    subscription = body.get("external_subscription_id")
    raw_events = body.get("events")
    if not organization_id or not subscription or not isinstance(raw_events, list):
        raise MalformedRecord("record without organization_id, external_subscription_id or events")
    events: list[IncomingEvent] = []
    rejected: list[tuple[str, str]] = []
    for raw in raw_events:
        if not isinstance(raw, dict):
            rejected.append(("", "event is not an object"))
            continue
        try:
            parsed = EventInput.model_validate({**raw, "external_subscription_id": subscription})
        except ValueError as exc:
            rejected.append((str(raw.get("transaction_id") or ""), str(exc).splitlines()[0]))
            continue
        events.append(IncomingEvent.from_input(parsed, arrived_at))
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=sequence_number,
        organization_id=str(organization_id),
        external_subscription_id=str(subscription),
        events=tuple(events),
        arrived_ms=datetime_to_microseconds(arrived_at) // 1000,
        rejected=tuple(rejected),
        replay=body.get("replay") is True,
    )
