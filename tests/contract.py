"""Contract checks: a response body must validate against its operation's schema in Lago's OpenAPI file.

A test checks the contract after its own assertions: without the spec (outside CI) a check skips the test, and a
skip must never hide the test's amounts. Under CI=true a missing spec fails instead of skipping."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "reference" / "lago-openapi" / "openapi.yaml"


@cache
def _spec() -> dict[str, Any] | None:
    if not SPEC_PATH.exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError(
                f"Lago's OpenAPI spec is missing at {SPEC_PATH}; CI must have ../shared beside the repo"
            )
        return None
    return yaml.safe_load(SPEC_PATH.read_text())  # type: ignore[no-any-return]


def _spec_or_skip() -> dict[str, Any]:
    spec = _spec()
    if spec is None:
        pytest.skip("Lago OpenAPI spec not available (../shared/reference/lago-openapi)")
    return spec


def assert_matches_contract(path: str, method: str, status: int, body: Any) -> None:
    """Validate `body` against the response schema of `method path` (spec path, e.g. /customers/{external_customer_id})."""
    from openapi_schema_validator import OAS31Validator

    spec = _spec_or_skip()
    operation = spec["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    if "$ref" in response:
        response = _resolve(spec, response["$ref"])
    schema = response["content"]["application/json"]["schema"]
    wrapper = {"$ref": schema["$ref"]} if "$ref" in schema else schema
    validator = OAS31Validator({**wrapper, "components": spec["components"]})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def assert_matches_schema(schema_name: str, body: Any) -> None:
    """Validate `body` against the spec's component schema `schema_name` (e.g. InvoiceObjectExtended)."""
    from openapi_schema_validator import OAS31Validator

    spec = _spec_or_skip()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = sorted(OAS31Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def assert_webhook_matches_contract(envelope: dict[str, Any]) -> None:
    """A webhook body validates against the contract's `webhooks:` entry for its `webhook_type` (reusable by
    every module that records messages)."""
    from openapi_schema_validator import OAS31Validator

    spec = _spec_or_skip()
    for operation in spec["webhooks"].values():
        schema = operation["post"]["requestBody"]["content"]["application/json"]["schema"]
        if envelope["webhook_type"] in schema["properties"]["webhook_type"].get("enum", []):
            validator = OAS31Validator({**schema, "components": spec["components"]})
            problems = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(envelope)]
            assert not problems, problems
            return
    raise AssertionError(f"no contract entry for {envelope['webhook_type']}")


_deferred: list[tuple[str, str, int, Any]] = []


def defer_contract_check(path: str, method: str, status: int, body: Any) -> None:
    """For helpers that hand a body to the test: check it once the test's own assertions have passed.

    tests/conftest.py runs the deferred checks at the end of each test's call. The body is copied, so what the
    test does with it afterwards does not change what is checked."""
    _deferred.append((path, method, status, copy.deepcopy(body)))


def discard_deferred_checks() -> None:
    _deferred.clear()


def run_deferred_checks() -> None:
    pending = list(_deferred)
    _deferred.clear()
    for path, method, status, body in pending:
        assert_matches_contract(path, method, status, body)


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node
