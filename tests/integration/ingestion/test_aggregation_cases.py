"""Every aggregation type from events in to aggregate out, periods, timezones, late events and reporting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.integration.ingestion.conftest import (
    aggregates,
    charge,
    create_metric,
    create_plan,
    event,
    outbox,
    subscribe,
)


def _units(org_id, subscription, metric_fields, period_from="2024-01-01T00:00:00Z"):
    from lagoon.engine.aggregation_state import AggregationState
    from lagoon.engine.metric_definitions import MetricDefinition
    from lagoon.engine.period_units import finalize

    found = [a for a in aggregates(org_id, subscription["lago_id"]) if a["period_from"] == period_from]
    assert len(found) == 1, found
    state = AggregationState.from_dict(found[0]["state"])
    start = datetime.fromisoformat(found[0]["period_from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(found[0]["period_to"].replace("Z", "+00:00"))
    metric = MetricDefinition(code="m", **metric_fields)
    return finalize(state, start, end, metric=metric).units


@pytest.mark.parametrize(
    ("metric_fields", "properties", "expected"),
    [
        ({"aggregation_type": "count_agg", "field_name": None}, [{}, {}, {}], Decimal(3)),
        (
            {"aggregation_type": "sum_agg", "field_name": "gb"},
            [{"gb": 2}, {"gb": "3.5"}, {"gb": 1}],
            Decimal("6.5"),
        ),
        ({"aggregation_type": "max_agg", "field_name": "gb"}, [{"gb": 2}, {"gb": 9}, {"gb": 1}], Decimal(9)),
        (
            {"aggregation_type": "latest_agg", "field_name": "gb"},
            [{"gb": 2}, {"gb": 9}, {"gb": 4}],
            Decimal(4),
        ),
        (
            {"aggregation_type": "unique_count_agg", "field_name": "user"},
            [{"user": "a"}, {"user": "b"}, {"user": "a"}],
            Decimal(2),
        ),
    ],
)
def test_every_aggregation_type_from_events_to_units(api, org, stream, metric_fields, properties, expected):
    metric = create_metric(api, "m", **metric_fields)
    create_plan(api, charges=[charge(metric)])
    subscription = subscribe(api)
    events = [
        event(f"t{i}", code="m", at=f"2024-01-{10 + i:02d}T00:00:00Z", **props)
        for i, props in enumerate(properties)
    ]
    api.post("/events/batch", {"events": events})
    stream.drain()
    assert _units(org.id, subscription, metric_fields) == expected


def test_weighted_sum_integrates_over_the_period(api, org, stream):
    fields = {"aggregation_type": "weighted_sum_agg", "field_name": "gb", "weighted_interval": "seconds"}
    metric = create_metric(api, "m", **fields)
    create_plan(api, charges=[charge(metric)])
    subscription = subscribe(api)
    # +31 GB from the middle of January (31 days): half the period at 31 → 15.5
    api.post("/events", {"event": event("t", code="m", at="2024-01-16T12:00:00Z", gb=31)})
    stream.drain()
    units = _units(org.id, subscription, fields)
    assert units == Decimal("15.5")


def test_late_and_out_of_order_events_land_in_their_own_period(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    subscription = subscribe(api)
    api.post("/events", {"event": event("feb", at="2024-02-03T00:00:00Z", gb=5)})
    stream.drain()
    api.post("/events", {"event": event("jan-late", at="2024-01-20T00:00:00Z", gb=7)})
    stream.drain()
    by_period = {
        a["period_from"]: Decimal(a["state"]["total"]) for a in aggregates(org.id, subscription["lago_id"])
    }
    assert by_period == {"2024-01-01T00:00:00Z": 7, "2024-02-01T00:00:00Z": 5}


def test_an_event_exactly_on_the_boundary_opens_the_next_period_in_the_customer_timezone(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    api.post("/customers", {"customer": {"external_id": "cus_1", "timezone": "America/New_York"}})
    subscription = subscribe(api, subscription_at="2024-01-01T05:00:00Z")
    # 2024-02-01T00:00 in New York is 05:00 UTC: an event at that instant belongs to February
    api.post("/events", {"event": event("edge", at="2024-02-01T05:00:00Z", gb=1)})
    api.post("/events", {"event": event("before", at="2024-02-01T04:59:59Z", gb=2)})
    stream.drain()
    by_period = {
        a["period_from"]: Decimal(a["state"]["total"]) for a in aggregates(org.id, subscription["lago_id"])
    }
    assert by_period == {"2024-01-01T05:00:00Z": 2, "2024-02-01T05:00:00Z": 1}


def test_filters_and_groups_split_the_aggregates(api, org, stream):
    metric = create_metric(api, filters=[{"key": "region", "values": ["eu", "us"]}])
    create_plan(
        api,
        charges=[
            charge(
                metric,
                properties={"amount": "1", "grouped_by": ["team"]},
                filters=[{"values": {"region": ["eu"]}, "properties": {"amount": "2"}}],
            )
        ],
    )
    subscription = subscribe(api)
    events = [
        event("1", gb=1, region="eu", team="a"),
        event("2", gb=2, region="eu", team="b"),
        event("3", gb=4, region="us", team="a"),
        event("4", gb=8, region="mars", team="a"),
    ]
    api.post("/events/batch", {"events": events})
    stream.drain()
    found = {
        (a["filter_id"] != "-", a["group"]): Decimal(a["state"]["total"])
        for a in aggregates(org.id, subscription["lago_id"])
    }
    assert found == {(True, '["a"]'): 1, (True, '["b"]'): 2, (False, '["a"]'): 12}


def test_unknown_codes_and_subscriptions_are_stored_reported_and_not_counted(api, org, stream):
    from lagoon.services.usage.events_errors import report_events_errors

    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    subscription = subscribe(api)
    api.post(
        "/events/batch",
        {
            "events": [
                event("bad-code", code="nope"),
                event("ghost", sub="ghost"),
                event("no-gb"),
                event("ok", gb=1),
            ]
        },
    )
    stream.drain()
    [aggregate] = aggregates(org.id, subscription["lago_id"])
    assert Decimal(aggregate["state"]["total"]) == 1
    assert api.get("/events/ghost").status == 200
    next_hour = datetime.now(UTC).replace(minute=5) + __import__("datetime").timedelta(hours=1)
    assert report_events_errors(next_hour) == 1
    assert report_events_errors(next_hour) == 0  # exactly once
    [message] = outbox("events.errors")
    errors = message["payload"]
    assert errors["invalid_code"] == ["bad-code"]
    assert errors["missing_aggregation_property"] == ["no-gb"]
    assert errors["unknown_subscription"] == ["ghost"]


def test_events_before_their_subscription_are_counted_once_it_exists(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    api.post("/events/batch", {"events": [event("early-1", gb=3), event("early-2", gb=4)]})
    stream.drain()
    subscription = subscribe(api)  # back-dated to 2024-01-01: covers the events
    stream.drain()
    stream.drain()
    [aggregate] = aggregates(org.id, subscription["lago_id"])
    assert Decimal(aggregate["state"]["total"]) == 7
    assert api.get("/events/early-1").json["event"]["lago_subscription_id"] == subscription["lago_id"]


def test_events_errors_of_an_hour_a_missed_run_left_are_reported_by_the_next_run(api, org, stream):
    from datetime import timedelta

    from lagoon.services.usage.events_errors import report_events_errors

    create_plan(api, charges=[charge(create_metric(api))])
    subscribe(api)
    this_hour = datetime.now(UTC).replace(minute=5, second=0, microsecond=0)  # before: errors file at arrival
    api.post("/events", {"event": event("bad-code", code="nope")})
    stream.drain()
    # A run before the errors' hour moves the cursor; the runs of the next two hours never happen
    assert report_events_errors(this_hour) == 0
    # Then the run three hours later reports the hour the missed runs left, once
    assert report_events_errors(this_hour + timedelta(hours=3)) == 1
    assert report_events_errors(this_hour + timedelta(hours=3)) == 0
    assert report_events_errors(this_hour + timedelta(hours=4)) == 0
    [message] = outbox("events.errors")
    assert message["payload"]["invalid_code"] == ["bad-code"]


def test_an_aggregate_that_would_pass_dynamodbs_item_size_reports_its_events_and_never_stalls(
    api, org, stream
):
    # Given a unique count of users (ids of 1,000 characters) and a sum of GB on the same plan
    from lagoon.services.usage.events_errors import report_events_errors

    users = create_metric(api, "users", aggregation_type="unique_count_agg", field_name="user")
    storage = create_metric(api)
    create_plan(api, charges=[charge(users), charge(storage)])
    subscription = subscribe(api)

    def user_events(first: int, count: int) -> list[dict]:
        return [
            event(f"u{i}", code="users", user=f"{i:04d}" + "x" * 996) for i in range(first, first + count)
        ]

    # When 300 users arrive (about 310 KB of distinct values, under the item size)
    for start in range(0, 300, 100):
        assert api.post("/events/batch", {"events": user_events(start, 100)}).status == 200
    stream.drain()
    # And then 150 more, which would take the aggregate past DynamoDB's 400 KB, with 2 GB in the same batch
    assert api.post("/events/batch", {"events": user_events(300, 100)}).status == 200
    assert api.post("/events/batch", {"events": [*user_events(400, 50), event("gb", gb=2)]}).status == 200
    [answer] = stream.drain()

    # Then the batch completes (DynamoDB would refuse the item at every attempt: a stalled shard), the users'
    # aggregate keeps its 300 users, the GB count, and the 150 events are reported, not counted
    assert answer == {"batchItemFailures": []}
    found = {a["state"]["aggregation_type"]: a["state"] for a in aggregates(org.id, subscription["lago_id"])}
    assert len(found["unique_count_agg"]["unique_values"]) == 300
    assert Decimal(found["sum_agg"]["total"]) == 2
    next_hour = datetime.now(UTC).replace(minute=5) + __import__("datetime").timedelta(hours=1)
    assert report_events_errors(next_hour) == 1
    [message] = outbox("events.errors")
    assert sorted(message["payload"]["aggregate_too_large"]) == sorted(f"u{i}" for i in range(300, 450))
