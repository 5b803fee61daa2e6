"""Past usage (closed periods), lifetime usage and fee estimates, through the API with contract checks."""

from __future__ import annotations

from tests.contract import assert_matches_contract, defer_contract_check
from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe
from tests.integration.usage.conftest import close_period, send


def _two_months(api, stream):
    metric = create_metric(api)
    calls = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    create_plan(api, charges=[charge(metric, properties={"amount": "0.5"}), charge(calls)])
    subscription = subscribe(api)
    send(
        api,
        stream,
        event("tx_1", at="2024-01-10T00:00:00Z", gb=10),
        event("tx_2", at="2024-01-11T00:00:00Z", code="calls"),
        event("tx_3", at="2024-02-10T00:00:00Z", gb=4),
        event("tx_4", at="2024-03-10T00:00:00Z", gb=100),
    )
    return subscription


def _past_usage(api, **query):
    response = api.get("/customers/cus_1/past_usage", query={"external_subscription_id": "sub_1", **query})
    assert response.status == 200, response.body
    defer_contract_check("/customers/{external_customer_id}/past_usage", "get", 200, response.json)
    return response.json


def test_past_usage_lists_the_closed_periods_newest_first(api, org, stream):
    # Given January and February closed by invoicing, March still open
    subscription = _two_months(api, stream)
    close_period(org.id, subscription["lago_id"], "2024-01-01T00:00:00Z")
    close_period(org.id, subscription["lago_id"], "2024-02-01T00:00:00Z")
    # Then past usage shows February then January, priced from their aggregates
    body = _past_usage(api)
    periods = body["usage_periods"]
    assert [p["from_datetime"] for p in periods] == ["2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z"]
    assert [p["amount_cents"] for p in periods] == [200, 600]
    assert body["meta"]["total_count"] == 2
    # And periods_count keeps the newest ones, billable_metric_code keeps one metric's charges
    assert [p["amount_cents"] for p in _past_usage(api, periods_count=1)["usage_periods"]] == [200]
    only_calls = _past_usage(api, billable_metric_code="calls")["usage_periods"]
    assert [p["amount_cents"] for p in only_calls] == [0, 100]
    assert {c["billable_metric"]["code"] for p in only_calls for c in p["charges_usage"]} == {"calls"}


def test_past_usage_is_empty_before_any_period_closes_and_404_for_unknown(api, org, stream):
    _two_months(api, stream)
    assert _past_usage(api)["usage_periods"] == []
    response = api.get("/customers/cus_1/past_usage", query={"external_subscription_id": "nope"})
    assert response.status == 404
    response = api.get("/customers/cus_1/past_usage")
    assert response.status == 422


def test_lifetime_usage_adds_invoiced_current_and_historical(api, org, stream, clock):
    # Given January closed (6.00 of usage) and March's usage (50.00) current
    subscription = _two_months(api, stream)
    close_period(org.id, subscription["lago_id"], "2024-01-01T00:00:00Z")
    clock.set("2024-03-20T00:00:00Z")
    got = api.get("/subscriptions/sub_1/lifetime_usage")
    assert got.status == 200, got.body
    lifetime = got.json["lifetime_usage"]
    assert lifetime["invoiced_usage_amount_cents"] == 600
    assert lifetime["current_usage_amount_cents"] == 5000
    assert lifetime["external_historical_usage_amount_cents"] == 0
    assert lifetime["lago_subscription_id"] == subscription["lago_id"]
    assert lifetime["to_datetime"] == "2024-03-31T23:59:59Z"
    # When the client declares its historical usage
    body = {"lifetime_usage": {"external_historical_usage_amount_cents": 1234}}
    declared = api.put("/subscriptions/sub_1/lifetime_usage", body)
    assert declared.status == 200, declared.body
    assert declared.json["lifetime_usage"]["external_historical_usage_amount_cents"] == 1234
    assert (
        api.get("/subscriptions/sub_1/lifetime_usage").json["lifetime_usage"][
            "external_historical_usage_amount_cents"
        ]
        == 1234
    )
    # And a missing root key or an unknown subscription is refused
    assert api.put("/subscriptions/sub_1/lifetime_usage", {}).status == 400
    assert api.get("/subscriptions/nope/lifetime_usage").status == 404
    assert_matches_contract("/subscriptions/{external_id}/lifetime_usage", "get", 200, got.json)
    assert_matches_contract("/subscriptions/{external_id}/lifetime_usage", "put", 200, declared.json)


def _estimate(api, **event_fields):
    return api.post("/events/estimate_fees", {"event": {"external_subscription_id": "sub_1", **event_fields}})


