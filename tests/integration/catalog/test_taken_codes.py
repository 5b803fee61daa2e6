"""A taken code is reported with the other field errors, as Lago's model validations report them together
(Rails runs every validation of a plan, metric, add-on, coupon or tax, the code's uniqueness included, before
answering 422): whether the other errors come from the request body's types or from the service's rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.catalog.builders import create_metric, create_plan, create_tax, metric_body, plan_body
from tests.integration.catalog.test_coupons import coupon_body, create_coupon

TAKEN = {"code": ["value_already_exist"]}


def add_on_body(code: str = "setup", **fields: Any) -> dict[str, Any]:
    return {
        "add_on": {"name": "Setup", "code": code, "amount_cents": 100, "amount_currency": "USD", **fields}
    }


def tax_body(code: str = "vat", **fields: Any) -> dict[str, Any]:
    return {"tax": {"name": "VAT", "code": code, "rate": "20", **fields}}


def _refused(response: Any) -> dict[str, list[str]]:
    assert response.status == 422, response.body
    assert response.json["code"] == "validation_errors"
    return response.json["error_details"]  # type: ignore[no-any-return]


def test_a_plan_with_a_taken_code_and_a_missing_field_reports_both(api):
    # Given a plan "startup"
    create_plan(api)
    # When another plan with that code and no name is posted
    body = plan_body()
    del body["plan"]["name"]
    # Then both errors come back, as lago-api's Plan validations report them
    assert _refused(api.post("/plans", body)) == {"name": ["value_is_mandatory"], **TAKEN}
    # And with a null currency (lago-api: not in the accepted currencies), and an invalid interval
    assert _refused(api.post("/plans", plan_body(amount_currency=None))) == {
        "amount_currency": ["value_is_invalid"],
        **TAKEN,
    }
    assert _refused(api.post("/plans", plan_body(interval="daily"))) == {
        "interval": ["value_is_invalid"],
        **TAKEN,
    }
    # And nothing was stored
    assert api.get("/plans").json["meta"]["total_count"] == 1


def test_renaming_a_plan_to_a_taken_code_reports_it_with_the_other_errors(api):
    create_plan(api, "startup")
    create_plan(api, "scale")
    response = api.put("/plans/scale", {"plan": {"code": "startup", "amount_cents": -1}})
    assert _refused(response) == {"amount_cents": ["value_is_invalid"], **TAKEN}
    # Keeping its own code is no conflict
    response = api.put("/plans/scale", {"plan": {"code": "scale", "amount_cents": -1}})
    assert _refused(response) == {"amount_cents": ["value_is_invalid"]}


def test_a_taken_plan_code_after_an_unknown_metric_is_the_metrics_404(api):
    # lago-api checks the charges' metrics (Plans::ChargeablesValidationService) before saving the plan.
    create_plan(api)
    bogus = {"billable_metric_id": "00000000-0000-0000-0000-000000000000", "charge_model": "standard"}
    response = api.post("/plans", plan_body(charges=[bogus]))
    assert (response.status, response.json["code"]) == (404, "billable_metrics_not_found")


def test_a_billable_metric_with_a_taken_code_reports_it_with_the_other_errors(api):
    create_metric(api)
    assert _refused(api.post("/billable_metrics", metric_body(field_name=None))) == {
        "field_name": ["value_is_mandatory"],
        **TAKEN,
    }
    assert _refused(api.post("/billable_metrics", metric_body(aggregation_type="median_agg"))) == {
        "aggregation_type": ["value_is_invalid"],
        **TAKEN,
    }
    create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    response = api.put(
        "/billable_metrics/calls", {"billable_metric": {"code": "storage", "aggregation_type": "sum_agg"}}
    )
    assert _refused(response) == {"field_name": ["value_is_mandatory"], **TAKEN}


def test_an_add_on_with_a_taken_code_reports_it_with_the_other_errors(api):
    assert api.post("/add_ons", add_on_body()).status == 200
    assert _refused(api.post("/add_ons", add_on_body(amount_currency=None))) == {
        "amount_currency": ["value_is_invalid"],
        **TAKEN,
    }
    assert _refused(api.post("/add_ons", add_on_body(amount_cents=-5))) == {
        "amount_cents": ["value_is_out_of_range"],
        **TAKEN,
    }
    assert api.post("/add_ons", add_on_body("other")).status == 200
    assert _refused(api.put("/add_ons/other", {"add_on": {"code": "setup", "amount_cents": -5}})) == {
        "amount_cents": ["value_is_out_of_range"],
        **TAKEN,
    }


def test_a_tax_with_a_taken_code_reports_it_with_the_other_errors(api):
    create_tax(api, "vat")
    assert _refused(api.post("/taxes", tax_body(rate=None))) == {"rate": ["value_is_mandatory"], **TAKEN}
    assert _refused(api.post("/taxes", tax_body(rate="abc"))) == {"rate": ["value_is_invalid"], **TAKEN}


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"coupon_type": "percentage"}, {"percentage_rate": ["value_is_mandatory"]}),
        ({"frequency": "weekly"}, {"frequency": ["value_is_invalid"]}),
    ],
)
def test_a_coupon_with_a_taken_code_reports_it_with_the_other_errors(api, fields, details):
    create_coupon(api)
    assert _refused(api.post("/coupons", coupon_body(**fields))) == {**details, **TAKEN}


def test_a_coupon_limited_to_unknown_plans_is_a_404_before_its_taken_code(api):
    # lago-api Coupons::CreateService answers the missing plans before saving the coupon.
    create_coupon(api)
    response = api.post("/coupons", coupon_body(applies_to={"plan_codes": ["nope"]}))
    assert (response.status, response.json["code"]) == (404, "plans_not_found")
