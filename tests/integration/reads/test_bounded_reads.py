"""Cost grows with work, not with history (issue 17): a request reads the same DynamoDB items whether the
organization holds a few customers or ten times as many, each with subscriptions, coupons and invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ApiClient
from tests.integration.ingestion.conftest import charge, create_metric, create_plan

# Subscriptions start two days before the test (a whole day to bill at termination, however fast the test runs).
STARTED = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _customer_with_subscription(api: ApiClient, name: str) -> None:
    assert api.post("/customers", {"customer": {"external_id": name, "name": name}}).status == 200
    body = {
        "external_customer_id": name,
        "plan_code": "startup",
        "external_id": f"sub_{name}",
        "subscription_at": STARTED,
    }
    response = api.post("/subscriptions", {"subscription": body})
    assert response.status == 200, response.body


def _customer_with_history(api: ApiClient, name: str) -> None:
    """A customer holding a coupon, a terminated (and invoiced) subscription and an active one."""
    _customer_with_subscription(api, name)
    applied = {"external_customer_id": name, "coupon_code": "welcome"}
    assert api.post("/applied_coupons", {"applied_coupon": applied}).status == 200
    assert api.delete(f"/subscriptions/sub_{name}").status == 200
    body = {"external_customer_id": name, "plan_code": "startup", "external_id": f"sub2_{name}"}
    assert api.post("/subscriptions", {"subscription": body}).status == 200


def _history(api: ApiClient, names: range) -> None:
    for number in names:
        _customer_with_history(api, f"other_{number}")


def _catalog(api: ApiClient) -> None:
    create_plan(api, "startup", charges=[charge(create_metric(api, "storage"))])
    coupon = {
        "name": "Welcome",
        "code": "welcome",
        "coupon_type": "fixed_amount",
        "amount_cents": 500,
        "amount_currency": "USD",
        "frequency": "once",
        "expiration": "no_expiration",
    }
    assert api.post("/coupons", {"coupon": coupon}).status == 200


def test_terminating_a_subscription_reads_only_its_customers_objects(api: ApiClient, reads: Any) -> None:
    # Given two customers alike, and 2 others with history
    _catalog(api)
    _customer_with_subscription(api, "first")
    _customer_with_subscription(api, "second")
    _history(api, range(2))

    # When the first terminates (billed at once), then 20 more customers get history, then the second terminates
    few = reads.measure(lambda: api.delete("/subscriptions/sub_first"))
    _history(api, range(2, 22))
    many = reads.measure(lambda: api.delete("/subscriptions/sub_second"))

    # Then both read the same items: the terminated customer's, never the organization's
    assert many == few, (dict(few), dict(many))
    assert reads.total() < 60


def test_a_customers_invoices_are_listed_from_its_own_index(api: ApiClient, reads: Any) -> None:
    # Given a customer with one invoice (its terminated subscription), and 2 others with history
    _catalog(api)
    _customer_with_history(api, "first")
    _history(api, range(2))

    def list_invoices() -> None:
        by_filter = api.get("/invoices", query={"external_customer_id": "first"})
        by_path = api.get("/customers/first/invoices")
        assert by_filter.json["invoices"] == by_path.json["invoices"]
        assert [i["customer"]["external_id"] for i in by_path.json["invoices"]] == ["first"]

    # When its invoices are listed (filtered and by path), then again once 20 more customers have history
    few = reads.measure(list_invoices)
    _history(api, range(2, 22))
    many = reads.measure(list_invoices)

    # Then both lists read the same items
    assert many == few, (dict(few), dict(many))
