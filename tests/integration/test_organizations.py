"""PUT /organizations through the real authorizer and handler, on moto."""

from __future__ import annotations

import pytest

from tests.contract import assert_matches_contract


def _errors(details):
    return {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": details,
    }


def test_update_changes_the_fields_sent_and_answers_the_organization(api):
    response = api.put(
        "/organizations",
        {"organization": {"email": "billing@acme.com", "net_payment_term": 30, "country": "FR"}},
    )
    assert response.status == 200, response.body
    organization = response.json["organization"]
    assert (organization["email"], organization["net_payment_term"], organization["country"]) == (
        "billing@acme.com",
        30,
        "FR",
    )
    assert organization["name"] == "Acme Corp"
    assert_matches_contract("/organizations", "put", 200, response.json)


def test_explicit_nulls_clear_nullable_fields_and_keep_billing_configuration(api):
    api.put(
        "/organizations",
        {"organization": {"email": "a@acme.com", "billing_configuration": {"invoice_grace_period": 3}}},
    )
    response = api.put("/organizations", {"organization": {"email": None, "billing_configuration": None}})
    assert response.status == 200, response.body
    organization = response.json["organization"]
    assert organization["email"] is None
    assert organization["billing_configuration"]["invoice_grace_period"] == 3


@pytest.mark.parametrize(
    ("sent", "details"),
    [
        ({"name": None}, {"name": ["value_is_mandatory"]}),
        ({"net_payment_term": None}, {"net_payment_term": ["value_is_invalid"]}),
        ({"finalize_zero_amount_invoice": None}, {"finalize_zero_amount_invoice": ["value_is_invalid"]}),
        ({"email_settings": None}, {"email_settings": ["value_is_invalid"]}),
        (
            {"billing_configuration": {"invoice_grace_period": None}},
            {"invoice_grace_period": ["value_is_invalid"]},
        ),
        ({"net_payment_term": -1}, {"net_payment_term": ["value_is_invalid"]}),
        ({"net_payment_term": True}, {"net_payment_term": ["value_is_invalid"]}),
        ({"net_payment_term": 10**30}, {"net_payment_term": ["value_is_invalid"]}),
        ({"net_payment_term": "30"}, {"net_payment_term": ["value_is_invalid"]}),
        (
            {"billing_configuration": {"invoice_grace_period": 3651}},
            {"invoice_grace_period": ["value_is_invalid"]},
        ),
        ({"webhook_url": "not a url"}, {"webhook_url": ["url_invalid"]}),
    ],
)
def test_invalid_values_are_422_and_change_nothing(api, sent, details):
    before = api.put("/organizations", {"organization": {}}).json
    response = api.put("/organizations", {"organization": sent})
    assert (response.status, response.json) == (422, _errors(details))
    assert api.put("/organizations", {"organization": {}}).json == before


def test_unknown_tax_codes_are_a_404_tax_not_found(api):
    response = api.put("/organizations", {"organization": {"tax_codes": ["vat_unknown"]}})
    assert (response.status, response.json) == (
        404,
        {"status": 404, "error": "Not Found", "code": "tax_not_found"},
    )


def test_get_organizations_is_not_a_route_lago_serves(api):
    assert api.get("/organizations").json == {
        "status": 405,
        "error": "Method Not Allowed",
        "code": "not_allowed",
    }


def test_customer_net_payment_term_is_bounded(api):
    response = api.post("/customers", {"customer": {"external_id": "c1", "net_payment_term": True}})
    assert (response.status, response.json) == (422, _errors({"net_payment_term": ["value_is_invalid"]}))
