"""Events from the API to the aggregates, through Kinesis (moto) and the real aggregator handler."""

from __future__ import annotations

from decimal import Decimal

from tests.contract import assert_matches_contract
from tests.integration.ingestion.conftest import (
    aggregates,
    charge,
    create_metric,
    create_plan,
    event,
    subscribe,
)


def _setup(api, **metric_fields):
    metric = create_metric(api, **metric_fields)
    plan = create_plan(api, charges=[charge(metric)])
    subscription = subscribe(api)
    return metric, plan, subscription


def test_post_event_echoes_the_event_and_the_aggregator_counts_it(api, org, stream):
    # Given a subscription on a plan charging a sum of gb
    _, plan, subscription = _setup(api)
    # When an event is posted (timestamp as a string, explicit nulls, as lago-python-client sends them)
    body = {
        "event": {
            "transaction_id": "tx_1",
            "external_subscription_id": "sub_1",
            "code": "storage",
            "timestamp": "1705320000.5",
            # (an integer property would trip the contract's ambiguous oneOf integer/number)
            "properties": {"gb": 2.5},
            "precise_total_amount_cents": None,
        }
    }
    response = api.post("/events", body)
    # Then it is echoed with null Lago ids
    assert response.status == 200, response.body
    echoed = response.json["event"]
    assert echoed["transaction_id"] == "tx_1"
    assert echoed["timestamp"] == "2024-01-15T12:00:00.500Z"
    assert echoed["lago_subscription_id"] is None
    # And once the stream is drained, the aggregate of the January period holds it
    stream.drain()
    [aggregate] = aggregates(org.id, subscription["lago_id"])
    assert aggregate["period_from"] == "2024-01-01T00:00:00Z"
    assert aggregate["period_to"] == "2024-02-01T00:00:00Z"
    assert Decimal(aggregate["state"]["total"]) == Decimal("2.5")
    assert aggregate["state"]["events_count"] == 1
    assert aggregate["charge_id"] == plan["charges"][0]["lago_id"]
    # And the event can be read back by transaction id
    got = api.get("/events/tx_1")
    assert got.status == 200, got.body
    assert got.json["event"]["lago_subscription_id"] == subscription["lago_id"]
    assert got.json["event"]["properties"] == {"gb": 2.5}
    assert_matches_contract("/events/{transaction_id}", "get", 200, got.json)
    assert_matches_contract("/events", "post", 200, response.json)


def test_duplicates_count_once_first_write_wins(api, org, stream):
    _, _, subscription = _setup(api)
    batch = [event("tx_1", gb=5), event("tx_1", gb=500), event("tx_2", gb=1)]
    assert api.post("/events/batch", {"events": batch}).status == 200
    stream.drain()
    api.post("/events", {"event": event("tx_2", gb=1000)})
    stream.drain()
    [aggregate] = aggregates(org.id, subscription["lago_id"])
    assert Decimal(aggregate["state"]["total"]) == 6
    assert api.get("/events/tx_1").json["event"]["properties"] == {"gb": 5}


def test_batch_validation_is_all_or_nothing_with_errors_by_index(api, stream):
    _setup(api)
    response = api.post(
        "/events/batch",
        {
            "events": [
                event("ok"),
                {"transaction_id": "x", "code": "storage"},
                {**event("y"), "timestamp": "soon"},
            ]
        },
    )
    assert response.status == 422
    assert response.json["error_details"] == {
        "1": {"external_subscription_id": ["value_is_mandatory"]},
        "2": {"timestamp": ["invalid_timestamp"]},
    }
    assert stream.pending() == []


def test_list_events_newest_first_with_filters(api, stream):
    _setup(api)
    subscribe(api, external_id="sub_2", customer="cus_2")
    events = [
        event("a", at="2024-01-10T00:00:00Z", gb=1.5),
        event("b", at="2024-01-12T00:00:00Z", gb="1"),
        event("c", sub="sub_2", at="2024-01-11T00:00:00Z", gb=0.5),
        event("d", code="other", at="2024-01-13T00:00:00Z"),
    ]
    api.post("/events/batch", {"events": events})
    stream.drain()
    listed = api.get("/events")
    assert listed.status == 200, listed.body
    assert [e["transaction_id"] for e in listed.json["events"]] == ["d", "b", "c", "a"]
    only_sub_1 = api.get("/events", query={"external_subscription_id": "sub_1", "code": "storage"}).json
    assert [e["transaction_id"] for e in only_sub_1["events"]] == ["b", "a"]
    ranged = api.get(
        "/events", query={"timestamp_from": "2024-01-11T00:00:00Z", "timestamp_to": "2024-01-12T00:00:00Z"}
    ).json
    assert [e["transaction_id"] for e in ranged["events"]] == ["b", "c"]
    paged = api.get("/events", query={"per_page": 3, "page": 2}).json
    assert [e["transaction_id"] for e in paged["events"]] == ["a"]
    assert paged["meta"]["total_count"] == 4
    assert_matches_contract("/events", "get", 200, listed.json)


def test_unknown_event_is_404(api):
    assert api.get("/events/nope").json == {"status": 404, "error": "Not Found", "code": "event_not_found"}


def test_a_metric_and_plan_created_after_the_aggregator_warmed_up_count_at_once(api, org, stream):
    # Given an aggregator that has processed an event, so its catalog cache is filled
    _setup(api)
    api.post("/events", {"event": event("tx_1", gb=1)})
    stream.drain()
    # When a new metric, a plan on it and a subscription are created, and an event for them arrives at once
    calls = create_metric(api, "calls")
    plan = create_plan(api, "second", charges=[charge(calls)])
    second = subscribe(api, "sub_2", plan_code="second", customer="cus_2")
    assert api.post("/events", {"event": event("tx_2", sub="sub_2", code="calls", gb=3)}).status == 200
    stream.drain()
    # Then it is counted in the new plan's charge (it used to be left out until the cache expired, 30 s)
    [aggregate] = aggregates(org.id, second["lago_id"])
    assert aggregate["charge_id"] == plan["charges"][0]["lago_id"]
    assert Decimal(aggregate["state"]["total"]) == 3


def test_a_plan_edited_after_the_aggregator_warmed_up_applies_to_the_next_batch(api, org, stream):
    # Given a warm aggregator that folded an event of the plan's only charge
    metric, plan, subscription = _setup(api)
    calls = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    api.post("/events", {"event": event("tx_1", gb=1)})
    stream.drain()
    # When the plan gets a second charge, on `calls`, and an event for it arrives at once
    edited = api.put(
        f"/plans/{plan['code']}",
        {"plan": {"charges": [{"id": plan["charges"][0]["lago_id"], **charge(metric)}, charge(calls)]}},
    )
    assert edited.status == 200, edited.body
    api.post("/events", {"event": event("tx_2", code="calls")})
    stream.drain()
    # Then the event is counted under the new charge (it used to be missed until the cache expired, 30 s)
    new_charge = next(
        c for c in edited.json["plan"]["charges"] if c["lago_billable_metric_id"] == calls["lago_id"]
    )
    by_charge = {a["charge_id"]: a for a in aggregates(org.id, subscription["lago_id"])}
    assert set(by_charge) == {plan["charges"][0]["lago_id"], new_charge["lago_id"]}
    assert by_charge[new_charge["lago_id"]]["state"]["events_count"] == 1
