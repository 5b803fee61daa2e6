"""Contract checks: a response body must validate against its operation's schema in Lago's OpenAPI file."""

from __future__ import annotations

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


def assert_matches_contract(path: str, method: str, status: int, body: Any) -> None:
    """Validate `body` against the response schema of `method path` (spec path, e.g. /customers/{external_customer_id})."""
    from openapi_schema_validator import OAS31Validator

    spec = _spec()
    if spec is None:
        pytest.skip("Lago OpenAPI spec not available (../shared/reference/lago-openapi)")
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

    spec = _spec()
    if spec is None:
        pytest.skip("Lago OpenAPI spec not available (../shared/reference/lago-openapi)")
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = sorted(OAS31Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node
