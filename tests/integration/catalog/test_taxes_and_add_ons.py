"""Taxes (and the objects that apply them) and add-ons through the real handlers, on moto."""

from __future__ import annotations

import pytest

from tests.contract import assert_matches_contract
from tests.integration.catalog.builders import create_metric, create_plan, create_tax, standard_charge


def test_create_tax_as_the_docs_show_it(api):
    body = {
        "tax": {
            "name": "TVA",
            "code": "french_standard_vat",
            "rate": "20.0",
            "description": "French standard VAT",
            "applied_to_organization": False,
        }
    }
    response = api.post("/taxes", body)
    assert response.status == 200, response.body
    tax = response.json["tax"]
    assert (tax["code"], tax["rate"], tax["applied_to_organization"]) == ("french_standard_vat", 20.0, False)
    assert_matches_contract("/taxes", "post", 200, response.json)


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"rate": "abc"}, {"rate": ["value_is_invalid"]}),
        ({"rate": -1}, {"rate": ["value_is_invalid"]}),
        ({"rate": None}, {"rate": ["value_is_mandatory"]}),
        ({"name": ""}, {"name": ["value_is_invalid"]}),
    ],
)
def test_invalid_taxes_are_refused(api, fields, details):
    response = api.post("/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20", **fields}})
    assert response.status == 422
    assert response.json["error_details"] == details


def test_applied_to_organization_sets_the_organization_taxes(api):
    create_tax(api, "vat", applied_to_organization=True)
    organization = api.put("/organizations", {"organization": {}}).json["organization"]
    assert [t["code"] for t in organization["taxes"]] == ["vat"]
    updated = api.put("/taxes/vat", {"tax": {"applied_to_organization": False, "rate": 5.5}})
    assert updated.json["tax"]["applied_to_organization"] is False
    assert updated.json["tax"]["rate"] == 5.5
    assert api.put("/organizations", {"organization": {}}).json["organization"]["taxes"] == []
    assert_matches_contract("/taxes/{code}", "put", 200, updated.json)


def test_customer_tax_codes_are_checked_and_rendered(api):
    create_tax(api, "vat")
    unknown = api.post("/customers", {"customer": {"external_id": "c1", "tax_codes": ["nope"]}})
    assert (unknown.status, unknown.json["code"]) == (404, "tax_not_found")
    customer = api.post("/customers", {"customer": {"external_id": "c1", "tax_codes": ["vat"]}}).json[
        "customer"
    ]
    assert [t["code"] for t in customer["taxes"]] == ["vat"]


def test_renaming_and_deleting_a_tax_follows_the_objects_that_apply_it(api):
    create_tax(api, "vat")
    metric = create_metric(api)
    create_plan(api, tax_codes=["vat"], charges=[standard_charge(metric, tax_codes=["vat"])])
    api.post("/customers", {"customer": {"external_id": "c1", "tax_codes": ["vat"]}})
    assert api.put("/taxes/vat", {"tax": {"code": "vat20"}}).status == 200
    plan = api.get("/plans/startup").json["plan"]
    assert [t["code"] for t in plan["taxes"]] == ["vat20"]
    assert [t["code"] for t in plan["charges"][0]["taxes"]] == ["vat20"]
    deleted = api.delete("/taxes/vat20")
    assert deleted.status == 200
    assert api.get("/plans/startup").json["plan"]["taxes"] == []
    assert api.get("/customers/c1").json["customer"]["taxes"] == []
    assert api.post("/taxes", {"tax": {"name": "VAT", "code": "vat20", "rate": "20"}}).status == 200
    assert_matches_contract("/taxes/{code}", "delete", 200, deleted.json)


