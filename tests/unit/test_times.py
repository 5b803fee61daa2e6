"""`lagoon.domain.times`: RFC 3339 text whatever the year, and request date-times within what a datetime holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lagoon.domain.times import iso, iso_microseconds, parse_input_datetime


def test_years_before_1000_keep_four_digits():
    moment = datetime(451, 4, 18, 17, 8, 16, 123, tzinfo=UTC)
    assert iso(moment) == "0451-04-18T17:08:16Z"
    assert iso_microseconds(moment) == "0451-04-18T17:08:16.000123Z"
    # so the stored text still sorts as the moments do
    assert iso_microseconds(moment) < iso_microseconds(datetime(2024, 1, 1, tzinfo=UTC))


def test_iso_renders_utc():
    moment = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2024-01-02T01:04:05Z"
    assert iso_microseconds(moment) == "2024-01-02T01:04:05.000006Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-01-01T10:00:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ("2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_request_datetimes_are_utc(text, expected):
    assert parse_input_datetime(text) == expected


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "451-04-18", "x", "", None, 1700000000],
)
def test_what_a_datetime_cannot_hold_is_a_value_error(value):
    with pytest.raises(ValueError):
        parse_input_datetime(value)
