"""Billable metrics through the real authorizer and handler, on moto."""

from __future__ import annotations

import pytest

from tests.contract import assert_matches_contract
from tests.integration.catalog.builders import (
    create_metric,
    create_plan,
    metric_body,
    outbox_messages,
    standard_charge,
)


def test_create_metric_returns_it_in_lago_shape_and_records_the_webhook(api):
    # Given the docs' storage metric
    body = metric_body(
        description="GB of storage used in my application",
        recurring=False,
        weighted_interval="seconds",
        filters=[{"key": "region", "values": ["us-east-1", "us-east-2", "eu-west-1"]}],
        rounding_function="round",
        rounding_precision=2,
    )
    # When it is posted
    response = api.post("/billable_metrics", body)
    # Then it comes back as Lago renders it
    assert response.status == 200, response.body
    metric = response.json["billable_metric"]
    assert metric["code"] == "storage"
    assert metric["aggregation_type"] == "sum_agg"
    assert metric["field_name"] == "gb"
    assert metric["recurring"] is False
    assert metric["rounding_function"] == "round"
    assert metric["rounding_precision"] == 2
    assert metric["filters"] == [{"key": "region", "values": ["us-east-1", "us-east-2", "eu-west-1"]}]
    # And a billable_metric.created message carries the same object
    [message] = outbox_messages("billable_metric.created")
    assert message["object_type"] == "billable_metric"
    assert message["payload"]["lago_id"] == metric["lago_id"]
    assert_matches_contract("/billable_metrics", "post", 200, response.json)


@pytest.mark.parametrize(
    "aggregation_type",
    ["count_agg", "sum_agg", "max_agg", "unique_count_agg", "weighted_sum_agg", "latest_agg"],
)
def test_every_aggregation_type_is_accepted(api, aggregation_type):
    fields = {} if aggregation_type == "count_agg" else {"field_name": "value"}
    body = {"billable_metric": {"name": "M", "code": "m", "aggregation_type": aggregation_type, **fields}}
    response = api.post("/billable_metrics", body)
    assert response.status == 200, response.body
    assert response.json["billable_metric"]["aggregation_type"] == aggregation_type
    assert_matches_contract("/billable_metrics", "post", 200, response.json)


def test_weighted_sum_defaults_its_interval_to_seconds(api):
    metric = create_metric(api, aggregation_type="weighted_sum_agg", field_name="gb")
    assert metric["weighted_interval"] == "seconds"


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"name": None}, {"name": ["value_is_invalid"]}),
        ({"aggregation_type": "custom_agg"}, {"aggregation_type": ["value_is_invalid"]}),
        ({"aggregation_type": "sum_agg", "field_name": None}, {"field_name": ["value_is_mandatory"]}),
        ({"aggregation_type": "max_agg", "field_name": ""}, {"field_name": ["value_is_mandatory"]}),
        (
            {"aggregation_type": "latest_agg", "recurring": True},
            {"recurring": ["not_compatible_with_aggregation_type"]},
        ),
        ({"rounding_function": "banker"}, {"rounding_function": ["value_is_invalid"]}),
        ({"weighted_interval": "hours"}, {"weighted_interval": ["value_is_invalid"]}),
        ({"filters": [{"key": "region", "values": []}]}, {"values": ["value_is_mandatory"]}),
        # 10**30 decimals used to be stored, then broke every billing of the metric (Decimal quantize)
        (
            {"rounding_function": "round", "rounding_precision": 10**30},
            {"rounding_precision": ["value_is_invalid"]},
        ),
        (
            {"rounding_function": "round", "rounding_precision": 27},
            {"rounding_precision": ["value_is_invalid"]},
        ),
        (
            {"rounding_function": "round", "rounding_precision": -21},
            {"rounding_precision": ["value_is_invalid"]},
        ),
    ],
)
def test_invalid_metrics_are_refused_with_lago_codes(api, fields, details):
    response = api.post("/billable_metrics", metric_body(**fields))
    assert response.status == 422
    assert response.json == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": details,
    }


def test_missing_name_is_value_is_mandatory(api):
    body = {"billable_metric": {"code": "m", "aggregation_type": "count_agg"}}
    response = api.post("/billable_metrics", body)
    assert response.status == 422
    assert response.json["error_details"] == {"name": ["value_is_mandatory"]}


def test_missing_root_key_is_a_bad_request(api):
    assert api.post("/billable_metrics", {"name": "x"}).status == 400


def test_a_custom_expression_is_refused_as_deferred(api):
    response = api.post("/billable_metrics", metric_body(expression="round(event.properties.gb)"))
    assert response.status == 422
    assert response.json["code"] == "not_implemented"
    assert "expression" in response.json["error_details"]["message"]


def test_codes_are_unique_per_organization_and_free_again_after_deletion(api, other_api):
    create_metric(api)
    again = api.post("/billable_metrics", metric_body())
    assert again.status == 422
    assert again.json["error_details"] == {"code": ["value_already_exist"]}
    # another organization may use the same code
    assert other_api.post("/billable_metrics", metric_body()).status == 200
    # and once deleted, the code can be used again
    assert api.delete("/billable_metrics/storage").status == 200
    assert api.post("/billable_metrics", metric_body()).status == 200


