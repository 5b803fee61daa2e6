"""Fuzzing every Lago operation Lagoon serves with schemathesis, from Lago's OpenAPI file: no answer is a 5xx,
and every 4xx is JSON in Lago's error shape.

Every operation of the spec is fuzzed except those Lagoon defers on purpose (405 `not_implemented`, read from
`lagoon.api.deferred.DEFERRED_ROUTES`); those it neither serves nor defers are fuzzed too (their 404 must be
Lago's). Requests go through the in-process gateway (tests/fuzz/target.py), each case from an organization
seeded with the objects the spec's examples name (tests/fuzz/world.py); generated path parameters and body
references mostly name those objects, so requests get past the 404s into the use cases. Events the API
accepts are then handed to the real aggregator, which must take them.

Two budgets, both deterministic (derandomized: CI sees the same cases every run):
- `make test` (the default): the spec's examples, then a few generated cases per operation.
- `make fuzz` (`LAGOON_FUZZ=deep`): the examples, schemathesis' coverage phase (boundary and invalid values of
  every parameter and body field, unexpected methods) and 100 generated cases per operation.
`LAGOON_FUZZ_EXAMPLES=n` overrides the number of generated cases.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from lagoon.api.deferred import deferred_feature
from schemathesis import GenerationMode

from tests import contract
from tests.fuzz import world as fuzz_world
from tests.fuzz.target import Failure, GatewayTarget

if not contract.SPEC_PATH.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"Lago's OpenAPI spec is missing at {contract.SPEC_PATH}; CI must have ../shared")
    pytest.skip("Lago OpenAPI spec not available (../shared/reference/lago-openapi)", allow_module_level=True)


BASE_URL = "http://lagoon.fuzz/api/v1"


@dataclass(frozen=True)
class Budget:
    phases: tuple[str, ...]
    max_examples: int
    collect: bool
    """Collect every distinct 5xx of an operation and fail it at the end, instead of stopping at the first
    (and shrinking it)."""


BUDGETS = {
    "bounded": Budget(("examples", "fuzzing"), max_examples=10, collect=False),
    "deep": Budget(("examples", "coverage", "fuzzing"), max_examples=100, collect=True),
}
BUDGET = BUDGETS[os.environ.get("LAGOON_FUZZ", "bounded")]
MAX_EXAMPLES = int(os.environ.get("LAGOON_FUZZ_EXAMPLES", BUDGET.max_examples))

# Error bodies by status: the spec's own error schemas (components/schemas/ApiError*).
ERROR_SCHEMAS = {
    400: "ApiErrorBadRequest",
    401: "ApiErrorUnauthorized",
    403: "ApiErrorForbidden",
    404: "ApiErrorNotFound",
    405: "ApiErrorNotAllowed",
    422: "ApiErrorUnprocessableEntity",
}


def lagoon_defers(context: Any) -> bool:
    """Whether Lagoon answers this operation 405 `not_implemented` on purpose (DEFERRED_ROUTES)."""
    operation = context.operation
    found = deferred_feature(operation.method.upper(), re.sub(r"\{\w+\}", "x", operation.path))
    return found is not None and found[1]


schema = schemathesis.openapi.from_path(contract.SPEC_PATH).exclude(func=lagoon_defers)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    with_security_parameters=False,  # every request carries the organization's valid key
)
schema.config.phases.update(phases=list(BUDGET.phases))

PICKS = st.integers(0, 7)
KNOWN_PICKS = 6
"""Picks below this name an object of the world, the others keep the generated value: 3 times in 4, and
always for the simplest pick (0), which derandomized generation and shrinking favour."""


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Mostly name existing objects: a random id only ever reaches the 404."""
    path = context.operation.path
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)

    def known(pick: int) -> dict[str, Any]:
        if pick >= KNOWN_PICKS:
            return path_parameters
        world = fuzz_world.CURRENT
        return {name: world.path_value(path, name, pick) or value for name, value in path_parameters.items()}

    return PICKS.map(known)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Mostly reference existing objects (customer, plan, coupon, add-on, metric, tax, subscription) from
    the generated body, so the rest of it reaches the use case."""

    def known(pick: int) -> Any:
        return body if pick >= KNOWN_PICKS else _with_references(body, fuzz_world.CURRENT, pick)

    return PICKS.map(known)


@schema.hook
def flatmap_query(context: Any, query: Any) -> Any:
    """Query filters and selectors (`external_subscription_id` of the usage routes…) likewise."""

    def known(pick: int) -> Any:
        return query if pick >= KNOWN_PICKS else _with_references(query, fuzz_world.CURRENT, pick)

    return PICKS.map(known)


def _with_references(value: Any, world: fuzz_world.FuzzWorld, pick: int) -> Any:
    if isinstance(value, list):
        return [_with_references(item, world, pick) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: (
            world.reference(key, pick)
            if world.reference(key, pick) is not None
            else _with_references(item, world, pick)
        )
        for key, item in value.items()
    }


def no_server_error(failures: list[Failure]) -> Any:
    """The check, with the unhandled errors behind the answer: the cause is in the report, not only a 500."""

    def no_server_error(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
        if response.status_code >= 500:
            causes = "\n".join(f"{f.cause}\n{f.traceback}" for f in failures) or "(no traceback logged)"
            raise AssertionError(f"{response.status_code} {response.content[:300]!r}\n\n{causes}")

    return no_server_error


def lago_error_shape(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 4xx is a JSON object `{"status": <the status>, "error": "...", ...}`, as the spec's ApiError* say."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    content_type = ",".join(response.headers.get("content-type", []))
    assert content_type.startswith("application/json"), f"{status} with Content-Type {content_type!r}"
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{status} with a body that is not JSON: {response.content[:200]!r}") from exc
    assert isinstance(body, dict), f"{status} with a body that is not an object: {body!r}"
    assert body.get("status") == status, f"{status} whose body says status {body.get('status')!r}"
    assert isinstance(body.get("error"), str), f"{status} without an error phrase: {body!r}"
    if status in ERROR_SCHEMAS:
        contract.assert_matches_schema(ERROR_SCHEMAS[status], body)


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_server_error_and_lago_errors(case: schemathesis.Case, fuzz_target: GatewayTarget) -> None:
    fuzz_target.restore()  # every case from the seeded organization: each one reproducible alone
    prepared = _prepared_request(case, fuzz_target.api_key)
    answer, elapsed, failures = fuzz_target.send(f"{case.method} {case.path}", prepared)
    if BUDGET.collect and answer.status >= 500:
        fuzz_target.server_errors.record(case.as_curl_command(base_url=BASE_URL), failures)
        return
    headers = {name: [value] for name, value in answer.headers.items()}
    response = schemathesis.Response(answer.status, headers, answer.body, prepared, elapsed, verify=True)
    case.validate_response(response, checks=[no_server_error(failures), lago_error_shape])
    if case.method.upper() == "POST" and case.path.startswith("/events") and answer.status == 200:
        _assert_aggregated(case, fuzz_target)


def _assert_aggregated(case: schemathesis.Case, target: GatewayTarget) -> None:
    """Events the API accepted are taken by the aggregator (a refused one would block its shard: a server
    error no client sees)."""
    refused = target.aggregate()
    if refused and BUDGET.collect:
        target.server_errors.record(case.as_curl_command(base_url=BASE_URL), refused)
    elif refused:
        causes = "\n".join(f"{f.cause}\n{f.traceback}" for f in refused)
        raise AssertionError(f"the aggregator refused events the API accepted:\n{causes}")


def _prepared_request(case: schemathesis.Case, api_key: str) -> requests.PreparedRequest:
    """The request exactly as `requests` would send it over HTTP (schemathesis' own transport is `requests`)."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    kwargs["headers"]["Authorization"] = f"Bearer {api_key}"
    fields = ("method", "url", "headers", "params", "json", "data", "files", "cookies")
    return requests.Request(**{key: kwargs[key] for key in fields if key in kwargs}).prepare()
