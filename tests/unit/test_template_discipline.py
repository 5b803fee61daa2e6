"""Rules template.yaml must keep (STYLE.md: 'custom cfn-lint rules that keep it that way'), checked on every run."""

from __future__ import annotations

from typing import Any

import pytest
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
