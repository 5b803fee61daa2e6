"""Rules template.yaml must keep (STYLE.md: 'custom cfn-lint rules that keep it that way'), checked on every run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from lagoon.api.deferred import DEFERRED_ROUTES
from lagoon.local.gateway import Gateway
from lagoon.local.template import Template


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def _log_group_targets(template: Template) -> set[str]:
    targets = set()
    for group in template.of_type("AWS::Logs::LogGroup").values():
        name = group["Properties"]["LogGroupName"]
        text = name.get("Fn::Sub", "") if isinstance(name, dict) else name
        if text.startswith("/aws/lambda/${") and "RetentionInDays" in group["Properties"]:
            targets.add(text[len("/aws/lambda/${") : -1])
    return targets


def test_every_function_has_its_own_log_group_with_retention(template: Template) -> None:
    missing = sorted(set(template.functions) - _log_group_targets(template))
    assert missing == []


def test_every_function_has_explicit_least_privilege_policies(template: Template) -> None:
    assert template.functions, "the template declares functions"
    for logical_id, function in template.functions.items():
        # Declared explicitly on every function (an empty list = no AWS access beyond its logs).
        assert "Policies" in function["Properties"], f"{logical_id} declares no Policies"
        policies: list[Any] = function["Properties"]["Policies"] or []
        for policy in policies:
            assert policy not in (
                "AdministratorAccess",
                "AmazonDynamoDBFullAccess",
                "AWSLambda_FullAccess",
            ), f"{logical_id} uses the broad managed policy {policy}"
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    assert statement.get("Resource") != "*" or statement.get("Action") in (
                        "cloudwatch:PutMetricData",
                        ["cloudwatch:PutMetricData"],
                    ), f"{logical_id} grants {statement.get('Action')} on every resource"


def test_every_stream_consumer_has_an_on_failure_destination_and_partial_batch_responses(
    template: Template,
) -> None:
    triggers = template.kinesis_triggers()
    assert triggers, "the aggregator consumes the events stream"
    for function, _, properties in triggers:
        assert properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"), function
        assert "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []), function
        assert properties.get("BisectBatchOnFunctionError") is True, function


def test_every_schedule_has_a_dead_letter_queue(template: Template) -> None:
    schedules = template.schedules()
    assert schedules
    for schedule in schedules:
        event = template.functions[schedule.function]["Properties"]["Events"][schedule.name]
        assert event["Properties"].get("DeadLetterConfig", {}).get("Arn"), (
            f"{schedule.function}.{schedule.name}"
        )


def test_every_table_has_point_in_time_recovery_and_encryption(template: Template) -> None:
    tables = template.of_type("AWS::DynamoDB::Table")
    assert tables, "the template declares tables"
    for logical_id, table in tables.items():
        properties = table["Properties"]
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, (
            logical_id
        )
        assert properties["SSESpecification"]["SSEEnabled"] is True, logical_id


def test_every_api_route_answers_any_method_so_the_function_can_say_405(template: Template) -> None:
    assert {route.method for route in template.routes()} == {"ANY"}


def test_every_function_that_checks_for_a_document_may_list_the_bucket(template: Template) -> None:
    # lagoon.data.documents_store.exists HEADs a key: without s3:ListBucket, S3 answers a missing key with 403
    # (not 404), which moto does not emulate.
    readers = {
        logical_id: function
        for logical_id, function in template.functions.items()
        if "DOCUMENTS_BUCKET" in function["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert readers, "some functions read documents"
    for logical_id, function in readers.items():
        allowed = False
        for policy in function["Properties"]["Policies"]:
            if isinstance(policy, dict) and ("S3CrudPolicy" in policy or "S3ReadPolicy" in policy):
                allowed = True
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                if "s3:ListBucket" in actions and statement["Resource"] == {
                    "Fn::GetAtt": ["DocumentsBucket", "Arn"]
                }:
                    allowed = True
        assert allowed, f"{logical_id} reads documents but may not list the bucket"


# -- the deferred Lago routes: one greedy route, one list (lagoon.api.deferred.DEFERRED_ROUTES) --------------
GREEDY_PATH = "/api/v1/{proxy+}"


def _sample(path: str) -> str:
    """A concrete request path for a route or a DEFERRED_ROUTES path (every parameter → `x1`)."""
    return re.sub(r"<\w+>|\{\w+\+?\}", "x1", path)


def test_the_deferred_function_owns_the_only_greedy_route(template: Template) -> None:
    greedy = [route for route in template.routes() if "+}" in route.path]
    assert [(r.path, r.method, r.function, r.authorized) for r in greedy] == [
        (
            GREEDY_PATH,
            "ANY",
            "DeferredFunction",
            False,
        )  # no authorizer: the function checks deferred paths' keys
    ]


def test_every_deferred_route_reaches_the_deferred_function(template: Template) -> None:
    # Given the one list of deferred routes, when API Gateway's precedence routes each of them with each of
    # Lago's methods, then DeferredFunction answers it (an implemented feature must leave the list).
    gateway = Gateway(template)
    for path, methods, _ in DEFERRED_ROUTES:
        for method in methods:
            found = gateway.match(method, "/api/v1" + _sample(path))
            assert found is not None and found[0].function == "DeferredFunction", (method, path, found)


def test_the_other_functions_routes_keep_precedence_over_the_greedy_route(template: Template) -> None:
    gateway = Gateway(template)
    for route in template.routes():
        if route.function != "DeferredFunction":
            found = gateway.match("GET", _sample(route.path))
            assert found is not None and found[0] == route, (route.path, found)


def test_the_deferred_function_has_a_literal_route_only_where_another_route_would_take_the_path(
    template: Template,
) -> None:
    # Each of its literal routes is a deferred path that, on the greedy route alone, a more specific route of
    # another function would take (API Gateway prefers {param} to {proxy+}).
    deferred_paths = {"/api/v1" + _sample(path) for path, _, _ in DEFERRED_ROUTES}
    others = [route for route in template.routes() if route.function != "DeferredFunction"]
    for route in template.routes():
        if route.function == "DeferredFunction" and route.path != GREEDY_PATH:
            assert route.path in deferred_paths, route.path
            assert any(other.pattern.match(route.path) for other in others), (
                f"{route.path} is served by {GREEDY_PATH} already: remove its route from template.yaml"
            )
