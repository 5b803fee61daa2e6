"""The local gateway picks the route API Gateway (REST) would: the most specific resource, segment by segment
(literal, then {param}, then {proxy+}), among those whose method matches; a greedy route gets only the rest."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from lagoon.local.gateway import Gateway
from lagoon.local.template import Template


def _template(*routes: tuple[str, str, str]) -> Template:
    """A template with one API and the given (function, path, method) routes."""
    functions: dict[str, Any] = {}
    for function, path, method in routes:
        events = functions.setdefault(
            function,
            {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "functions/x/", "Events": {}}},
        )["Properties"]["Events"]
        events[f"E{len(events)}"] = {"Type": "Api", "Properties": {"Path": path, "Method": method}}
    return Template({"Resources": {"Api": {"Type": "AWS::Serverless::Api", "Properties": {}}, **functions}})


def _served_by(gateway: Gateway, method: str, path: str) -> str | None:
    found = gateway.match(method, path)
    return found[0].function if found else None


@pytest.fixture
def gateway() -> Gateway:
    return Gateway(
        _template(
            ("Greedy", "/api/v1/{proxy+}", "ANY"),
            ("Customers", "/api/v1/customers", "ANY"),
            ("Customers", "/api/v1/customers/{external_customer_id}", "ANY"),
            ("Usage", "/api/v1/customers/{external_customer_id}/current_usage", "ANY"),
            ("Metrics", "/api/v1/billable_metrics/{code}", "ANY"),
            ("Literal", "/api/v1/billable_metrics/evaluate_expression", "ANY"),
            ("ByParam", "/api/v1/a/{x}/b/c", "ANY"),
            ("ByLiteral", "/api/v1/a/y/{z}/{w}", "ANY"),
            ("PostOnly", "/api/v1/jobs/run", "POST"),
            ("Jobs", "/api/v1/jobs/{job}", "GET"),
        )
    )


@pytest.mark.parametrize(
    ("method", "path", "function"),
    [
        # more specific resources win over the greedy one
        ("GET", "/api/v1/customers", "Customers"),
        ("DELETE", "/api/v1/customers/c1", "Customers"),
        ("GET", "/api/v1/customers/c1/current_usage", "Usage"),
        ("GET", "/api/v1/billable_metrics/m1", "Metrics"),
        ("POST", "/api/v1/billable_metrics/evaluate_expression", "Literal"),
        # a path no resource declares falls to the greedy one, however deep
        ("GET", "/api/v1/customers/c1/wallets", "Greedy"),
        ("POST", "/api/v1/customers/c1/wallets/w1/alerts/a1", "Greedy"),
        ("GET", "/api/v1/nowhere", "Greedy"),
        # segment by segment from the left, not by the number of literal segments
        ("GET", "/api/v1/a/y/b/c", "ByLiteral"),
        ("GET", "/api/v1/a/q/b/c", "ByParam"),
        # the resource and method are matched together: without the method, a less specific resource serves
        ("POST", "/api/v1/jobs/run", "PostOnly"),
        ("GET", "/api/v1/jobs/run", "Jobs"),
        ("DELETE", "/api/v1/jobs/run", "Greedy"),
        # {proxy+} needs at least one segment; what is off its prefix is no route at all
        ("GET", "/api/v1", None),
        ("GET", "/api/v1/", None),
        ("GET", "/nowhere", None),
        ("GET", "/api/v2/customers", None),
    ],
)
def test_a_request_is_served_by_the_route_api_gateway_would_pick(
    gateway: Gateway, method: str, path: str, function: str | None
) -> None:
    assert _served_by(gateway, method, path) == function


def test_the_greedy_route_passes_the_rest_of_the_path_as_its_parameter(gateway: Gateway) -> None:
    found = gateway.match("GET", "/api/v1/customers/c1/wallets/w1")
    assert found is not None
    assert found[1] == {"proxy": "customers/c1/wallets/w1"}


def test_api_functions_serve_one_request_at_a_time() -> None:
    # Powertools keeps the current request in class attributes shared by every resolver of the process: two
    # requests served at once could read each other's event (and organization). The local gateway invokes
    # one API function at a time, as a Lambda container does (lagoon.local.stack asks for it).

    class SlowFunctions:
        def __init__(self) -> None:
            self.running = 0
            self.most = 0
            self.lock = threading.Lock()

        def invoke(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.05)
            with self.lock:
                self.running -= 1
            return {"statusCode": 200, "headers": {}, "body": "{}"}

    functions = SlowFunctions()
    template = _template(("Customers", "/api/v1/customers", "ANY"))
    gateway = Gateway(template, functions, one_at_a_time=True)  # type: ignore[arg-type]
    threads = [
        threading.Thread(target=gateway.handle, args=("GET", "/api/v1/customers", {})) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert functions.most == 1
