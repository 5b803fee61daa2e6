"""The observability module loads the X-Ray SDK only where Powertools traces (in Lambda)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.fresh_interpreter import modules_loaded_by

# Where Powertools traces: in Lambda (LAMBDA_TASK_ROOT), POWERTOOLS_TRACE_DISABLED unset.
IN_LAMBDA = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "lagoon-test",
    "POWERTOOLS_TRACE_DISABLED": None,
}


def test_with_tracing_disabled_the_x_ray_sdk_is_not_imported() -> None:
    # Given tracing disabled as the local stack and the tests disable it, When a function imports observability
    loaded = modules_loaded_by(
        "from lagoon.observability import tracer\nassert tracer.disabled",
        {**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"},
    )

    # Then the X-Ray SDK (its recorder, sampler and botocore client) is not loaded. Only its package root is:
    # Powertools switches the SDK's global config off through it (a few hundred microseconds, no botocore).
    assert "lagoon.observability" in loaded
    assert not {name for name in loaded if name.startswith("aws_xray_sdk.core")}


def test_outside_lambda_the_x_ray_sdk_is_not_imported() -> None:
    # Given no Lambda runtime (a script, the benchmarks), When observability is imported
    loaded = modules_loaded_by(
        "from lagoon.observability import tracer\nassert tracer.disabled",
        {"LAMBDA_TASK_ROOT": None, "POWERTOOLS_TRACE_DISABLED": None},
    )

    # Then Powertools does not trace there, and the X-Ray SDK is not loaded
    assert "aws_xray_sdk.core" not in loaded


def test_in_lambda_the_tracer_traces_with_x_ray() -> None:
    # Given the Lambda runtime without POWERTOOLS_TRACE_DISABLED (template.yaml: Tracing: Active)
    # When observability is imported, Then the tracer is on and records with X-Ray's recorder
    loaded = modules_loaded_by(
        "from aws_xray_sdk.core import xray_recorder\n"
        "from lagoon.observability import tracer\n"
        "assert not tracer.disabled\n"
        "assert tracer.provider is xray_recorder",
        IN_LAMBDA,
    )
    assert "aws_xray_sdk.core" in loaded


def test_a_handler_returns_and_raises_through_the_untraced_tracer() -> None:
    # Given handlers with the decorator stack, tracing off (tests/conftest.py, as the local stack)
    from lagoon.local.gateway import LambdaContext
    from lagoon.observability import lambda_entrypoint, tracer

    @lambda_entrypoint()
    def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"echo": event["value"]}

    @lambda_entrypoint(correlation_id_path="requestContext.requestId")
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise ValueError("boom")

    # When they run, Then the result and the error pass through unchanged
    assert tracer.disabled
    assert echo({"value": 7}, LambdaContext("lagoon-test")) == {"echo": 7}
    with pytest.raises(ValueError, match="boom"):
        failing({"requestContext": {"requestId": "r-1"}}, LambdaContext("lagoon-test"))
