"""Deferred Lago features (DECISIONS.md) answer a clear error, never a fake success."""

import pytest


@pytest.mark.parametrize(
    ("method", "path", "feature"),
    [
        ("GET", "/wallets", "wallets"),
        ("POST", "/customers/c1/wallets", "wallets"),
        ("PUT", "/credit_notes/abc/void", "credit_notes"),
        ("GET", "/analytics/mrr", "analytics"),
        ("POST", "/payment_requests", "payment_requests"),
        ("GET", "/customers/c1/portal_url", "customer_portal"),
        ("POST", "/billable_metrics/evaluate_expression", "custom_expressions"),
    ],
)
def test_deferred_endpoint_answers_not_implemented(api, method, path, feature):
    response = api.request(method, path, {} if method in ("POST", "PUT") else None)
    assert response.status == 405
    assert response.json == {
        "status": 405,
        "error": "Method Not Allowed",
        "code": "not_implemented",
        "error_details": {"message": f"{feature} is not implemented in this version of Lagoon"},
    }


def test_deferred_endpoints_still_require_a_key(api):
    assert api.get("/wallets", api_key=None).status == 401


def test_a_method_the_deferred_path_does_not_have_is_a_plain_405(api):
    assert api.delete("/analytics/mrr").json == {
        "status": 405,
        "error": "Method Not Allowed",
        "code": "not_allowed",
    }


def test_a_deferred_path_without_a_route_of_its_own_is_served_by_the_greedy_route(api, gateway):
    # Given no route in template.yaml names /customers/{id}/wallets, when it is called with a key
    route, _ = gateway.match("POST", "/api/v1/customers/c1/wallets")
    response = api.post("/customers/c1/wallets", {})
    # Then the greedy route takes it to DeferredFunction, which answers as the feature's own route did
    assert (route.path, route.function) == ("/api/v1/{proxy+}", "DeferredFunction")
    assert (response.status, response.json["code"]) == (405, "not_implemented")


def test_a_deferred_path_another_route_would_take_keeps_its_answers(api):
    # /billable_metrics/{code} would take it on the greedy route alone: its literal route keeps it deferred
    assert api.post("/billable_metrics/evaluate_expression", {}).json["code"] == "not_implemented"
    assert api.get("/billable_metrics/evaluate_expression").json["code"] == "not_allowed"


def _missing_route_response(template):
    """What API Gateway answers a path no route serves: the template's MISSING_AUTHENTICATION_TOKEN response."""
    status, body = template.gateway_responses()["MISSING_AUTHENTICATION_TOKEN"]
    return status, body.encode()


@pytest.mark.parametrize(
    "path", ["/nowhere", "/customers/c1/nope", "/wallets/w1/unknown/deeper", "/plans/p1/x"]
)
def test_an_unknown_api_path_answers_the_gateways_404_byte_for_byte(api, gateway, template, path):
    # Given a path under /api/v1 that is no Lago route, when it is called with a key
    response = api.get(path)
    # Then DeferredFunction (on the greedy route) answers exactly what the gateway answers unknown routes
    assert gateway.match("GET", f"/api/v1{path}")[0].function == "DeferredFunction"
    assert (response.status, response.body) == _missing_route_response(template)
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("api_key", ["__default__", None])
def test_a_path_off_the_api_is_still_the_gateways_own_404(api, template, api_key):
    for path in ("/nowhere", "/api/v1", "/api/v2/customers"):
        response = api.gateway.handle("GET", path, {} if api_key is None else {"Authorization": "Bearer x"})
        assert (response.status, response.body) == _missing_route_response(template)


def test_an_unknown_api_path_without_a_valid_key_is_still_the_gateways_404(api, template):
    # The greedy route has no authorizer: an unknown /api/v1 path answers the gateway's 404 whatever the key,
    # as before the route existed.
    for api_key in (None, "not-a-key"):
        response = api.get("/nowhere", api_key=api_key)
        assert (response.status, response.body) == _missing_route_response(template)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_deferred_path_without_a_valid_key_is_the_apis_401(api, template, method):
    # Given a deferred path (a listed method, and one it does not list), when it comes without a valid key,
    # then it answers exactly the API's 401 (the UNAUTHORIZED gateway response), as when an authorizer ran
    status, body = template.gateway_responses()["UNAUTHORIZED"]
    for api_key in (None, "not-a-key"):
        response = api.request(method, "/wallets", api_key=api_key)
        assert (response.status, response.body) == (status, body.encode())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/customers"),
        ("DELETE", "/organizations"),
        ("POST", "/customers/c1"),
        ("PUT", "/events/batch"),
    ],
)
def test_another_method_on_a_real_route_is_still_its_functions_405(api, gateway, method, path):
    route, _ = gateway.match(method, f"/api/v1{path}")
    response = api.request(method, path, {} if method in ("POST", "PUT", "PATCH") else None)
    assert route.function != "DeferredFunction"
    assert (response.status, response.json) == (
        405,
        {"status": 405, "error": "Method Not Allowed", "code": "not_allowed"},
    )


def test_a_literal_deferred_path_is_preferred_to_a_parameter_one(api):
    # Given POST /credit_notes/estimate is deferred, and so is /credit_notes/{lago_id} (GET and PUT only)
    response = api.post("/credit_notes/estimate", {})
    # Then the literal path decides for its method, as the gateway routes a literal segment before a {param}
    assert (response.status, response.json["code"]) == (405, "not_implemented")
    # and another method falls to the parameter path: the credit note "estimate", deferred as the others
    assert api.get("/credit_notes/estimate").json["code"] == "not_implemented"
    assert api.delete("/credit_notes/estimate").json["code"] == "not_allowed"
