"""Coupons and applied coupons through the real authorizer and handler, on moto."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract import assert_matches_contract
from tests.integration.catalog.builders import create_metric, create_plan


def coupon_body(code: str = "startup_deal", **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Startup Deal",
        "code": code,
        "coupon_type": "fixed_amount",
        "amount_cents": 5000,
        "amount_currency": "USD",
        "frequency": "recurring",
        "frequency_duration": 6,
        "expiration": "no_expiration",
        **fields,
    }
    return {"coupon": body}


def create_coupon(api: Any, code: str = "startup_deal", **fields: Any) -> dict[str, Any]:
    response = api.post("/coupons", coupon_body(code, **fields))
    assert response.status == 200, response.body
    return response.json["coupon"]  # type: ignore[no-any-return]


def apply(api: Any, customer: str = "hooli", coupon: str = "startup_deal", **fields: Any) -> Any:
    return api.post(
        "/applied_coupons",
        {"applied_coupon": {"external_customer_id": customer, "coupon_code": coupon, **fields}},
    )


@pytest.fixture
def customer(api):
    assert api.post("/customers", {"customer": {"external_id": "hooli"}}).status == 200
    return "hooli"


def test_create_coupon_limited_to_plans(api):
    create_plan(api, "startup_plan")
    response = api.post(
        "/coupons",
        coupon_body(
            expiration="time_limit",
            expiration_at="2099-08-08T23:59:59Z",
            applies_to={"plan_codes": ["startup_plan"]},
        ),
    )
    assert response.status == 200, response.body
    coupon = response.json["coupon"]
    assert coupon["limited_plans"] is True
    assert coupon["limited_billable_metrics"] is False
    assert coupon["plan_codes"] == ["startup_plan"]
    assert coupon["reusable"] is True
    assert coupon["expiration_at"] == "2099-08-08T23:59:59Z"
    assert_matches_contract("/coupons", "post", 200, response.json)


def test_percentage_coupon_limited_to_metrics(api):
    create_metric(api)
    coupon = create_coupon(
        api,
        coupon_type="percentage",
        percentage_rate="10.5",
        amount_cents=None,
        amount_currency=None,
        frequency="forever",
        applies_to={"billable_metric_codes": ["storage"]},
    )
    assert coupon["percentage_rate"] == "10.5"
    assert coupon["billable_metric_codes"] == ["storage"]


@pytest.mark.parametrize(
    ("fields", "status", "expected"),
    [
        ({"amount_cents": None}, 422, {"amount_cents": ["value_is_mandatory"]}),
        ({"amount_currency": None}, 422, {"amount_currency": ["value_is_mandatory"]}),
        ({"coupon_type": "percentage"}, 422, {"percentage_rate": ["value_is_mandatory"]}),
        ({"frequency_duration": None}, 422, {"frequency_duration": ["value_is_mandatory"]}),
        ({"expiration_at": "2001-01-01T00:00:00Z"}, 422, {"expiration_at": ["invalid_date"]}),
        ({"frequency": "weekly"}, 422, {"frequency": ["value_is_invalid"]}),
    ],
)
def test_invalid_coupons_are_refused(api, fields, status, expected):
    response = api.post("/coupons", coupon_body(**fields))
    assert response.status == status
    assert response.json["error_details"] == expected


def test_coupon_limits_must_exist_and_be_of_one_kind(api):
    assert (
        api.post("/coupons", coupon_body(applies_to={"plan_codes": ["nope"]})).json["code"]
        == "plans_not_found"
    )
    create_plan(api)
    create_metric(api)
    both = coupon_body(applies_to={"plan_codes": ["startup"], "billable_metric_codes": ["storage"]})
    response = api.post("/coupons", both)
    assert (response.status, response.json["code"]) == (405, "only_one_limitation_type_per_coupon_allowed")


def test_coupon_crud_and_isolation(api, other_api):
    create_coupon(api)
    assert api.post("/coupons", coupon_body()).json["error_details"] == {"code": ["value_already_exist"]}
    got = api.get("/coupons/startup_deal")
    updated = api.put("/coupons/startup_deal", {"coupon": {"name": "Deal", "amount_cents": 100}})
    assert updated.status == 200
    assert (updated.json["coupon"]["name"], updated.json["coupon"]["amount_cents"]) == ("Deal", 100)
    listed = api.get("/coupons")
    assert other_api.get("/coupons/startup_deal").status == 404
    deleted = api.delete("/coupons/startup_deal")
    assert api.get("/coupons/startup_deal").status == 404
    assert api.post("/coupons", coupon_body()).status == 200
    assert_matches_contract("/coupons/{code}", "get", 200, got.json)
    assert_matches_contract("/coupons/{code}", "put", 200, updated.json)
    assert_matches_contract("/coupons", "get", 200, listed.json)
    assert_matches_contract("/coupons/{code}", "delete", 200, deleted.json)


def test_apply_coupon_with_overrides_locks_the_customer_currency(api, customer):
    create_coupon(api)
    response = apply(
        api, amount_cents=2500, amount_currency="EUR", frequency="recurring", frequency_duration=3
    )
    assert response.status == 200, response.body
    applied = response.json["applied_coupon"]
    assert applied["amount_cents"] == 2500
    assert applied["amount_currency"] == "EUR"
    assert applied["frequency_duration_remaining"] == 3
    assert applied["status"] == "active"
    assert applied["external_customer_id"] == "hooli"
    assert api.get("/customers/hooli").json["customer"]["currency"] == "EUR"
    assert_matches_contract("/applied_coupons", "post", 200, response.json)


def test_a_fixed_coupon_in_another_currency_than_the_customer_is_refused(api):
    api.post("/customers", {"customer": {"external_id": "hooli", "currency": "USD"}})
    create_coupon(api, amount_currency="EUR")
    response = apply(api)
    assert response.status == 422
    assert response.json["error_details"] == {"currency": ["currencies_does_not_match"]}


def test_once_fixed_coupon_shows_the_remaining_amount(api, customer):
    create_coupon(api, frequency="once", frequency_duration=None)
    applied = apply(api).json["applied_coupon"]
    assert applied["amount_cents_remaining"] == 5000


def test_a_non_reusable_coupon_is_applied_once(api, customer):
    create_coupon(api, reusable=False)
    assert apply(api).status == 200
    again = apply(api)
    assert again.status == 422
    assert again.json["error_details"] == {"coupon": ["coupon_is_not_reusable"]}


def test_unknown_customer_or_coupon_is_404(api, customer):
    assert apply(api, customer="nobody").json["code"] == "customer_not_found"
    assert apply(api).json["code"] == "coupon_not_found"


def test_overlapping_limited_coupons_are_refused(api, customer):
    create_plan(api)
    create_coupon(api, "a", applies_to={"plan_codes": ["startup"]})
    create_coupon(api, "b", applies_to={"plan_codes": ["startup"]})
    assert apply(api, coupon="a").status == 200
    response = apply(api, coupon="b")
    assert (response.status, response.json["code"]) == (405, "plan_overlapping")


def test_list_filter_and_terminate_applied_coupons(api, other_api, customer):
    create_coupon(api, "a")
    create_coupon(api, "b")
    first = apply(api, coupon="a").json["applied_coupon"]
    apply(api, coupon="b")
    listed = api.get("/applied_coupons", query=[("coupon_code[]", "a")])
    assert listed.status == 200
    assert [a["coupon_code"] for a in listed.json["applied_coupons"]] == ["a"]
    assert listed.json["applied_coupons"][0]["credits"] == []
    by_customer = api.get("/customers/hooli/applied_coupons", query={"status": "active"})
    assert by_customer.json["meta"]["total_count"] == 2
    terminated = api.delete(f"/customers/hooli/applied_coupons/{first['lago_id']}")
    assert terminated.status == 200
    assert terminated.json["applied_coupon"]["status"] == "terminated"
    assert terminated.json["applied_coupon"]["terminated_at"]
    assert api.get("/applied_coupons", query={"status": "terminated"}).json["meta"]["total_count"] == 1
    assert api.get("/applied_coupons", query={"external_customer_id": "other"}).json["applied_coupons"] == []
    assert api.delete("/customers/hooli/applied_coupons/nope").json["code"] == "applied_coupon_not_found"
    # Another organization sees nothing
    assert other_api.get("/applied_coupons").json["applied_coupons"] == []
    assert_matches_contract("/applied_coupons", "get", 200, listed.json)
    assert_matches_contract("/customers/{external_customer_id}/applied_coupons", "get", 200, by_customer.json)
    assert_matches_contract(
        "/customers/{external_customer_id}/applied_coupons/{applied_coupon_id}",
        "delete",
        200,
        terminated.json,
    )


def test_deleting_a_coupon_terminates_its_applied_coupons(api, customer):
    create_coupon(api)
    apply(api)
    api.delete("/coupons/startup_deal")
    [applied] = api.get("/applied_coupons").json["applied_coupons"]
    assert applied["status"] == "terminated"


def test_deleting_the_customer_terminates_its_coupons(api, customer):
    create_coupon(api)
    apply(api)
    assert api.delete("/customers/hooli").status == 200
    [applied] = api.get("/applied_coupons").json["applied_coupons"]
    assert applied["status"] == "terminated"


def test_an_applied_coupon_freezes_the_coupon_terms(api, customer):
    create_coupon(api)
    apply(api)
    updated = api.put(
        "/coupons/startup_deal", {"coupon": {"name": "Renamed", "amount_cents": 1, "code": "x"}}
    )
    coupon = updated.json["coupon"]
    assert (coupon["name"], coupon["amount_cents"], coupon["code"]) == ("Renamed", 5000, "startup_deal")


def test_a_recurring_override_needs_a_duration(api, customer):
    # Given a once coupon, overridden to recurring without a duration (it used to be deducted forever)
    create_coupon(api, frequency="once", frequency_duration=None)
    response = apply(api, frequency="recurring")
    assert response.status == 422, response.body
    assert response.json == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"frequency_duration": ["value_is_mandatory"]},
    }
    assert api.get("/applied_coupons").json["applied_coupons"] == []
    applied = apply(api, frequency="recurring", frequency_duration=2)
    assert applied.status == 200, applied.body
    assert applied.json["applied_coupon"]["frequency_duration_remaining"] == 2
