"""Subscriptions under racing requests (issue 17): one subscription per external_id, answered as Lago's
create answers an existing one (Subscriptions::CreateService: the same plan → 200 with that subscription)."""

from __future__ import annotations

from tests.integration.ingestion.conftest import create_plan, outbox
from tests.integration.races.racing import race


def _create(api, external_id: str = "sub_1", plan_code: str = "startup", customer: str = "cus_1"):
    body = {"external_customer_id": customer, "plan_code": plan_code, "external_id": external_id}
    return lambda: api.post("/subscriptions", {"subscription": body})


def _all_of(api, external_id: str) -> list[tuple[str, str]]:
    statuses = [("status[]", s) for s in ("active", "pending", "terminated", "canceled")]
    listed = api.get("/subscriptions", query=statuses).json["subscriptions"]
    return sorted((s["plan_code"], s["status"]) for s in listed if s["external_id"] == external_id)


def test_racing_creations_of_one_external_id_make_one_subscription_all_answered_200(api, monkeypatch):
    # Given a plan and a customer; When 8 requests create subscription "sub_1" on that plan at once
    create_plan(api)
    api.post("/customers", {"customer": {"external_id": "cus_1"}})
    answers = race(monkeypatch, *[_create(api) for _ in range(8)])
    # Then every one is answered 200 with the one subscription made (as Lago answers an existing one)
    assert [a.status for a in answers] == [200] * 8, [a.body for a in answers]
    lago_ids = {a.json["subscription"]["lago_id"] for a in answers}
    assert len(lago_ids) == 1
    assert {(a.json["subscription"]["status"], a.json["subscription"]["plan_code"]) for a in answers} == {
        ("active", "startup")
    }
    assert _all_of(api, "sub_1") == [("startup", "active")]
    assert [m["payload"]["lago_id"] for m in outbox("subscription.started")] == list(lago_ids)
    # and the customer's currency was locked once, by the winner
    assert api.get("/customers/cus_1").json["customer"]["currency"] == "USD"


def test_racing_creations_that_also_create_the_customer_make_one_customer_and_one_subscription(
    api, monkeypatch
):
    create_plan(api)
    answers = race(monkeypatch, *[_create(api) for _ in range(4)])
    assert [a.status for a in answers] == [200] * 4, [a.body for a in answers]
    assert len({a.json["subscription"]["lago_id"] for a in answers}) == 1
    assert len({a.json["subscription"]["lago_customer_id"] for a in answers}) == 1
    assert [c["external_id"] for c in api.get("/customers").json["customers"]] == ["cus_1"]
    assert _all_of(api, "sub_1") == [("startup", "active")]


def test_racing_creations_of_a_reused_external_id_start_it_once(api, monkeypatch):
    # Given sub_1 existed and was terminated (its external_id already has a history)
    create_plan(api)
    assert _create(api)().status == 200
    assert api.delete("/subscriptions/sub_1").status == 200
    # When 4 requests start it again at once
    answers = race(monkeypatch, *[_create(api) for _ in range(4)])
    # Then one new subscription is active, and all four answer it
    assert [a.status for a in answers] == [200] * 4, [a.body for a in answers]
    assert len({a.json["subscription"]["lago_id"] for a in answers}) == 1
    assert _all_of(api, "sub_1") == [("startup", "active"), ("startup", "terminated")]


def test_racing_creations_on_two_plans_make_one_active_subscription_and_keep_the_history(api, monkeypatch):
    create_plan(api, "small", amount_cents=1000)
    create_plan(api, "big", amount_cents=5000)
    api.post("/customers", {"customer": {"external_id": "cus_1"}})
    small, big = race(monkeypatch, _create(api, plan_code="small"), _create(api, plan_code="big"))
    assert (small.status, big.status) == (200, 200), (small.body, big.body)
    history = _all_of(api, "sub_1")
    if big.json["subscription"]["previous_plan_code"] == "small":
        # small came first, big upgraded it at once
        assert history == [("big", "active"), ("small", "terminated")]
    else:
        # big came first, small is a downgrade pending until the end of the period (big stays active)
        assert small.json["subscription"]["plan_code"] == "big"
        assert history == [("big", "active"), ("small", "pending")]


def test_racing_terminations_terminate_once(api, monkeypatch):
    create_plan(api)
    assert _create(api)().status == 200
    answers = race(monkeypatch, *[lambda: api.delete("/subscriptions/sub_1") for _ in range(3)])
    assert sorted(a.status for a in answers) == [200, 404, 404], [a.body for a in answers]
    assert [a.json for a in answers if a.status == 404] == [
        {"status": 404, "error": "Not Found", "code": "subscription_not_found"}
    ] * 2
    assert len(outbox("subscription.terminated")) == 1
    assert _all_of(api, "sub_1") == [("startup", "terminated")]


def test_an_update_racing_the_termination_does_not_bring_the_subscription_back(api, monkeypatch):
    create_plan(api)
    assert _create(api)().status == 200
    terminated, updated = race(
        monkeypatch,
        lambda: api.delete("/subscriptions/sub_1"),
        lambda: api.put("/subscriptions/sub_1", {"subscription": {"name": "Renamed"}}),
    )
    assert terminated.status == 200, terminated.body
    # the update either came first (and the termination kept its name) or found nothing active left
    if updated.status == 200:
        assert terminated.json["subscription"]["name"] == "Renamed"
    else:
        assert updated.json == {"status": 404, "error": "Not Found", "code": "subscription_not_found"}
    assert _all_of(api, "sub_1") == [("startup", "terminated")]
