"""Usage fixtures: the ingestion builders and stream driver (events go through the real aggregator), a
pinned clock for "now", and helpers that read usage through the API with contract checks (deferred: they run
after the test's own assertions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.contract import defer_contract_check
from tests.integration.ingestion.conftest import stream  # noqa: F401  (the fixture)

CONTRACT_CHARGE_MODELS = {"standard", "graduated", "package", "percentage", "volume"}
"""`CustomerChargeUsageObject.charge.charge_model` enumerates only these (the spec lags the catalog)."""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Clock:
    """What current_usage takes as now (set per test)."""

    def __init__(self) -> None:
        self.now = at("2024-01-20T00:00:00Z")

    def set(self, text: str) -> None:
        self.now = at(text)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from lagoon.services.usage import current

    pinned = Clock()
    real = current.subscription_usage

    def at_pinned_now(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("at") is None and kwargs.get("period") is None:
            kwargs["at"] = pinned.now
        return real(*args, **kwargs)

    monkeypatch.setattr(current, "subscription_usage", at_pinned_now)
    return pinned


def current_usage(api: Any, customer: str = "cus_1", sub: str = "sub_1", **query: Any) -> dict[str, Any]:
    response = api.get(
        f"/customers/{customer}/current_usage", query={"external_subscription_id": sub, **query}
    )
    assert response.status == 200, response.body
    models = {c["charge"]["charge_model"] for c in response.json["customer_usage"]["charges_usage"]}
    if models <= CONTRACT_CHARGE_MODELS:
        defer_contract_check("/customers/{external_customer_id}/current_usage", "get", 200, response.json)
    return response.json["customer_usage"]  # type: ignore[no-any-return]


def send(api: Any, driver: Any, *events: dict[str, Any]) -> None:
    """Post events (batches of 100) and drain the stream through the real aggregator handler."""
    for start in range(0, len(events), 100):
        response = api.post("/events/batch", {"events": list(events[start : start + 100])})
        assert response.status == 200, response.body
    driver.drain()


def close_period(organization_id: str, subscription_lago_id: str, period_from: str) -> None:
    """What invoicing does when it bills a period: the period-closed marker of the aggregates."""
    from lagoon.data.usage_keys import aggregate_pk, closed_sk
    from lagoon.data.usage_store import S, UsageStore, aggregates_table

    UsageStore().batch_write(
        [
            (
                aggregates_table(),
                {
                    "pk": S(aggregate_pk(organization_id, subscription_lago_id)),
                    "sk": S(closed_sk(period_from)),
                },
            )
        ]
    )
