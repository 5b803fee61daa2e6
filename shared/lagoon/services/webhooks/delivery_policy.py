"""The delivery policy of webhook messages (docs/webhooks.md): how many attempts, how long each may take, when
a failed one is retried, how much runs in parallel, and what an attempt's outcome makes of a delivery and of
its message (succeeded, retried later with exponential backoff, or `failed` after `max_attempts`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lagoon.config import Settings, get_settings
from lagoon.data.webhook_outbox import DELIVERED, FAILED, PENDING, OutboxEntry
from lagoon.services.webhooks.http_sender import HttpResult
from lagoon.services.webhooks.outbox_time import iso, parse_time

SUCCESS_STATUSES = frozenset({200, 201, 202, 204})  # DECISIONS.md
DELIVERED_RETENTION = timedelta(days=30)
FAILED_RETENTION = timedelta(days=90)
MAX_ATTEMPTS_KEPT = 20  # attempt log entries kept per delivery (the most recent)


@dataclass(frozen=True)
class DeliveryPolicy:
    """The bounds and the retry schedule of dispatch runs (the `WEBHOOK_*` settings, docs/webhooks.md)."""

    timeout_seconds: float = 30.0
    max_attempts: int = 6
    backoff_base_seconds: float = 60.0
    backoff_factor: float = 4.0
    concurrency: int = 16
    endpoint_concurrency: int = 4
    lease_seconds: int = 360
    endpoint_backlog: int = 100
    max_open_messages: int = 1000
    max_waiting_messages: int = 2000
    page_size: int = 100

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DeliveryPolicy:
        s = settings or get_settings()
        return cls(
            timeout_seconds=s.webhook_timeout_seconds,
            max_attempts=s.webhook_max_attempts,
            backoff_base_seconds=s.webhook_backoff_base_seconds,
            backoff_factor=s.webhook_backoff_factor,
            concurrency=s.webhook_concurrency,
            endpoint_concurrency=s.webhook_endpoint_concurrency,
            lease_seconds=s.webhook_lease_seconds,
        )

    def retry_delay(self, failed_attempts: int, seed: str) -> timedelta:
        """base * factor**(n-1), plus a deterministic 0-10 % spread so a burst of failures does not retry at once."""
        delay = self.backoff_base_seconds * self.backoff_factor ** (failed_attempts - 1)
        spread = (zlib.crc32(f"{seed}#{failed_attempts}".encode()) % 1000) / 10_000
        return timedelta(seconds=delay * (1 + spread))

    def attempt_log(self, result: HttpResult, at: str, webhook_url: str) -> dict[str, Any]:
        """An attempt as the delivery's log keeps it: succeeded only on a success status answered within the
        deadline; a failure keeps its error (the HTTP status, or "timeout") and the start of the answer."""
        succeeded = result.status in SUCCESS_STATUSES and result.duration_ms <= self.timeout_seconds * 1000
        error = result.error
        if not succeeded and error is None:
            error = f"HTTP {result.status}" if result.status not in SUCCESS_STATUSES else "timeout"
        return {
            "at": at,
            "webhook_url": webhook_url,
            "outcome": "succeeded" if succeeded else "failed",
            "http_status": result.status,
            "duration_ms": result.duration_ms,
            "error": error,
            "response": result.response[:300] if not succeeded else "",
        }

    def record_attempt(self, delivery: dict[str, Any], attempt: dict[str, Any], seed: str) -> None:
        """Log `attempt` on `delivery` (the most recent `MAX_ATTEMPTS_KEPT`) and move the delivery on: succeeded,
        `failed` after `max_attempts` in this round, else due again after `retry_delay` (spread by `seed`)."""
        delivery["attempts"] = [*delivery["attempts"], attempt][-MAX_ATTEMPTS_KEPT:]
        delivery["round_attempts"] = int(delivery.get("round_attempts", 0)) + 1
        if attempt["outcome"] == "succeeded":
            delivery.update(status="succeeded", next_attempt_at=None)
        elif delivery["round_attempts"] >= self.max_attempts:
            delivery.update(status=FAILED, next_attempt_at=None)
        else:
            retry_at = parse_time(attempt["at"]) + self.retry_delay(delivery["round_attempts"], seed)
            delivery["next_attempt_at"] = iso(retry_at)


@dataclass(frozen=True)
class MessageOutcome:
    """What a message becomes when a run hands it back (the fields `webhook_outbox.save_progress` writes)."""

    status: str
    next_attempt_at: str | None = None
    finished_at: str | None = None
    expires_at: datetime | None = None
    failure: dict[str, Any] | None = None


def message_outcome(
    entry: OutboxEntry, deliveries: dict[str, dict[str, Any]], ended: datetime
) -> MessageOutcome:
    """Due again at its earliest pending delivery; else `failed` if a delivery failed (listed for operators,
    kept `FAILED_RETENTION`); else delivered (kept `DELIVERED_RETENTION`)."""
    pending = [d["next_attempt_at"] for d in deliveries.values() if d["status"] == PENDING]
    if pending:
        return MessageOutcome(PENDING, next_attempt_at=min(pending))
    if any(d["status"] == FAILED for d in deliveries.values()):
        failure = {
            "message_id": entry.message_id,
            "webhook_type": entry.webhook_type,
            "object_type": entry.object_type,
            "failed_at": iso(ended),
            "endpoint_ids": sorted(e for e, d in deliveries.items() if d["status"] == FAILED),
        }
        return MessageOutcome(
            FAILED, finished_at=iso(ended), expires_at=ended + FAILED_RETENTION, failure=failure
        )
    return MessageOutcome(DELIVERED, finished_at=iso(ended), expires_at=ended + DELIVERED_RETENTION)
