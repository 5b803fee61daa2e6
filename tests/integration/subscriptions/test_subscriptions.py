"""Subscriptions through the real handler: create (and the customer), plan changes, list, terminate, clock."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.contract import assert_matches_contract
from tests.integration.ingestion.conftest import create_plan, outbox, subscribe


def _future(days: int = 30) -> str:
    from datetime import timedelta

    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_create_for_an_unknown_customer_creates_it_and_locks_the_currency(api):
    create_plan(api)
    subscription = subscribe(api, name="Repo A")
    assert subscription["status"] == "active"
    assert subscription["started_at"] == "2024-01-01T00:00:00Z"
    assert subscription["plan"]["code"] == "startup"
    assert subscription["name"] == "Repo A"
    assert subscription["current_billing_period_started_at"] is not None
    customer = api.get("/customers/cus_1").json["customer"]
    assert customer["currency"] == "USD"
    response = api.get("/subscriptions/sub_1")
    assert response.status == 200
    assert [m["payload"]["external_id"] for m in outbox("subscription.started")] == ["sub_1"]
    assert_matches_contract("/subscriptions/{external_id}", "get", 200, response.json)


def test_a_plan_in_another_currency_is_refused(api):
    create_plan(api)
    create_plan(api, "euro", amount_currency="EUR")
    subscribe(api)
    response = api.post(
        "/subscriptions",
        {"subscription": {"external_customer_id": "cus_1", "plan_code": "euro", "external_id": "sub_2"}},
    )
    assert response.status == 422
    assert response.json["error_details"] == {"currency": ["currencies_does_not_match"]}


def test_unknown_plan_is_404(api):
    response = api.post(
        "/subscriptions",
        {"subscription": {"external_customer_id": "c", "plan_code": "nope", "external_id": "s"}},
    )
    assert response.json == {"status": 404, "error": "Not Found", "code": "plan_not_found"}


def test_future_subscription_is_pending_and_can_be_canceled(api):
    create_plan(api)
    pending = subscribe(api, subscription_at=_future())
    assert pending["status"] == "pending"
    assert api.get("/subscriptions/sub_1").status == 404
    assert api.get("/subscriptions/sub_1", query={"status": "pending"}).status == 200
    canceled = api.delete("/subscriptions/sub_1", query={"status": "pending"})
    assert canceled.status == 200, canceled.body
    assert canceled.json["subscription"]["status"] == "canceled"
    assert_matches_contract("/subscriptions/{external_id}", "delete", 200, canceled.json)


def test_upgrade_is_immediate_and_downgrade_waits_for_the_period_end(api):
    create_plan(api, "small", amount_cents=1000)
    create_plan(api, "big", amount_cents=5000)
    create_plan(api, "tiny", amount_cents=100)
    subscribe(api, plan_code="small")
    upgraded = subscribe(api, plan_code="big")
    assert upgraded["plan_code"] == "big"
    assert upgraded["previous_plan_code"] == "small"
    assert upgraded["status"] == "active"
    statuses = api.get("/subscriptions", query=[("status[]", "terminated"), ("status[]", "active")]).json
    assert sorted((s["plan_code"], s["status"]) for s in statuses["subscriptions"]) == [
        ("big", "active"),
        ("small", "terminated"),
    ]
    downgraded = subscribe(api, plan_code="tiny")
    assert downgraded["plan_code"] == "big"
    assert downgraded["next_plan_code"] == "tiny"
    assert downgraded["downgrade_plan_date"] is not None
    pending = api.get("/subscriptions/sub_1", query={"status": "pending"}).json["subscription"]
    assert pending["plan_code"] == "tiny"
    assert_matches_contract("/subscriptions", "get", 200, statuses)


def test_terminate_and_customer_listing(api):
    create_plan(api)
    subscribe(api)
    subscribe(api, external_id="sub_2")
    listed = api.get("/customers/cus_1/subscriptions")
    assert listed.status == 200
    assert [s["external_id"] for s in listed.json["subscriptions"]] == ["sub_2", "sub_1"]
    ended = api.delete("/subscriptions/sub_1")
    assert ended.json["subscription"]["status"] == "terminated"
    assert [s["external_id"] for s in api.get("/subscriptions").json["subscriptions"]] == ["sub_2"]
    assert len(outbox("subscription.terminated")) == 1
    assert_matches_contract("/customers/{external_customer_id}/subscriptions", "get", 200, listed.json)


def test_update_ending_at_and_name(api):
    create_plan(api)
    subscribe(api)
    response = api.put(
        "/subscriptions/sub_1", {"subscription": {"name": "Renamed", "ending_at": _future(90)}}
    )
    assert response.status == 200, response.body
    assert response.json["subscription"]["name"] == "Renamed"
    assert_matches_contract("/subscriptions/{external_id}", "put", 200, response.json)


def test_deleting_the_customer_terminates_its_subscriptions(api):
    create_plan(api)
    subscribe(api)
    assert api.delete("/customers/cus_1").status == 200
    assert api.get("/subscriptions/sub_1", query={"status": "terminated"}).status == 200


def test_clock_starts_alerts_ends_each_exactly_once(api, org):
    from lagoon.services.lifecycle import run_clock

    create_plan(api, trial_period=3)
    subscribe(api, subscription_at="2030-01-01T00:00:00Z", ending_at="2030-06-01T00:00:00Z")
    assert run_clock(datetime(2029, 12, 31, tzinfo=UTC)).applied == []
    run_clock(datetime(2030, 1, 1, 0, 5, tzinfo=UTC))
    active = api.get("/subscriptions/sub_1").json["subscription"]
    assert active["started_at"] == "2030-01-01T00:00:00Z"
    run_clock(datetime(2030, 1, 4, 0, 5, tzinfo=UTC))
    run_clock(datetime(2030, 4, 20, tzinfo=UTC))  # 45 days before the end
    run_clock(datetime(2030, 6, 1, 0, 5, tzinfo=UTC))  # 15-day alert and the end
    run_clock(datetime(2030, 6, 1, 0, 10, tzinfo=UTC))  # a re-run changes nothing
    kinds = [m["webhook_type"] for m in outbox() if m["webhook_type"].startswith("subscription.")]
    assert sorted(kinds) == sorted(
        [
            "subscription.started",
            "subscription.trial_ended",
            "subscription.termination_alert",
            "subscription.termination_alert",
            "subscription.terminated",
        ]
    )
    ended = api.get("/subscriptions/sub_1", query={"status": "terminated"}).json["subscription"]
    assert ended["terminated_at"] == "2030-06-01T00:00:00Z"
    assert ended["trial_ended_at"] == "2030-01-04T00:00:00Z"


def test_clock_applies_a_downgrade_at_the_period_end(api):
    from lagoon.services.lifecycle import run_clock

    create_plan(api, "big", amount_cents=5000)
    create_plan(api, "tiny", amount_cents=100)
    subscribe(api, plan_code="big", subscription_at="2024-01-01T00:00:00Z")
    current = subscribe(api, plan_code="tiny")
    effective = datetime.fromisoformat(current["downgrade_plan_date"]).replace(tzinfo=UTC)
    run_clock(effective)
    active = api.get("/subscriptions/sub_1").json["subscription"]
    assert active["plan_code"] == "tiny"
    assert active["previous_plan_code"] == "big"


def test_usage_thresholds_on_a_subscription_are_refused_and_nothing_changes(api):
    # Lago takes `usage_thresholds` on the subscription itself (SubscriptionsController permits them on
    # create and update) as well as in `plan_overrides`: Lagoon has no progressive billing yet.
    create_plan(api)
    thresholds = [{"amount_cents": 10000, "threshold_display_name": "First"}]
    body = {"external_customer_id": "cus_1", "plan_code": "startup", "external_id": "sub_1"}
    response = api.post("/subscriptions", {"subscription": {**body, "usage_thresholds": thresholds}})
    assert (response.status, response.json["code"]) == (405, "not_implemented")
    assert response.json["error_details"] == {
        "message": "usage thresholds (progressive billing) is not implemented in this version of Lagoon"
    }
    assert api.get("/subscriptions/sub_1").status == 404
    assert api.get("/customers/cus_1").status == 404
    assert outbox("subscription.started") == []
    # An empty list asks for no threshold
    assert subscribe(api, usage_thresholds=[], name="A")["name"] == "A"
    response = api.put(
        "/subscriptions/sub_1", {"subscription": {"name": "B", "usage_thresholds": thresholds}}
    )
    assert (response.status, response.json["code"]) == (405, "not_implemented")
    assert api.get("/subscriptions/sub_1").json["subscription"]["name"] == "A"
    response = api.put("/subscriptions/sub_1", {"subscription": {"name": "B", "usage_thresholds": []}})
    assert (response.status, response.json["subscription"]["name"]) == (200, "B")