def test_estimate_fees_prices_the_next_event_from_the_current_usage(api, org, stream):
    # Given a graduated pay-in-advance charge with 8 gb already used: 1 per gb up to 10, then 0.5
    metric = create_metric(api)
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    plan = create_plan(
        api,
        charges=[
            charge(
                metric, charge_model="graduated", pay_in_advance=True, properties={"graduated_ranges": ranges}
            )
        ],
    )
    subscribe(api)
    send(api, stream, event("tx_1", at="2024-01-10T00:00:00Z", gb=8))
    # When a 6 gb event is estimated at the same moment of January
    response = _estimate(api, code="storage", properties={"gb": 6}, timestamp=1705000000)
    # Then it would cost 2 x 1 + 4 x 0.5 = 4.00, and nothing is stored
    assert response.status == 200, response.body
    [fee] = response.json["fees"]
    assert (fee["amount_cents"], fee["units"], fee["lago_id"]) == (400, "6", None)
    assert fee["lago_charge_id"] == plan["charges"][0]["lago_id"]
    assert fee["pay_in_advance"] is True
    from lagoon.data import entities

    assert [f["event_transaction_id"] for f in entities.query(org.id, "fee")] == ["tx_1"]
    assert_matches_contract("/events/estimate_fees", "post", 200, response.json)


def test_estimate_fees_errors_as_lago(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    response = _estimate(api, code="storage", properties={"gb": 1})
    assert (response.status, response.json["error_details"]) == (
        422,
        {"code": ["does_not_match_an_instant_charge"]},
    )
    assert _estimate(api, code="nope").status == 404
    response = api.post(
        "/events/estimate_fees", {"event": {"external_subscription_id": "zzz", "code": "storage"}}
    )
    assert (response.status, response.json["code"]) == (404, "subscription_not_found")
    assert api.post("/events/estimate_fees", {}).status == 400


def test_estimate_fees_takes_the_event_lago_python_client_sends(api, org, stream):
    # Given a pay-in-advance charge of $0.25 per call
    calls = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    create_plan(api, charges=[charge(calls, pay_in_advance=True, properties={"amount": "0.25"})])
    subscribe(api)
    # When lago-python-client estimates an event: every unset field is an explicit null (Event.dict())
    client_event = {
        "transaction_id": None,
        "external_subscription_id": "sub_1",
        "code": "calls",
        "timestamp": None,
        "precise_total_amount_cents": None,
        "properties": None,
    }
    response = api.post("/events/estimate_fees", {"event": client_event})
    # Then the call is priced as POST /events would take it (null properties are no properties)
    assert response.status == 200, response.body
    [fee] = response.json["fees"]
    assert (fee["amount_cents"], fee["units"], fee["events_count"]) == (25, "1", 1)
    # And its timestamps are strings of seconds, dated in the subscription's January period
    dated = {**client_event, "timestamp": "1705000000.5"}
    response = api.post("/events/estimate_fees", {"event": dated})
    assert response.status == 200, response.body
    assert response.json["fees"][0]["from_date"] == "2024-01-01T00:00:00Z"
    assert_matches_contract("/events/estimate_fees", "post", 200, response.json)


def test_estimate_fees_answers_lago_errors_for_empty_and_invalid_fields(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, pay_in_advance=True)])
    subscribe(api)
    # Lago's Events::ValidateCreationService: a blank or unknown subscription, then a blank or unknown code,
    # are 404s (an empty DynamoDB key used to turn the blank ones into a 500)
    for subscription in ({"external_subscription_id": ""}, {"external_subscription_id": None}, {}):
        event = {"code": "storage", "properties": {"gb": 1}, **subscription}
        response = api.post("/events/estimate_fees", {"event": event})
        assert (response.status, response.json["code"]) == (404, "subscription_not_found"), subscription
    for code in ("", None):
        response = _estimate(api, code=code, properties={"gb": 1})
        assert (response.status, response.json["code"]) == (404, "billable_metric_not_found"), code
    response = _estimate(api, properties={"gb": 1})
    assert (response.status, response.json["code"]) == (404, "billable_metric_not_found")
    # A timestamp that is not seconds since the epoch: Lago's `invalid_format`
    for timestamp in ("yesterday", "1e400", True):
        response = _estimate(api, code="storage", properties={"gb": 1}, timestamp=timestamp)
        assert (response.status, response.json["error_details"]) == (422, {"timestamp": ["invalid_format"]})
    # The aggregated property of a sum is a number (Lago: `value_is_not_valid_number`)
    response = _estimate(api, code="storage", properties={"gb": "lots"})
    assert (response.status, response.json["error_details"]) == (
        422,
        {"properties": ["value_is_not_valid_number"]},
    )
    # Properties that are not an object are invalid, as on POST /events
    response = _estimate(api, code="storage", properties=["gb"])
    assert (response.status, response.json["error_details"]) == (422, {"properties": ["value_is_invalid"]})
