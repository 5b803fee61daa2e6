"""Plans and charges through the real authorizer and handler, on moto."""

from __future__ import annotations

import pytest

from tests.contract import assert_matches_contract
from tests.integration.catalog.builders import (
    create_metric,
    create_plan,
    create_tax,
    outbox_messages,
    plan_body,
    standard_charge,
)

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "0.5", "flat_amount": "10"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.2", "flat_amount": "0"},
    ]
}


def test_create_plan_with_every_charge_option(api):
    # Given a metric with a filter and a tax
    metric = create_metric(api, filters=[{"key": "region", "values": ["us", "eu"]}])
    create_tax(api, "vat")
    charge = {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "graduated",
        "invoice_display_name": "Storage",
        "min_amount_cents": 500,
        "properties": GRADUATED,
        "filters": [
            {"invoice_display_name": "US", "values": {"region": ["us"]}, "properties": GRADUATED},
        ],
        "tax_codes": ["vat"],
    }
    body = plan_body(
        interval="yearly",
        bill_charges_monthly=True,
        trial_period=5,
        description="For startups",
        invoice_display_name="Startup plan",
        tax_codes=["vat"],
        minimum_commitment={"amount_cents": 100000, "invoice_display_name": "Min", "tax_codes": ["vat"]},
        charges=[charge],
    )
    # When the plan is posted
    response = api.post("/plans", body)
    # Then it comes back with its charges, filters, taxes and commitment
    assert response.status == 200, response.body
    plan = response.json["plan"]
    assert plan["bill_charges_monthly"] is True
    assert plan["trial_period"] == 5
    assert [t["code"] for t in plan["taxes"]] == ["vat"]
    assert plan["minimum_commitment"]["amount_cents"] == 100000
    assert plan["minimum_commitment"]["interval"] == "yearly"
    [created] = plan["charges"]
    assert created["billable_metric_code"] == "storage"
    assert created["properties"] == GRADUATED
    assert created["filters"][0]["values"] == {"region": ["us"]}
    assert [t["code"] for t in created["taxes"]] == ["vat"]
    assert outbox_messages("plan.created")[0]["payload"]["code"] == "startup"
    assert_matches_contract("/plans", "post", 200, response.json)


@pytest.mark.parametrize(
    ("model", "properties"),
    [
        ("standard", {"amount": "1.5", "pricing_group_keys": ["workspace"]}),
        ("graduated", GRADUATED),
        ("volume", {"volume_ranges": GRADUATED["graduated_ranges"]}),
        ("package", {"amount": "30", "free_units": 100, "package_size": 1000}),
        ("percentage", {"rate": "1", "fixed_amount": "0.5", "free_units_per_events": 5}),
        (
            "graduated_percentage",
            {
                "graduated_percentage_ranges": [
                    {"from_value": 0, "to_value": None, "rate": "1", "flat_amount": "0"}
                ]
            },
        ),
        ("dynamic", {}),
    ],
)
def test_every_charge_model_is_accepted(api, model, properties):
    metric = create_metric(api)
    charge = {"billable_metric_id": metric["lago_id"], "charge_model": model, "properties": properties}
    response = api.post("/plans", plan_body(charges=[charge]))
    assert response.status == 200, response.body
    assert response.json["plan"]["charges"][0]["charge_model"] == model
    assert_matches_contract("/plans", "post", 200, response.json)


def test_adjacent_and_decimal_range_bounds_are_accepted_as_lago_accepts_them(api):
    # Given graduated tiers that start at the previous to_value, with decimal bounds (lago-api
    # RangeBoundsValidator), and graduated percentage tiers mixing both kinds of bounds
    metric = create_metric(api)
    graduated = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 0.1, "per_unit_amount": "10", "flat_amount": "0"},
            {"from_value": 0.1, "to_value": 1, "per_unit_amount": "5", "flat_amount": "0"},
            {"from_value": 1, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
        ]
    }
    percentage = {
        "graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 100, "rate": "1", "flat_amount": "0"},
            {"from_value": 100, "to_value": 200, "rate": "2", "flat_amount": "0"},
            {"from_value": 201, "to_value": None, "rate": "3", "flat_amount": "0"},
        ]
    }
    charges = [
        {"billable_metric_id": metric["lago_id"], "charge_model": "graduated", "properties": graduated},
        {
            "billable_metric_id": metric["lago_id"],
            "charge_model": "graduated_percentage",
            "properties": percentage,
        },
    ]
    # When the plan is posted
    response = api.post("/plans", plan_body(charges=charges))
    # Then it is created and echoes the bounds as the numbers sent
    assert response.status == 200, response.body
    assert [c["properties"] for c in response.json["plan"]["charges"]] == [graduated, percentage]
    assert [c["properties"] for c in api.get("/plans/startup").json["plan"]["charges"]] == [
        graduated,
        percentage,
    ]


