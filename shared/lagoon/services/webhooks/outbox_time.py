"""Time as the webhook outbox records it and as the dispatcher's schedule gives it (docs/webhooks.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from lagoon.domain.times import iso_microseconds, parse_iso


def iso(moment: datetime) -> str:
    """The timestamp format of the outbox (sortable as text)."""
    return iso_microseconds(moment)


def parse_time(value: str | None) -> datetime:
    """An EventBridge `time` ("2026-12-01T00:00:00Z"); the clock when absent."""
    if not value:
        return datetime.now(UTC)
    parsed = parse_iso(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