def test_tax_codes_are_unique_listed_and_isolated(api, other_api):
    create_tax(api, "a")
    create_tax(api, "b")
    again = api.post("/taxes", {"tax": {"name": "A", "code": "a", "rate": "1"}})
    assert again.json["error_details"] == {"code": ["value_already_exist"]}
    listed = api.get("/taxes", query={"per_page": 1, "page": 1})
    assert listed.json["meta"]["total_count"] == 2
    got = api.get("/taxes/a")
    assert other_api.get("/taxes/a").json["code"] == "tax_not_found"
    assert_matches_contract("/taxes", "get", 200, listed.json)
    assert_matches_contract("/taxes/{code}", "get", 200, got.json)


def test_add_on_crud_with_taxes(api, other_api):
    create_tax(api, "vat")
    body = {
        "add_on": {
            "name": "Setup Fee",
            "code": "setup_fee",
            "amount_cents": 50000,
            "amount_currency": "USD",
            "description": "Implementation fee",
            "tax_codes": ["vat"],
        }
    }
    created = api.post("/add_ons", body)
    assert created.status == 200, created.body
    assert [t["code"] for t in created.json["add_on"]["taxes"]] == ["vat"]
    assert api.post("/add_ons", body).json["error_details"] == {"code": ["value_already_exist"]}
    updated = api.put(
        "/add_ons/setup_fee", {"add_on": {"amount_cents": 1000, "invoice_display_name": "Setup"}}
    )
    assert (updated.json["add_on"]["amount_cents"], updated.json["add_on"]["description"]) == (
        1000,
        "Implementation fee",
    )
    got = api.get("/add_ons/setup_fee")
    listed = api.get("/add_ons")
    assert other_api.get("/add_ons/setup_fee").json["code"] == "add_on_not_found"
    deleted = api.delete("/add_ons/setup_fee")
    assert api.get("/add_ons/setup_fee").status == 404
    assert_matches_contract("/add_ons", "post", 200, created.json)
    assert_matches_contract("/add_ons/{code}", "put", 200, updated.json)
    assert_matches_contract("/add_ons/{code}", "get", 200, got.json)
    assert_matches_contract("/add_ons", "get", 200, listed.json)
    assert_matches_contract("/add_ons/{code}", "delete", 200, deleted.json)


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"amount_cents": -5}, 422, "validation_errors"),
        ({"amount_currency": "ZZZ"}, 422, "validation_errors"),
        ({"tax_codes": ["nope"]}, 404, "tax_not_found"),
    ],
)
def test_invalid_add_ons_are_refused(api, fields, status, code):
    body = {
        "add_on": {"name": "Setup", "code": "setup", "amount_cents": 1, "amount_currency": "USD", **fields}
    }
    response = api.post("/add_ons", body)
    assert (response.status, response.json["code"]) == (status, code)


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        # lago-api's AddOn: `amount_cents` greater than 0, `amount_currency` in the accepted currencies
        ({"amount_cents": 0}, {"amount_cents": ["value_is_out_of_range"]}),
        ({"amount_cents": -5}, {"amount_cents": ["value_is_out_of_range"]}),
        ({"amount_currency": None}, {"amount_currency": ["value_is_invalid"]}),
        ({"amount_currency": "ZZZ"}, {"amount_currency": ["value_is_invalid"]}),
    ],
)
def test_add_on_amounts_and_currencies_answer_lagos_codes(api, fields, details):
    body = {"name": "Setup", "code": "setup", "amount_cents": 1, "amount_currency": "USD", **fields}
    response = api.post("/add_ons", {"add_on": body})
    assert (response.status, response.json["error_details"]) == (422, details)
    # An absent currency too, and an update to no amount
    del body["amount_currency"]
    response = api.post("/add_ons", {"add_on": {**body, "amount_cents": 1}})
    assert (response.status, response.json["error_details"]) == (
        422,
        {"amount_currency": ["value_is_invalid"]},
    )
    assert (
        api.post("/add_ons", {"add_on": {**body, "amount_cents": 1, "amount_currency": "USD"}}).status == 200
    )
    response = api.put("/add_ons/setup", {"add_on": {"amount_cents": 0}})
    assert (response.status, response.json["error_details"]) == (
        422,
        {"amount_cents": ["value_is_out_of_range"]},
    )