def test_a_charge_without_properties_gets_lago_defaults(api):
    metric = create_metric(api)
    charge = {"billable_metric_id": metric["lago_id"], "charge_model": "package"}
    plan = create_plan(api, charges=[charge])
    assert plan["charges"][0]["properties"] == {"amount": "0", "package_size": 1, "free_units": 0}


@pytest.mark.parametrize(
    ("charge", "details"),
    [
        (
            {
                "charge_model": "graduated",
                "properties": {
                    "graduated_ranges": [
                        {"from_value": 2, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}
                    ]
                },
            },
            {"graduated_ranges": ["invalid_graduated_ranges"]},
        ),
        (
            {
                "charge_model": "volume",
                "properties": {
                    "volume_ranges": [
                        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                        {"from_value": 10, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
                    ]
                },
            },
            {"volume_ranges": ["invalid_volume_ranges"]},
        ),
        (
            {"charge_model": "package", "properties": {"amount": "1", "package_size": 0}},
            {"package_size": ["invalid_package_size"]},
        ),
        ({"charge_model": "standard", "properties": {"amount": "-1"}}, {"amount": ["invalid_amount"]}),
        ({"charge_model": "percentage", "properties": {"rate": "x"}}, {"rate": ["invalid_rate"]}),
        (
            {
                "charge_model": "volume",
                "pay_in_advance": True,
                "properties": {"volume_ranges": GRADUATED["graduated_ranges"]},
            },
            {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]},
        ),
        (
            {"charge_model": "standard", "pay_in_advance": True, "min_amount_cents": 10},
            {"min_amount_cents": ["not_compatible_with_pay_in_advance"]},
        ),
        (
            {"charge_model": "standard", "invoiceable": False},
            {"invoiceable": ["must_be_true_unless_pay_in_advance"]},
        ),
        (
            {"charge_model": "standard", "regroup_paid_fees": "invoice"},
            {"regroup_paid_fees": ["only_compatible_with_pay_in_advance_and_non_invoiceable"]},
        ),
        (
            {"charge_model": "standard", "prorated": True},
            {"prorated": ["invalid_billable_metric_or_charge_model"]},
        ),
        (
            {
                "charge_model": "standard",
                "filters": [{"values": {"region": ["mars"]}, "properties": {"amount": "1"}}],
            },
            {"values": ["value_is_invalid"]},
        ),
        ({"charge_model": "flat"}, {"charge_model": ["value_is_invalid"]}),
    ],
)
def test_invalid_charges_are_refused_with_lago_codes(api, charge, details):
    metric = create_metric(api, filters=[{"key": "region", "values": ["us"]}])
    response = api.post("/plans", plan_body(charges=[{"billable_metric_id": metric["lago_id"], **charge}]))
    assert response.status == 422, response.body
    assert response.json["error_details"] == details


def test_dynamic_charges_need_a_sum_metric(api):
    metric = create_metric(api, aggregation_type="count_agg")
    charge = {"billable_metric_id": metric["lago_id"], "charge_model": "dynamic"}
    response = api.post("/plans", plan_body(charges=[charge]))
    assert response.json["error_details"] == {"charge_model": ["invalid_aggregation_type_or_charge_model"]}


def test_prorated_is_accepted_on_recurring_metrics(api):
    metric = create_metric(api, recurring=True)
    plan = create_plan(api, charges=[standard_charge(metric, prorated=True)])
    assert plan["charges"][0]["prorated"] is True


def test_unknown_metric_and_tax_are_404_as_lago_answers(api):
    bogus = {"billable_metric_id": "00000000-0000-0000-0000-000000000000", "charge_model": "standard"}
    response = api.post("/plans", plan_body(charges=[bogus]))
    assert (response.status, response.json["code"]) == (404, "billable_metrics_not_found")
    response = api.post("/plans", plan_body(tax_codes=["nope"]))
    assert (response.status, response.json["code"]) == (404, "tax_not_found")


def test_a_charge_in_pricing_units_is_refused_not_billed_in_the_currency(api):
    # Given a charge priced in "credits" (Lagoon keeps no pricing units)
    metric = create_metric(api)
    unit = {"code": "credits", "conversion_rate": "0.5"}
    response = api.post("/plans", plan_body(charges=[standard_charge(metric, applied_pricing_unit=unit)]))
    # Then the plan is refused with the deferred-feature error and nothing is stored
    assert response.status == 405
    assert response.json["error_details"] == {
        "message": "pricing units is not implemented in this version of Lagoon"
    }
    assert api.get("/plans/startup").status == 404
    # And a null pricing unit (what clients send by default) is no pricing unit at all
    response = api.post("/plans", plan_body(charges=[standard_charge(metric, applied_pricing_unit=None)]))
    assert response.status == 200, response.body


