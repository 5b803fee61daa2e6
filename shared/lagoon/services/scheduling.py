"""The "now" of a scheduled function: the schedule's `time` (EventBridge Scheduler input), never the clock,
so a late or repeated run acts as of the moment it was scheduled for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lagoon.domain.times import parse_iso


def scheduled_time(event: dict[str, Any]) -> datetime:
    """`event["time"]` (ISO 8601) in UTC; the current time if the event carries none."""
    value = event.get("time")
    if not value:
        return datetime.now(UTC)
    parsed = parse_iso(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
