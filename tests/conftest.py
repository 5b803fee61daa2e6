"""Shared fixtures: moto-backed AWS created from template.yaml, organizations, and an API client that goes
through the real authorizer and handlers with real API Gateway REST events (lagoon.local.gateway)."""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Lagoon")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "lagoon")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Contract checks that helpers deferred run after the test body passed (see tests/contract.py)."""
    from tests import contract

    contract.discard_deferred_checks()
    result = yield
    contract.run_deferred_checks()
    return result


@pytest.fixture(scope="session")
def template() -> Any:
    from lagoon.local.template import Template

    return Template.load()


@pytest.fixture
def aws(template: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh moto AWS with every resource of template.yaml, and the functions' environment applied."""
    with moto_aws(template, monkeypatch):
        yield


@contextmanager
def moto_aws(template: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The `aws` fixture's moto, for fixtures of a wider scope (their own MonkeyPatch)."""
    from lagoon.config import reset_settings
    from lagoon.data.connection import reset_clients
    from moto import mock_aws

    with mock_aws():
        from lagoon.local.template import create_aws_resources

        create_aws_resources(template, boto3.Session(region_name="us-east-1"))
        environment: dict[str, str] = {}
        for logical_id in template.functions:
            environment.update(template.function_environment(logical_id))
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("LAGOON_AWS_ENDPOINT_URL", raising=False)
        reset_settings()
        reset_clients()
        try:
            yield
        finally:
            reset_settings()
            reset_clients()


@dataclass
class Org:
    id: str
    api_key: str


@pytest.fixture
def org(aws: None) -> Org:
    from lagoon.services import organizations

    organization, key = organizations.create_organization("Acme Corp", api_key="test-key-acme")
    return Org(organization.lago_id, key)


@pytest.fixture
def other_org(aws: None) -> Org:
    from lagoon.services import organizations

    organization, key = organizations.create_organization("Globex", api_key="test-key-globex")
    return Org(organization.lago_id, key)


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Calls the API the way API Gateway would, in-process (routes, authorizer, handlers from template.yaml)."""

    def __init__(self, gateway: Any, api_key: str | None) -> None:
        self.gateway = gateway
        self.api_key = api_key

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | list[tuple[str, Any]] | None = None,
        api_key: str | None = "__default__",
        raw_body: bytes | None = None,
        content_type: str = "application/json",
    ) -> ApiResponse:
        key = self.api_key if api_key == "__default__" else api_key
        headers = {"Content-Type": content_type, "User-Agent": "lagoon-tests"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
        query_string = urlencode(query, doseq=True) if query else ""
        response = self.gateway.handle(method, f"/api/v1{path}", headers, query_string, data)
        return ApiResponse(response.status, response.headers, response.body)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def gateway(template: Any, aws: None) -> Any:
    from lagoon.local.gateway import Gateway

    return Gateway(template)


@pytest.fixture
def api(gateway: Any, org: Org) -> ApiClient:
    return ApiClient(gateway, org.api_key)


@pytest.fixture
def other_api(gateway: Any, other_org: Org) -> ApiClient:
    return ApiClient(gateway, other_org.api_key)
