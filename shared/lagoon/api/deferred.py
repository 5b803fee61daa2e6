"""Lago endpoints that DECISIONS.md defers to a later wave: each answers a clear Lago-style error.

Generated from the OpenAPI paths of wallets, credit notes, analytics, payments, payment requests, customer portal,
checkout/payment methods, entitlements, billing entities, alerts, fixed charges, metadata and custom expressions.
"""

from __future__ import annotations

import re
from functools import cache

DEFERRED_ROUTES: list[tuple[str, tuple[str, ...], str]] = [
    ("/billing_entities", ("GET", "POST"), "billing_entities"),
    ("/billing_entities/<code>", ("GET", "PUT"), "billing_entities"),
    ("/activity_logs", ("GET",), "activity_logs"),
    ("/activity_logs/<activity_id>", ("GET",), "activity_logs"),
    ("/api_logs", ("GET",), "api_logs"),
    ("/api_logs/<request_id>", ("GET",), "api_logs"),
    ("/analytics/gross_revenue", ("GET",), "analytics"),
    ("/analytics/invoice_collection", ("GET",), "analytics"),
    ("/analytics/invoiced_usage", ("GET",), "analytics"),
    ("/analytics/mrr", ("GET",), "analytics"),
    ("/analytics/overdue_balance", ("GET",), "analytics"),
    ("/analytics/usage", ("GET",), "analytics"),
    ("/billable_metrics/evaluate_expression", ("POST",), "custom_expressions"),
    ("/features", ("GET", "POST"), "entitlements"),
    ("/features/<code>", ("DELETE", "GET", "PUT"), "entitlements"),
    ("/features/<code>/privileges/<privilege_code>", ("DELETE",), "entitlements"),
    ("/credit_notes", ("GET", "POST"), "credit_notes"),
    ("/credit_notes/<lago_id>", ("GET", "PUT"), "credit_notes"),
    ("/credit_notes/<lago_id>/download", ("POST",), "credit_notes"),
    ("/credit_notes/estimate", ("POST",), "credit_notes"),
    ("/credit_notes/<lago_id>/void", ("PUT",), "credit_notes"),
    ("/credit_notes/<lago_id>/metadata", ("DELETE", "PATCH", "POST"), "credit_notes"),
    ("/credit_notes/<lago_id>/metadata/<key>", ("DELETE",), "credit_notes"),
    ("/customers/<external_customer_id>/credit_notes", ("GET",), "credit_notes"),
    ("/customers/<external_customer_id>/payments", ("GET",), "payments"),
    ("/customers/<external_customer_id>/payment_requests", ("GET",), "payment_requests"),
    ("/customers/<external_customer_id>/portal_url", ("GET",), "customer_portal"),
    ("/customers/<external_customer_id>/wallets", ("GET", "POST"), "wallets"),
    ("/customers/<external_customer_id>/wallets/<code>", ("DELETE", "GET", "PUT"), "wallets"),
    ("/customers/<external_customer_id>/wallets/<code>/metadata", ("DELETE", "PATCH", "POST"), "wallets"),
    ("/customers/<external_customer_id>/wallets/<code>/metadata/<key>", ("DELETE",), "wallets"),
    ("/customers/<external_customer_id>/wallets/<code>/alerts", ("DELETE", "GET", "POST"), "alerts"),
    (
        "/customers/<external_customer_id>/wallets/<code>/alerts/<alert_code>",
        ("DELETE", "GET", "PUT"),
        "alerts",
    ),
    ("/customers/<external_customer_id>/checkout_url", ("POST",), "payment_providers"),
    ("/customers/<external_customer_id>/payment_methods", ("GET",), "payment_providers"),
    (
        "/customers/<external_customer_id>/payment_methods/<lago_id>/set_as_default",
        ("PUT",),
        "payment_providers",
    ),
    ("/customers/<external_customer_id>/payment_methods/<lago_id>", ("DELETE",), "payment_providers"),
    ("/payment_receipts", ("GET",), "payments"),
    ("/payment_receipts/<lago_id>", ("GET",), "payments"),
    ("/payment_requests", ("GET", "POST"), "payment_requests"),
    ("/payment_requests/<lago_id>", ("GET",), "payment_requests"),
    ("/payments", ("GET", "POST"), "payments"),
    ("/payments/<lago_id>", ("GET",), "payments"),
    ("/plans/<code>/entitlements", ("GET", "PATCH", "POST"), "entitlements"),
    ("/plans/<code>/entitlements/<feature_code>", ("DELETE", "GET"), "entitlements"),
    ("/plans/<code>/entitlements/<feature_code>/privileges/<privilege_code>", ("DELETE",), "entitlements"),
    ("/plans/<code>/metadata", ("DELETE", "PATCH", "POST"), "plan_metadata"),
    ("/plans/<code>/metadata/<key>", ("DELETE",), "plan_metadata"),
    ("/plans/<code>/fixed_charges", ("GET", "POST"), "fixed_charges"),
    ("/plans/<code>/fixed_charges/<fixed_charge_code>", ("DELETE", "GET", "PUT"), "fixed_charges"),
    ("/subscriptions/<external_id>/alerts", ("DELETE", "GET", "POST"), "alerts"),
    ("/subscriptions/<external_id>/alerts/<code>", ("DELETE", "GET", "PUT"), "alerts"),
    ("/subscriptions/<external_id>/entitlements", ("GET", "PATCH"), "entitlements"),
    ("/subscriptions/<external_id>/entitlements/<feature_code>", ("DELETE",), "entitlements"),
    (
        "/subscriptions/<external_id>/entitlements/<feature_code>/privileges/<privilege_code>",
        ("DELETE",),
        "entitlements",
    ),
    ("/subscriptions/<external_id>/fixed_charges", ("GET",), "fixed_charges"),
    ("/subscriptions/<external_id>/fixed_charges/<fixed_charge_code>", ("GET", "PUT"), "fixed_charges"),
    ("/wallets", ("GET", "POST"), "wallets"),
    ("/wallets/<lago_id>", ("DELETE", "GET", "PUT"), "wallets"),
    ("/wallets/<lago_id>/metadata", ("DELETE", "PATCH", "POST"), "wallets"),
    ("/wallets/<lago_id>/metadata/<key>", ("DELETE",), "wallets"),
    ("/wallet_transactions", ("POST",), "wallets"),
    ("/wallet_transactions/<lago_id>", ("GET",), "wallets"),
    ("/wallet_transactions/<lago_id>/payment_url", ("POST",), "wallets"),
    ("/wallet_transactions/<lago_id>/consumptions", ("GET",), "wallets"),
    ("/wallet_transactions/<lago_id>/fundings", ("GET",), "wallets"),
    ("/wallets/<lago_id>/wallet_transactions", ("GET",), "wallets"),
]
"""(path relative to /api/v1, Lago's methods on it, deferred feature): the one list of deferred Lago routes.

template.yaml does not repeat it: DeferredFunction owns the greedy `/api/v1/{proxy+}` route, which API Gateway
(and lagoon.local.gateway) only uses when no more specific route of another function matches. DeferredFunction
answers a path listed here 405 `not_implemented` for its methods and 405 `not_allowed` for others, and any path
not listed the 404 `route_not_found` the gateway gives to unknown routes. Its only other route is a literal one
for a listed path that a `{param}` route of another function would otherwise take (`/billable_metrics/{code}`).

Implementing a feature: give its routes to a function in template.yaml and remove its entries here, one by one
(tests/unit/test_template_discipline.py checks that every entry still reaches DeferredFunction).
"""


@cache
def _compiled() -> list[tuple[re.Pattern[str], tuple[str, ...], str]]:
    """In API Gateway's precedence: per segment from the left, a literal before a `<param>`."""
    ordered = sorted(
        DEFERRED_ROUTES, key=lambda route: [part.startswith("<") for part in route[0].split("/")]
    )
    return [
        (re.compile("^" + re.sub(r"<\w+>", "[^/]+", path) + "$"), methods, feature)
        for path, methods, feature in ordered
    ]


def deferred_feature(method: str, path: str) -> tuple[str, bool] | None:
    """(feature, method allowed) for a deferred Lago path (relative to /api/v1), or None.

    Path and method are matched together, as lagoon.local.gateway matches routes: `POST /credit_notes/estimate`
    is the estimate, `GET /credit_notes/estimate` the credit note `estimate`."""
    matching = [(methods, feature) for pattern, methods, feature in _compiled() if pattern.match(path)]
    for methods, feature in matching:
        if method.upper() in methods:
            return feature, True
    return (matching[0][1], False) if matching else None
