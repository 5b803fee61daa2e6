"""Usage end to end: events in over HTTP → the local stack's Kinesis → the aggregator → current_usage out,
for a few charge models, plus a pay-in-advance charge and a fee estimate (and lago-python-client's
`current_usage`)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def world(local_stack):
    """A fresh customer and subscription (unique codes: the session stack is shared), started this month."""
    suffix = uuid.uuid4().hex[:8]
    session, url = local_stack.session, local_stack.url

    def metric(code: str, aggregation_type: str, field_name: str | None = None) -> dict[str, Any]:
        body = {"name": code, "code": f"{code}_{suffix}", "aggregation_type": aggregation_type}
        if field_name:
            body["field_name"] = field_name
        return _ok(session.post(url("/api/v1/billable_metrics"), json={"billable_metric": body}))[
            "billable_metric"
        ]

    storage = metric("storage", "sum_agg", "gb")
    calls = metric("calls", "count_agg")
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "2"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    charges = [
        {
            "billable_metric_id": storage["lago_id"],
            "charge_model": "graduated",
            "properties": {"graduated_ranges": ranges},
        },
        {
            "billable_metric_id": storage["lago_id"],
            "charge_model": "package",
            "properties": {"amount": "5", "package_size": 10, "free_units": 0},
        },
        {
            "billable_metric_id": calls["lago_id"],
            "charge_model": "standard",
            "properties": {"amount": "0.25", "pricing_group_keys": ["model"]},
        },
        {
            "billable_metric_id": calls["lago_id"],
            "charge_model": "standard",
            "pay_in_advance": True,
            "invoiceable": False,
            "properties": {"amount": "0.1"},
        },
    ]
    plan = {
        "name": "Usage e2e",
        "code": f"usage_{suffix}",
        "interval": "monthly",
        "amount_cents": 1000,
        "amount_currency": "USD",
        "pay_in_advance": False,
        "charges": charges,
    }
    _ok(session.post(url("/api/v1/plans"), json={"plan": plan}))
    customer = f"cus_{suffix}"
    _ok(session.post(url("/api/v1/customers"), json={"customer": {"external_id": customer, "name": "E2E"}}))
    now = datetime.now(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subscription = {
        "external_customer_id": customer,
        "plan_code": plan["code"],
        "external_id": f"sub_{suffix}",
        "subscription_at": start,
    }
    _ok(session.post(url("/api/v1/subscriptions"), json={"subscription": subscription}))
    return {"suffix": suffix, "customer": customer, "subscription": f"sub_{suffix}"}


def _events(world: dict[str, Any], *items: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    at = int(time.time()) - 1
    return [
        {
            "transaction_id": f"tx_{world['suffix']}_{index}",
            "external_subscription_id": world["subscription"],
            "code": f"{code}_{world['suffix']}",
            "timestamp": at,
            "properties": properties,
        }
        for index, (code, properties) in enumerate(items)
    ]


def test_events_in_usage_out(local_stack, world):
    session, url = local_stack.session, local_stack.url
    # Given 15 gb in two events and three calls on two models, sent over HTTP (and one sent twice)
    events = _events(
        world,
        ("storage", {"gb": 8}),
        ("storage", {"gb": 7}),
        ("calls", {"model": "a"}),
        ("calls", {"model": "a"}),
        ("calls", {"model": "b"}),
    )
    _ok(session.post(url("/api/v1/events/batch"), json={"events": events}))
    _ok(session.post(url("/api/v1/events"), json={"event": events[0]}))
    local_stack.drain()
    # When the current usage is read
    query = {"external_subscription_id": world["subscription"]}
    usage = _ok(session.get(url(f"/api/v1/customers/{world['customer']}/current_usage"), params=query))[
        "customer_usage"
    ]
    # Then graduated 10 x 1 + 2 + 5 x 0.5 = 14.50; package 2 x 5 = 10.00; calls 3 x 0.25 = 0.75 (a: 2, b: 1);
    # and the pay-in-advance charge shows 3 x 0.10 = 0.30 of usage
    amounts = {
        (c["charge"]["charge_model"], c["billable_metric"]["code"].split("_")[0]): c
        for c in usage["charges_usage"]
    }
    assert amounts[("graduated", "storage")]["amount_cents"] == 1450
    assert amounts[("graduated", "storage")]["units"] == "15"
    assert amounts[("package", "storage")]["amount_cents"] == 1000
    calls = [c for c in usage["charges_usage"] if c["grouped_usage"]]
    [grouped] = calls
    assert grouped["amount_cents"] == 75
    assert {g["grouped_by"]["model"]: g["events_count"] for g in grouped["grouped_usage"]} == {"a": 2, "b": 1}
    assert usage["amount_cents"] == 1450 + 1000 + 75 + 30
    # And lago-python-client reads the same usage
    same = local_stack.lago_client().customers.current_usage(world["customer"], world["subscription"])
    assert same.amount_cents == usage["amount_cents"]
    # And the pay-in-advance charge created one fee per call (10 cents each), none for the duplicate
    assert sorted(f["amount_cents"] for f in _fees(local_stack, world["subscription"])) == [10, 10, 10]


def _fees(local_stack, external_subscription_id: str) -> list[dict[str, Any]]:
    import json

    dynamodb = local_stack.aws("dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if "ntities" in name)
    found = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item["pk"]["S"].endswith("#fee"):
                body = json.loads(item["body"]["S"])
                if body["external_subscription_id"] == external_subscription_id:
                    found.append(body)
    return found


def test_pay_in_advance_fee_estimate_over_http(local_stack, world):
    session, url = local_stack.session, local_stack.url
    event = {
        "external_subscription_id": world["subscription"],
        "code": f"calls_{world['suffix']}",
        "properties": {"model": "a"},
    }
    fees = _ok(session.post(url("/api/v1/events/estimate_fees"), json={"event": event}))["fees"]
    assert [(f["amount_cents"], f["units"], f["pay_in_advance"]) for f in fees] == [(10, "1", True)]


def test_fee_estimate_through_lago_python_client(local_stack, world):
    from lago_python_client.exceptions import LagoApiError
    from lago_python_client.models import Event

    # The client sends every field it was not given as an explicit null (properties, timestamp…)
    client = local_stack.lago_client()
    event = Event(
        transaction_id=f"estimate_{world['suffix']}",
        external_subscription_id=world["subscription"],
        code=f"calls_{world['suffix']}",
    )
    [fee] = client.events.estimate_fees(event)["fees"]
    assert (fee.amount_cents, fee.units, fee.lago_id) == (10, "1", None)
    # And a blank code is Lago's 404, not a server error
    with pytest.raises(LagoApiError) as refused:
        client.events.estimate_fees(
            Event(transaction_id="x", external_subscription_id=world["subscription"], code="")
        )
    assert refused.value.status_code == 404