USAGE_THRESHOLDS_REFUSED = {
    "status": 405,
    "error": "Method Not Allowed",
    "code": "not_implemented",
    "error_details": {
        "message": "usage thresholds (progressive billing) is not implemented in this version of Lagoon"
    },
}


def test_a_plan_with_usage_thresholds_is_refused_not_stored_without_them(api):
    # Given a plan that asks for a progressive-billing invoice at $100 of usage
    thresholds = [{"amount_cents": 10000, "threshold_display_name": "First", "recurring": False}]
    # When it is posted, then it is refused with the deferred-feature error and nothing is stored
    response = api.post("/plans", plan_body(usage_thresholds=thresholds))
    assert (response.status, response.json) == (405, USAGE_THRESHOLDS_REFUSED)
    assert api.get("/plans/startup").status == 404
    assert outbox_messages("plan.created") == []
    # And an empty list or a null (lago-python-client's default) asks for no threshold: the plan is created
    assert create_plan(api, usage_thresholds=[])["usage_thresholds"] == []
    assert create_plan(api, "other", usage_thresholds=None)["usage_thresholds"] == []


def test_adding_usage_thresholds_to_a_plan_is_refused_and_changes_nothing(api):
    create_plan(api)
    thresholds = [{"amount_cents": 5000, "recurring": True}]
    response = api.put("/plans/startup", {"plan": {"name": "Renamed", "usage_thresholds": thresholds}})
    assert (response.status, response.json) == (405, USAGE_THRESHOLDS_REFUSED)
    assert api.get("/plans/startup").json["plan"]["name"] == "Startup"
    assert outbox_messages("plan.updated") == []
    # Removing every threshold (an empty list) is no use of the feature: the rest of the update applies
    response = api.put("/plans/startup", {"plan": {"name": "Renamed", "usage_thresholds": []}})
    assert response.status == 200, response.body
    assert (response.json["plan"]["name"], response.json["plan"]["usage_thresholds"]) == ("Renamed", [])
    # A threshold list that is not a list is a validation error, as any other field
    response = api.put("/plans/startup", {"plan": {"usage_thresholds": "10000"}})
    assert (response.status, response.json["error_details"]) == (
        422,
        {"usage_thresholds": ["value_is_invalid"]},
    )


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"interval": "daily"}, {"interval": ["value_is_invalid"]}),
        ({"amount_currency": "XXX"}, {"amount_currency": ["value_is_invalid"]}),
        # lago-api's Plan validates the currency's inclusion only: null is invalid, never "mandatory"
        ({"amount_currency": None}, {"amount_currency": ["value_is_invalid"]}),
        ({"amount_cents": -1}, {"amount_cents": ["value_is_invalid"]}),
        ({"pay_in_advance": None}, {"pay_in_advance": ["value_is_invalid"]}),
        # Used to be stored, then overflowed the subscription's trial end (a 500 on POST /subscriptions)
        ({"trial_period": 1e308}, {"trial_period": ["value_is_invalid"]}),
        ({"trial_period": float("inf")}, {"trial_period": ["value_is_invalid"]}),
        ({"trial_period": 36_500.5}, {"trial_period": ["value_is_invalid"]}),
    ],
)
def test_invalid_plans_are_refused(api, fields, details):
    response = api.post("/plans", plan_body(**fields))
    assert response.status == 422
    assert response.json["error_details"] == details


def test_a_plan_without_a_currency_is_invalid_with_its_other_errors(api):
    # lago-api (`validates :amount_currency, inclusion: …`): an absent currency is `value_is_invalid`,
    # reported with the plan's other field errors
    body = plan_body()
    del body["plan"]["amount_currency"], body["plan"]["name"]
    response = api.post("/plans", body)
    assert (response.status, response.json["error_details"]) == (
        422,
        {"amount_currency": ["value_is_invalid"], "name": ["value_is_mandatory"]},
    )


def test_bill_charges_monthly_only_applies_to_yearly_and_semiannual_plans(api):
    assert create_plan(api, "m", bill_charges_monthly=True)["bill_charges_monthly"] is None
    assert (
        create_plan(api, "s", interval="semiannual", bill_charges_monthly=True)["bill_charges_monthly"]
        is True
    )


def test_codes_are_unique_and_isolated(api, other_api):
    create_plan(api)
    assert api.post("/plans", plan_body()).json["error_details"] == {"code": ["value_already_exist"]}
    assert other_api.post("/plans", plan_body()).status == 200
    assert other_api.get("/plans").json["meta"]["total_count"] == 1