def test_get_list_and_isolation(api, other_api):
    create_metric(api, "a")
    create_metric(api, "b")
    got = api.get("/billable_metrics/a")
    assert got.status == 200
    listed = api.get("/billable_metrics", query={"per_page": 1, "page": 2})
    assert listed.status == 200
    assert [m["code"] for m in listed.json["billable_metrics"]] == ["a"]
    assert listed.json["meta"]["total_count"] == 2
    # Another organization sees none of them
    assert other_api.get("/billable_metrics/a").json == {
        "status": 404,
        "error": "Not Found",
        "code": "billable_metric_not_found",
    }
    assert other_api.get("/billable_metrics").json["billable_metrics"] == []
    assert_matches_contract("/billable_metrics/{code}", "get", 200, got.json)
    assert_matches_contract("/billable_metrics", "get", 200, listed.json)


def test_update_changes_only_the_fields_sent(api):
    create_metric(api, description="old")
    response = api.put(
        "/billable_metrics/storage",
        {"billable_metric": {"name": "Disk", "code": "disk", "filters": [{"key": "az", "values": ["a"]}]}},
    )
    assert response.status == 200, response.body
    metric = response.json["billable_metric"]
    assert (metric["name"], metric["code"], metric["description"]) == ("Disk", "disk", "old")
    assert metric["filters"] == [{"key": "az", "values": ["a"]}]
    assert api.get("/billable_metrics/storage").status == 404
    assert api.get("/billable_metrics/disk").status == 200
    assert outbox_messages("billable_metric.updated")[0]["payload"]["code"] == "disk"
    assert_matches_contract("/billable_metrics/{code}", "put", 200, response.json)


def test_a_metric_used_by_a_plan_keeps_its_code_and_aggregation(api):
    metric = create_metric(api, filters=[{"key": "region", "values": ["us", "eu"]}])
    charge = standard_charge(
        metric, filters=[{"values": {"region": ["us", "eu"]}, "properties": {"amount": "1"}}]
    )
    create_plan(api, charges=[charge])
    response = api.put(
        "/billable_metrics/storage",
        {
            "billable_metric": {
                "name": "Renamed",
                "code": "other",
                "aggregation_type": "max_agg",
                "filters": [{"key": "region", "values": ["us"]}],
            }
        },
    )
    assert response.status == 200
    metric = response.json["billable_metric"]
    assert (metric["name"], metric["code"], metric["aggregation_type"]) == ("Renamed", "storage", "sum_agg")
    assert metric["plans_count"] == 1
    # the plan's charge filter lost the value the metric no longer has
    plan = api.get("/plans/startup").json["plan"]
    assert plan["charges"][0]["filters"][0]["values"] == {"region": ["us"]}


def test_update_and_delete_of_an_unknown_metric_are_404(api):
    assert api.put("/billable_metrics/nope", metric_body()).status == 404
    assert api.delete("/billable_metrics/nope").status == 404


def test_deleting_a_metric_removes_its_charges_from_plans(api):
    storage = create_metric(api, "storage")
    seats = create_metric(api, "seats", aggregation_type="count_agg")
    create_plan(api, charges=[standard_charge(storage), standard_charge(seats)])
    response = api.delete("/billable_metrics/storage")
    assert response.status == 200
    plan = api.get("/plans/startup").json["plan"]
    assert [c["billable_metric_code"] for c in plan["charges"]] == ["seats"]
    [message] = outbox_messages("billable_metric.deleted")
    assert message["payload"]["code"] == "storage"
    assert_matches_contract("/billable_metrics/{code}", "delete", 200, response.json)


def test_service_reads_for_other_modules(api, org):
    from lagoon import errors
    from lagoon.services.catalog import billable_metrics

    created = create_metric(api)
    metric = billable_metrics.get_billable_metric(org.id, "storage")
    assert metric.lago_id == created["lago_id"]
    assert billable_metrics.get_billable_metric_by_id(org.id, metric.lago_id).code == "storage"
    assert metric.payable_in_advance
    api.delete("/billable_metrics/storage")
    with pytest.raises(errors.NotFound):
        billable_metrics.get_billable_metric(org.id, "storage")
    deleted = billable_metrics.get_billable_metric_by_id(org.id, metric.lago_id, include_deleted=True)
    assert deleted.deleted_at is not None


def test_wrong_method_is_405(api):
    assert api.request("PATCH", "/billable_metrics/storage").status == 405


def test_rounding_precision_accepts_the_engine_bounds(api):
    assert (
        create_metric(api, "fine", rounding_function="round", rounding_precision=26)["rounding_precision"]
        == 26
    )
    assert (
        create_metric(api, "tens", rounding_function="floor", rounding_precision=-20)["rounding_precision"]
        == -20
    )
