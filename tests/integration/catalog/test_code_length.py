"""Catalog codes are DynamoDB sort keys: a code too long to store is a 422, never a 5xx."""

from __future__ import annotations

import pytest

BODIES = {
    "/billable_metrics": ("billable_metric", {"name": "M", "aggregation_type": "count_agg"}),
    "/plans": (
        "plan",
        {
            "name": "P",
            "interval": "monthly",
            "amount_cents": 0,
            "amount_currency": "EUR",
            "pay_in_advance": False,
        },
    ),
    "/taxes": ("tax", {"name": "T", "rate": "20"}),
    "/add_ons": ("add_on", {"name": "A", "amount_cents": 100, "amount_currency": "EUR"}),
    "/coupons": (
        "coupon",
        {
            "name": "C",
            "coupon_type": "percentage",
            "percentage_rate": "10",
            "frequency": "forever",
            "expiration": "no_expiration",
        },
    ),
}


@pytest.mark.parametrize("path", list(BODIES))
def test_a_code_of_more_than_255_characters_is_refused(api, path):
    root, fields = BODIES[path]
    # Given a code one character over the limit (5,000 used to answer 503 from DynamoDB's key size limit)
    response = api.post(path, {root: {**fields, "code": "é" * 256}})
    assert response.status == 422, response.body
    assert response.json == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"code": ["value_is_too_long"]},
    }
    # And the longest code (255 multi-byte characters) is stored and read back
    created = api.post(path, {root: {**fields, "code": "é" * 255}})
    assert created.status == 200, created.body
    assert api.get(f"{path}/{'é' * 255}").json[root]["code"] == "é" * 255


@pytest.mark.parametrize(
    ("path", "field"),
    [("/plans", "amount_cents"), ("/add_ons", "amount_cents"), ("/coupons", "frequency_duration")],
)
def test_counts_and_cents_beyond_lagos_bigint_are_refused(api, path, field):
    root, fields = BODIES[path]
    extra = {"frequency": "recurring"} if path == "/coupons" else {}
    # 10**30 cents used to be stored as is
    response = api.post(path, {root: {**fields, **extra, "code": "big", field: 2**63}})
    assert response.status == 422, response.body
    assert response.json["error_details"] == {field: ["value_is_invalid"]}
    created = api.post(path, {root: {**fields, **extra, "code": "max", field: 2**63 - 1}})
    assert created.status == 200, created.body
    assert created.json[root][field] == 2**63 - 1
