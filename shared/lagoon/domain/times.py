"""Timestamps as Lagoon writes them: UTC ISO 8601 (RFC 3339) with a `Z` and a four-digit year — seconds
precision where Lago shows a time, microseconds where stored text must sort in creation order (document stamps,
the outbox) — and the date-times an API request gives (`parse_input_datetime`)."""

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


def parse_input_datetime(value: object) -> datetime:
    """A date-time a request gives: ISO 8601 text with a `Z`, an offset or neither (UTC), as an aware UTC
    datetime. ValueError when it is not one, or when it falls outside years 1 to 9999 once in UTC (a datetime
    cannot hold it: `0001-01-01T00:00:00+01:00` used to raise OverflowError, a 500)."""
    if not isinstance(value, str):
        raise ValueError("not an ISO 8601 date-time")
    try:
        parsed = parse_iso(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("date-time out of range") from exc


def _utc_text(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS` in UTC with four year digits (strftime writes year 451 as `451`, not RFC 3339)."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"


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
    return f"{_utc_text(value)}Z"


def iso_microseconds(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z` and microseconds: sortable text (document stamps, outbox times)."""
    return f"{_utc_text(moment)}.{moment.microsecond:06d}Z"
