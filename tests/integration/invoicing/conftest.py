"""Invoicing fixtures: subscriptions created at a chosen "now", the real billing handler invoked with
EventBridge Scheduler events at chosen times, and readers of invoices and webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import ApiClient
from tests.integration.ingestion.conftest import (  # noqa: F401  (fixtures and builders shared with ingestion)
    StreamDriver,
    charge,
    create_metric,
    create_plan,
    event,
    outbox,
    stream,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def subscribe_at(
    org_id: str,
    now: str,
    external_id: str = "sub_1",
    plan_code: str = "startup",
    customer: str = "cus_1",
    **fields: Any,
) -> Any:
    """Create a subscription as if the request arrived at `now` (the subscription starts then by default)."""
    from lagoon.domain.subscriptions import SubscriptionInput
    from lagoon.services import lifecycle

    data = SubscriptionInput(
        external_customer_id=customer, plan_code=plan_code, external_id=external_id, **fields
    )
    return lifecycle.create_subscription(org_id, data, now=at(now))


def scheduled_event(time: str) -> dict[str, Any]:
    """The input EventBridge Scheduler sends (template.yaml BillingFunction)."""
    return {"time": time, "source": "lagoon.scheduler", "detail-type": "Scheduled Event"}


def run_billing(gateway: Any, time: str) -> Any:
    """Invoke the real billing handler at `time`."""
    return gateway.functions.invoke("BillingFunction", scheduled_event(time))


def run_documents(gateway: Any, time: str) -> Any:
    """Invoke the real documents handler at `time` (it renders the PDFs of the invoices finalized by then)."""
    return gateway.functions.invoke("DocumentsFunction", scheduled_event(time))


def invoices_of(api: ApiClient, **query: Any) -> list[dict[str, Any]]:
    response = api.get("/invoices", query=query or None)
    assert response.status == 200, response.body
    return response.json["invoices"]  # type: ignore[no-any-return]


def invoice(api: ApiClient, lago_id: str) -> dict[str, Any]:
    response = api.get(f"/invoices/{lago_id}")
    assert response.status == 200, response.body
    return response.json["invoice"]  # type: ignore[no-any-return]


@pytest.fixture
def customer(api: ApiClient) -> dict[str, Any]:
    response = api.post("/customers", {"customer": {"external_id": "cus_1", "name": "Cus One"}})
    assert response.status == 200, response.body
    return response.json["customer"]  # type: ignore[no-any-return]
