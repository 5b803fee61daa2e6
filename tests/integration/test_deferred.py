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
