"""Usage end to end for every charge model and aggregation type: events in over HTTP → Kinesis → the aggregator →
current_usage / past_usage out (graduated and package are in test_usage_e2e.py).

`test_every_model_in_current_usage` runs on the shared stack with a subscription of this month and events of
the last minutes. `test_period_boundary_and_past_usage` has a stack of its own (its ticks move every
organization's clock) and lives in 2030, so every period and amount is fixed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import LocalStackProcess


def _ok(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


class Catalog:
    """Metrics, a plan and a subscription for one test, with codes unique to it."""

    def __init__(self, stack: LocalStackProcess) -> None:
        self.stack = stack
        self.suffix = uuid.uuid4().hex[:8]
        self.metrics: dict[str, dict[str, Any]] = {}

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return _ok(self.stack.session.post(self.stack.url(f"/api/v1{path}"), json=body))

    def get(self, path: str, **params: Any) -> Any:
        return _ok(self.stack.session.get(self.stack.url(f"/api/v1{path}"), params=params))

    def code(self, name: str) -> str:
        return f"{name}_{self.suffix}"

    def metric(self, name: str, aggregation_type: str, field_name: str | None = None, **fields: Any) -> str:
        body = {"name": name, "code": self.code(name), "aggregation_type": aggregation_type, **fields}
        if field_name:
            body["field_name"] = field_name
        self.metrics[name] = self.post("/billable_metrics", {"billable_metric": body})["billable_metric"]
        return str(self.metrics[name]["lago_id"])

    def subscribe(self, charges: list[dict[str, Any]], subscription_at: str) -> None:
        plan = {
            "name": "Models",
            "code": self.code("plan"),
            "interval": "monthly",
            "amount_cents": 0,
            "amount_currency": "USD",
            "pay_in_advance": False,
            "charges": charges,
        }
        self.post("/plans", {"plan": plan})
        self.post("/customers", {"customer": {"external_id": self.code("cus"), "name": "Models"}})
        subscription = {
            "external_customer_id": self.code("cus"),
            "plan_code": self.code("plan"),
            "external_id": self.code("sub"),
            "subscription_at": subscription_at,
        }
        self.post("/subscriptions", {"subscription": subscription})

    def send(self, *events: tuple[str, int, dict[str, Any]], **fields: Any) -> None:
        """(metric name, unix timestamp, properties) each, in one batch."""
        batch = [
            {
                "transaction_id": f"tx_{self.suffix}_{uuid.uuid4().hex[:8]}",
                "external_subscription_id": self.code("sub"),
                "code": self.code(name),
                "timestamp": at,
                "properties": properties,
                **fields,
            }
            for name, at, properties in events
        ]
        self.post("/events/batch", {"events": batch})

    def by_metric(self, usage: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {c["billable_metric"]["code"].rsplit("_", 1)[0]: c for c in usage["charges_usage"]}


def test_every_model_in_current_usage(local_stack: LocalStackProcess) -> None:
    lago = Catalog(local_stack)
    volume = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "2", "flat_amount": "1"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
    ]
    graduated_percentage = [
        {"from_value": 0, "to_value": 100, "rate": "1", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "rate": "0.5", "flat_amount": "1"},
    ]
    charges = [
        {
            "billable_metric_id": lago.metric("calls", "count_agg"),
            "charge_model": "standard",
            "properties": {"amount": "0.5"},
        },
        {
            "billable_metric_id": lago.metric("gb", "sum_agg", "gb"),
            "charge_model": "volume",
            "properties": {"volume_ranges": volume},
        },
        {
            "billable_metric_id": lago.metric("spend", "sum_agg", "amount"),
            "charge_model": "percentage",
            "properties": {"rate": "2", "fixed_amount": "0.5"},
        },
        {
            "billable_metric_id": lago.metric("payout", "sum_agg", "amount"),
            "charge_model": "graduated_percentage",
            "properties": {"graduated_percentage_ranges": graduated_percentage},
        },
        {
            "billable_metric_id": lago.metric("seats", "max_agg", "seats"),
            "charge_model": "standard",
            "properties": {"amount": "3"},
        },
        {
            "billable_metric_id": lago.metric("users", "unique_count_agg", "user"),
            "charge_model": "standard",
            "properties": {"amount": "1"},
        },
        {
            "billable_metric_id": lago.metric("level", "latest_agg", "level"),
            "charge_model": "standard",
            "properties": {"amount": "1"},
        },
        {
            "billable_metric_id": lago.metric("compute", "sum_agg", "units"),
            "charge_model": "dynamic",
            "properties": {},
        },
        {
            "billable_metric_id": lago.metric(
                "requests", "count_agg", filters=[{"key": "region", "values": ["eu", "us"]}]
            ),
            "charge_model": "standard",
            "properties": {"amount": "0.1"},
            "filters": [
                {"invoice_display_name": "EU", "properties": {"amount": "1"}, "values": {"region": ["eu"]}},
                {"invoice_display_name": "US", "properties": {"amount": "2"}, "values": {"region": ["us"]}},
            ],
        },
    ]
    now = datetime.now(UTC)
    lago.subscribe(charges, datetime(now.year, now.month, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Given events of the last minute (timestamps ordered so that latest_agg has one answer)
    at = int(time.time()) - 60
    lago.send(
        *[("calls", at, {}) for _ in range(4)],
        ("gb", at, {"gb": 4}),
        ("gb", at, {"gb": "8"}),
        ("spend", at, {"amount": 100}),
        ("spend", at, {"amount": 250}),
        ("payout", at, {"amount": 100}),
        ("payout", at, {"amount": 250}),
        ("seats", at, {"seats": 2}),
        ("seats", at + 1, {"seats": 5}),
        ("seats", at + 2, {"seats": 3}),
        ("users", at, {"user": "a"}),
        ("users", at, {"user": "b"}),
        ("users", at, {"user": "a"}),
        ("level", at, {"level": 7}),
        ("level", at + 5, {"level": 4}),
        ("requests", at, {"region": "eu"}),
        ("requests", at, {"region": "eu"}),
        ("requests", at, {"region": "us"}),
        ("requests", at, {"region": "asia"}),
    )
    lago.send(("compute", at, {"units": 2}), precise_total_amount_cents="123.4")
    lago.send(("compute", at, {"units": 3}), precise_total_amount_cents="76.6")
    local_stack.drain()
    # When the current usage is read
    usage = lago.get(
        f"/customers/{lago.code('cus')}/current_usage", external_subscription_id=lago.code("sub")
    )["customer_usage"]
    charges_usage = lago.by_metric(usage)
    expected = {
        # metric: (units, amount_cents, events_count)
        "calls": ("4", 200, 4),  # 4 x 0.50
        "gb": ("12", 1200, 2),  # volume: all 12 units in the second range, 12 x 1 + 0
        "spend": ("350", 800, 2),  # 2% of 350 = 7.00 + 2 transactions x 0.50
        "payout": ("350", 325, 2),  # 1% of 100 + 0.5% of the 250 above + 1 flat
        "seats": ("5", 1500, 3),  # max 5 x 3
        "users": ("2", 200, 3),  # a and b x 1
        "level": ("4", 400, 2),  # the latest value, 4 x 1
        "compute": ("5", 200, 2),  # dynamic: 123.4 + 76.6 cents
        "requests": ("4", 410, 4),  # eu 2 x 1 + us 1 x 2 + the rest 1 x 0.10
    }
    assert {
        name: (c["units"], c["amount_cents"], c["events_count"]) for name, c in charges_usage.items()
    } == expected
    assert usage["amount_cents"] == sum(amount for _, amount, _ in expected.values())
    assert usage["currency"] == "USD" and usage["taxes_amount_cents"] == 0
    # And the filtered charge shows each filter's share (the default price has no display name: the spec types it
    # as a string, so an unnamed filter omits it)
    filters = {
        f.get("invoice_display_name"): (f["units"], f["amount_cents"], f["events_count"])
        for f in charges_usage["requests"]["filters"]
    }
    assert filters == {"EU": ("2", 200, 2), "US": ("1", 200, 1), None: ("1", 10, 1)}
    # And lago-python-client parses the same usage
    same = local_stack.lago_client().customers.current_usage(lago.code("cus"), lago.code("sub"))
    assert same.amount_cents == usage["amount_cents"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStackProcess]:
    process = LocalStackProcess(tmp_path / "stack").start()
    try:
        yield process
    finally:
        try:
            process.stop()
        except Exception:
            process.kill()


def _unix(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_period_boundary_and_past_usage(stack: LocalStackProcess) -> None:
    lago = Catalog(stack)
    charges = [
        {
            "billable_metric_id": lago.metric("gb", "sum_agg", "gb"),
            "charge_model": "standard",
            "properties": {"amount": "1"},
        },
        {
            "billable_metric_id": lago.metric(
                "memory", "weighted_sum_agg", "mb", recurring=True, weighted_interval="seconds"
            ),
            "charge_model": "standard",
            "properties": {"amount": "3.1"},
        },
    ]
    lago.subscribe(charges, "2030-01-01T00:00:00Z")
    stack.tick("2030-01-01T00:05:00Z")  # activates the subscription
    # Given 3 + 2 gb in January (the second in its last second), 5 gb at the first second of February,
    # and 10 mb of memory from January 16th
    lago.send(
        ("gb", _unix("2030-01-10T12:00:00+00:00"), {"gb": 3}),
        ("gb", _unix("2030-01-31T23:59:59+00:00"), {"gb": 2}),
        ("gb", _unix("2030-02-01T00:00:00+00:00"), {"gb": 5}),
        ("memory", _unix("2030-01-16T00:00:00+00:00"), {"mb": 10}),
    )
    stack.drain()
    # When January and February close
    stack.tick("2030-02-01T01:00:00Z")
    stack.tick("2030-03-01T01:00:00Z")
    # Then each period's invoice bills its own events: January 5 gb and 10 mb x 16/31 days x 3.10 = 16.00;
    # February 5 gb and the carried 10 mb for the whole month, 31.00
    invoices = lago.get("/invoices", external_customer_id=lago.code("cus"))["invoices"]
    assert sorted((i["issuing_date"], i["fees_amount_cents"]) for i in invoices) == [
        ("2030-02-01", 500 + 1600),
        ("2030-03-01", 500 + 3100),
    ]
    # And past usage shows the closed periods, newest first, with the same amounts
    past = lago.get(f"/customers/{lago.code('cus')}/past_usage", external_subscription_id=lago.code("sub"))
    periods = [
        (p["from_datetime"], p["to_datetime"], p["amount_cents"], lago.by_metric(p)["gb"]["units"])
        for p in past["usage_periods"]
    ]
    assert periods == [
        ("2030-02-01T00:00:00Z", "2030-02-28T23:59:59Z", 3600, "5"),
        ("2030-01-01T00:00:00Z", "2030-01-31T23:59:59Z", 2100, "5"),
    ]
    assert past["meta"]["total_count"] == 2
    # And one metric and one period can be asked for
    only = lago.get(
        f"/customers/{lago.code('cus')}/past_usage",
        external_subscription_id=lago.code("sub"),
        billable_metric_code=lago.code("memory"),
        periods_count=1,
    )["usage_periods"]
    assert [(p["amount_cents"], [c["units"] for c in p["charges_usage"]]) for p in only] == [(3100, ["10"])]


def test_pay_in_advance_fees_survive_a_redelivery_of_the_whole_stream(stack: LocalStackProcess) -> None:
    lago = Catalog(stack)
    charge = {
        "billable_metric_id": lago.metric("calls", "count_agg"),
        "charge_model": "standard",
        "pay_in_advance": True,
        "invoiceable": True,
        "properties": {"amount": "2"},
    }
    now = datetime.now(UTC)
    lago.subscribe([charge], datetime(now.year, now.month, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Given three calls, one of them sent twice by the client
    at = int(time.time()) - 60
    lago.send(*[("calls", at, {}) for _ in range(3)])
    stack.drain()
    first = lago.get("/events", external_subscription_id=lago.code("sub"))["events"][0]
    resend = {key: first[key] for key in ("transaction_id", "external_subscription_id", "code")}
    resend["timestamp"] = at
    lago.post("/events", {"event": resend})
    stack.drain()

    def billed() -> tuple[list[tuple[int, int, str]], Any]:
        invoices = lago.get("/invoices", external_customer_id=lago.code("cus"))["invoices"]
        usage = lago.get(
            f"/customers/{lago.code('cus')}/current_usage", external_subscription_id=lago.code("sub")
        )["customer_usage"]
        return sorted((i["sequential_id"], i["fees_amount_cents"], i["lago_id"]) for i in invoices), (
            usage["charges_usage"][0]["units"],
            usage["amount_cents"],
        )

    # Then each call is invoiced at once, 2.00 each, and the resent one only once
    invoices, usage = billed()
    assert [(n, amount) for n, amount, _ in invoices] == [(1, 200), (2, 200), (3, 200)]
    assert usage == ("3", 600)
    # When the aggregator gets the whole stream again (its checkpoint lost: Lambda redelivers from
    # TRIM_HORIZON, as after a crash before the checkpoint)
    assert stack.stop() == 0
    (stack.data_dir / "checkpoints.json").unlink()
    stack.start()
    redelivered = stack.drain()
    assert sum(s["invocations"] for s in redelivered["shards"]) >= 1, redelivered
    # Then no call is invoiced or counted twice
    assert billed() == (invoices, usage)
