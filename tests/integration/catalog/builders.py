"""Request builders for the catalog tests: valid Lago bodies, overridable field by field."""

from __future__ import annotations

from typing import Any


def metric_body(code: str = "storage", **fields: Any) -> dict[str, Any]:
    body = {"name": "Storage", "code": code, "aggregation_type": "sum_agg", "field_name": "gb", **fields}
    return {"billable_metric": body}


def create_metric(api: Any, code: str = "storage", **fields: Any) -> dict[str, Any]:
    response = api.post("/billable_metrics", metric_body(code, **fields))
    assert response.status == 200, response.body
    return response.json["billable_metric"]  # type: ignore[no-any-return]


def plan_body(code: str = "startup", **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Startup",
        "code": code,
        "interval": "monthly",
        "amount_cents": 10000,
        "amount_currency": "USD",
        "pay_in_advance": True,
        **fields,
    }
    return {"plan": body}


def create_plan(api: Any, code: str = "startup", **fields: Any) -> dict[str, Any]:
    response = api.post("/plans", plan_body(code, **fields))
    assert response.status == 200, response.body
    return response.json["plan"]  # type: ignore[no-any-return]


def standard_charge(metric: dict[str, Any], amount: str = "0.5", **fields: Any) -> dict[str, Any]:
    return {
        "billable_metric_id": metric["lago_id"],
        "charge_model": "standard",
        "properties": {"amount": amount},
        **fields,
    }


def create_tax(api: Any, code: str = "vat", rate: str = "20.0", **fields: Any) -> dict[str, Any]:
    response = api.post("/taxes", {"tax": {"name": code.upper(), "code": code, "rate": rate, **fields}})
    assert response.status == 200, response.body
    return response.json["tax"]  # type: ignore[no-any-return]


def outbox_messages(webhook_type: str | None = None) -> list[dict[str, Any]]:
    """Webhook messages recorded so far (all organizations), oldest first."""
    import json

    from lagoon.data.connection import ensure_bound
    from lagoon.data.records import OutboxRecord

    ensure_bound()
    records = sorted(OutboxRecord.scan(), key=lambda r: r.created_at)
    messages = [
        {"webhook_type": r.webhook_type, "object_type": r.object_type, "payload": json.loads(r.payload)}
        for r in records
    ]
    return [m for m in messages if webhook_type is None or m["webhook_type"] == webhook_type]