def test_update_keeps_charges_sent_with_their_id_and_removes_the_others(api):
    storage = create_metric(api, "storage")
    seats = create_metric(api, "seats", aggregation_type="count_agg")
    plan = create_plan(api, charges=[standard_charge(storage), standard_charge(seats)])
    kept = plan["charges"][0]
    response = api.put(
        "/plans/startup",
        {
            "plan": {
                "name": "Startup v2",
                "amount_cents": 20000,
                "charges": [
                    standard_charge(storage, amount="2", id=kept["lago_id"]),
                    standard_charge(seats, amount="3"),
                ],
            }
        },
    )
    assert response.status == 200, response.body
    updated = response.json["plan"]
    assert (updated["name"], updated["amount_cents"]) == ("Startup v2", 20000)
    assert updated["charges"][0]["lago_id"] == kept["lago_id"]
    assert updated["charges"][0]["properties"] == {"amount": "2"}
    assert updated["charges"][1]["lago_id"] != plan["charges"][1]["lago_id"]
    assert outbox_messages("plan.updated")[0]["payload"]["name"] == "Startup v2"
    assert_matches_contract("/plans/{code}", "put", 200, response.json)


def test_a_plan_with_subscriptions_only_changes_what_lago_allows(api, monkeypatch):
    from lagoon.services.catalog import plans

    metric = create_metric(api)
    plan = create_plan(api, charges=[standard_charge(metric)])
    monkeypatch.setattr(plans, "plan_has_subscriptions", lambda org, p: True)
    charge = standard_charge(metric, amount="9", id=plan["charges"][0]["lago_id"])
    charge["charge_model"] = "package"
    response = api.put(
        "/plans/startup",
        {
            "plan": {
                "name": "New",
                "code": "renamed",
                "interval": "yearly",
                "amount_cents": 1,
                "charges": [charge],
            }
        },
    )
    assert response.status == 200, response.body
    updated = response.json["plan"]
    assert (updated["name"], updated["amount_cents"]) == ("New", 1)
    assert (updated["code"], updated["interval"]) == ("startup", "monthly")
    assert updated["charges"][0]["charge_model"] == "standard"
    assert updated["charges"][0]["properties"] == {"amount": "9"}


def test_delete_without_subscriptions_frees_the_code(api):
    create_plan(api)
    response = api.delete("/plans/startup")
    assert response.status == 200
    assert response.json["plan"]["pending_deletion"] is False
    assert api.get("/plans/startup").json["code"] == "plan_not_found"
    assert outbox_messages("plan.deleted")[0]["payload"]["code"] == "startup"
    assert api.post("/plans", plan_body()).status == 200
    assert_matches_contract("/plans/{code}", "delete", 200, response.json)


def test_delete_with_subscriptions_is_pending_until_the_cascade_finishes(api, org, monkeypatch):
    from lagoon.services import lifecycle
    from lagoon.services.catalog import plans

    create_plan(api)
    cascaded = []
    monkeypatch.setattr(plans, "plan_has_subscriptions", lambda org_id, p: True)
    monkeypatch.setattr(lifecycle, "end_plan", lambda org_id, p: cascaded.append(p.code))
    response = api.delete("/plans/startup")
    assert response.json["plan"]["pending_deletion"] is True
    assert cascaded == ["startup"]
    assert api.get("/plans/startup").json["plan"]["pending_deletion"] is True
    plans.finish_plan_deletion(org.id, response.json["plan"]["lago_id"])
    assert api.get("/plans/startup").status == 404


def test_get_and_list_plans(api):
    create_plan(api, "a")
    create_plan(api, "b")
    got = api.get("/plans/a")
    listed = api.get("/plans", query={"per_page": 1})
    assert [p["code"] for p in listed.json["plans"]] == ["b"]
    assert listed.json["meta"]["next_page"] == 2
    assert_matches_contract("/plans", "get", 200, listed.json)
    assert_matches_contract("/plans/{code}", "get", 200, got.json)


def test_service_reads_for_other_modules(api, org):
    from lagoon.services.catalog import plans

    metric = create_metric(api, filters=[{"key": "region", "values": ["us"]}])
    charge = standard_charge(metric, filters=[{"values": {"region": ["us"]}, "properties": {"amount": "2"}}])
    created = create_plan(api, charges=[charge])
    plan = plans.get_plan(org.id, "startup")
    assert plans.get_plan_by_id(org.id, created["lago_id"]).code == "startup"
    [stored] = plan.charges
    assert str(stored.pricing().amount) == "0.5"  # type: ignore[union-attr]
    assert stored.filters[0].matches({"region": "us"})
    assert str(stored.pricing(stored.filters[0]).amount) == "2"  # type: ignore[union-attr]
    assert plan.yearly_amount_cents == 120000


def test_a_trial_of_up_to_100_years_is_accepted(api):
    assert create_plan(api, trial_period=36_500)["trial_period"] == 36_500
