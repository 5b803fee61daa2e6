"""GET /customers/{id}/current_usage: events through the real aggregator, usage priced by the engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract import assert_matches_contract
from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe

NOW = "2024-01-20T00:00:00Z"


@pytest.fixture(autouse=True)
def _frozen_usage_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """current_usage reads the period containing now: pin now inside January 2024."""
    from datetime import datetime

    from lagoon.services import usage

    real = usage.subscription_usage

    def at_now(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("at", datetime.fromisoformat(NOW.replace("Z", "+00:00")))
        if kwargs["at"] is None:
            kwargs["at"] = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
        return real(*args, **kwargs)

    monkeypatch.setattr(usage, "subscription_usage", at_now)


def current_usage(api, customer: str = "cus_1", sub: str = "sub_1", **query: Any) -> dict[str, Any]:
    response = api.get(
        f"/customers/{customer}/current_usage", query={"external_subscription_id": sub, **query}
    )
    assert response.status == 200, response.body
    assert_matches_contract("/customers/{external_customer_id}/current_usage", "get", 200, response.json)
    return response.json["customer_usage"]  # type: ignore[no-any-return]


def send(api, stream, *events: dict[str, Any]) -> None:
    response = api.post("/events/batch", {"events": list(events)})
    assert response.status == 200, response.body
    stream.drain()


def test_standard_sum_usage_in_the_current_period(api, org, stream):
    # Given a sum of gb at 0.5 per gb
    metric = create_metric(api)
    plan = create_plan(api, charges=[charge(metric, properties={"amount": "0.5"})])
    subscribe(api)
    # When three events arrive in January
    send(api, stream, event("tx_1", gb=10), event("tx_2", gb=20), event("tx_3", gb=5))
    # Then January's usage is 35 gb, 17.50
    usage = current_usage(api)
    assert usage["from_datetime"] == "2024-01-01T00:00:00Z"
    assert usage["to_datetime"] == "2024-01-31T23:59:59Z"
    assert usage["issuing_date"] == "2024-02-01"
    assert usage["currency"] == "USD"
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"]) == (1750, 0, 1750)
    [charge_usage] = usage["charges_usage"]
    assert charge_usage["units"] == "35"
    assert charge_usage["total_aggregated_units"] == "35"
    assert charge_usage["events_count"] == 3
    assert charge_usage["amount_cents"] == 1750
    assert charge_usage["charge"]["lago_id"] == plan["charges"][0]["lago_id"]
    assert charge_usage["billable_metric"]["code"] == "storage"
    assert charge_usage["filters"] == [] and charge_usage["grouped_usage"] == []
