"""Timestamps as Lagoon writes them: UTC ISO 8601 with a `Z` — seconds precision where Lago shows a time,
microseconds where stored text must sort in creation order (document stamps, the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def parse_iso(value: str) -> datetime: ...
@overload
def parse_iso(value: None) -> None: ...
@overload
def parse_iso(value: str | None) -> datetime | None: ...
def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp (`Z` or an offset) as an aware datetime; None stays None."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@overload
def iso(value: datetime) -> str: ...
@overload
def iso(value: None) -> None: ...
@overload
def iso(value: datetime | None) -> str | None: ...
def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a `Z`, seconds precision (Lago's format)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_microseconds(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z` and microseconds: sortable text (document stamps, outbox times)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
