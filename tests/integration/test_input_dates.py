"""Date and date-time inputs: refused as Lago refuses them (422 `invalid_date`), never a 500, and always
rendered as RFC 3339 (four-digit years) — year 451 used to come back as `"451-04-18T17:08:16Z"`."""

from __future__ import annotations

import pytest

from tests.integration.catalog.test_coupons import coupon_body
from tests.integration.ingestion.conftest import create_plan, subscribe

OUT_OF_RANGE = [
    "0001-01-01T00:00:00+01:00",  # year 0 once in UTC: OverflowError, a 500
    "9999-12-31T23:59:59-01:00",  # year 10000 once in UTC
]
NOT_DATES = [
    "%FF",
    "\ufffd",
    "\x00",
    "2024-13-45",
    "451-04-18T00:00:00Z",
    "99999-01-01",
    "-1",
    "1e308",
    "NaN",
    "1",
]


def _invalid(field: str) -> dict[str, object]:
    return {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {field: ["invalid_date"]},
    }


@pytest.mark.parametrize("field", ["timestamp_from", "timestamp_to"])
def test_event_list_timestamps_that_are_not_iso_dates_are_invalid_dates(api, field):
    # Each of these used to answer 500 (a pydantic error raised inside the route)
    for value in NOT_DATES + OUT_OF_RANGE:
        response = api.get("/events", query={field: value})
        assert (response.status, response.json) == (422, _invalid(field)), value
    # A date long before any event is a valid bound
    assert api.get("/events", query={field: "0451-04-18T00:00:00Z"}).json["events"] == []


@pytest.mark.parametrize("field", ["created_at_from", "succeeded_at_to", "failed_at_from", "refunded_at_to"])
def test_fee_list_date_filters_are_iso_dates(api, field):
    # Lago's FeesQuery parses them with `parse_datetime_filter`: anything else is `invalid_date`
    for value in ["yesterday", "1700000000", *OUT_OF_RANGE]:
        response = api.get("/fees", query={field: value})
        assert (response.status, response.json) == (422, _invalid(field)), value


@pytest.mark.parametrize("field", ["subscription_at", "ending_at"])
def test_subscription_dates_out_of_range_are_invalid_dates(api, field):
    create_plan(api)
    for value in [*OUT_OF_RANGE, "451-04-18T00:00:00Z", 1700000000]:
        response = api.post(
            "/subscriptions",
            {
                "subscription": {
                    "external_customer_id": "c",
                    "plan_code": "startup",
                    "external_id": "s",
                    field: value,
                }
            },
        )
        assert (response.status, response.json) == (422, _invalid(field)), value
    assert api.get("/subscriptions").json["subscriptions"] == []


def test_a_subscription_dated_year_451_renders_a_four_digit_year(api):
    create_plan(api)
    subscription = subscribe(api, subscription_at="0451-04-18T17:08:16Z", ending_at="9999-12-31T23:59:59Z")
    assert subscription["subscription_at"] == "0451-04-18T17:08:16Z"
    assert subscription["started_at"] == "0451-04-18T17:08:16Z"
    assert subscription["ending_at"] == "9999-12-31T23:59:59Z"


def test_a_coupon_expiring_in_year_451_is_in_the_past(api):
    # "0451-04-18T17:08:16Z" was stored as "451-04-18T17:08:16Z", which compared after today as text: the
    # coupon was accepted (Lago refuses an expiration_at before today) and rendered without RFC 3339's 4 digits
    response = api.post(
        "/coupons", coupon_body(expiration="time_limit", expiration_at="0451-04-18T17:08:16Z")
    )
    assert (response.status, response.json) == (422, _invalid("expiration_at"))
    for value in OUT_OF_RANGE:
        response = api.post("/coupons", coupon_body(expiration="time_limit", expiration_at=value))
        assert (response.status, response.json) == (422, _invalid("expiration_at")), value
    assert api.get("/coupons").json["coupons"] == []
    # The last second a datetime holds is kept as sent
    far = api.post("/coupons", coupon_body(expiration="time_limit", expiration_at="9999-12-31T23:59:59Z"))
    assert far.json["coupon"]["expiration_at"] == "9999-12-31T23:59:59Z"


def _one_off(api, **dates):
    return api.post(
        "/invoices",
        {
            "invoice": {
                "external_customer_id": "cus",
                "currency": "EUR",
                "fees": [{"add_on_code": "setup", **dates}],
            }
        },
    )


def test_one_off_fee_boundaries_follow_lago(api):
    assert api.post("/customers", {"customer": {"external_id": "cus"}}).status == 200
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 1000, "amount_currency": "EUR"}
    assert api.post("/add_ons", {"add_on": add_on}).status == 200
    refused = {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"boundaries": ["values_are_invalid"]},
    }
    # Lago Fees::OneOffService#valid_boundaries?: both or neither, ISO 8601, from <= to (any text was stored)
    for dates in (
        {"from_datetime": "2024-01-01T00:00:00Z"},
        {"to_datetime": "2024-01-01T00:00:00Z"},
        {"from_datetime": "x" * 1000, "to_datetime": "2024-01-01T00:00:00Z"},
        {"from_datetime": "2024-02-01T00:00:00Z", "to_datetime": "2024-01-01T00:00:00Z"},
        {"from_datetime": OUT_OF_RANGE[0], "to_datetime": "2024-01-01T00:00:00Z"},
    ):
        response = _one_off(api, **dates)
        assert (response.status, response.json) == (422, refused), dates
    assert api.get("/invoices").json["invoices"] == []
    # Valid boundaries are rendered in UTC with four-digit years
    created = _one_off(api, from_datetime="0451-04-18T00:00:00+02:00", to_datetime="2024-01-31")
    assert created.status == 200, created.body
    (fee,) = created.json["invoice"]["fees"]
    assert (fee["from_date"], fee["to_date"]) == ("0451-04-17T22:00:00Z", "2024-01-31T00:00:00Z")
