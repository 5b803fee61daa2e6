"""The cost floor (issue 6): 1,000 events over 10 subscriptions cost ≤ 1.1 write units per event in total and
≤ 60 DynamoDB requests — dedupe, aggregation and the access paths of GET /events included."""

from __future__ import annotations

import uuid

from tests.integration.ingestion.conftest import charge, create_metric, create_plan, epoch, subscribe


def test_a_thousand_events_over_ten_subscriptions_stay_under_the_cost_floor(api, stream):
    # Given 10 subscriptions on a plan with a sum charge, and 1,000 realistic events (uuid transaction ids)
    metric = create_metric(api, "storage")
    create_plan(api, charges=[charge(metric)])
    for n in range(10):
        subscribe(api, external_id=f"subscription-{n:04d}", customer=f"customer-{n:04d}")
    base = epoch("2024-01-15T00:00:00Z")
    for request in range(10):
        events = [
            {
                "transaction_id": str(uuid.uuid4()),
                "external_subscription_id": f"subscription-{i % 10:04d}",
                "code": "storage",
                "timestamp": base + request * 100 + i,
                "properties": {"gb": i % 7, "region": "eu-west-1"},
            }
            for i in range(100)
        ]
        assert api.post("/events/batch", {"events": events}).status == 200
    records = stream.pending()
    # When the aggregator applies them as one batch, metered
    from lagoon.data.capacity import metering

    with metering() as meter:
        stream.deliver(records)
    # Then each part's write units and the requests stay under the floor
    print("write units by part:", dict(meter.write_units), "requests:", dict(meter.requests))
    assert meter.write_units["events"] == 1000  # one unit per event: the floor
    assert meter.total_write_units <= 1100
    assert meter.dynamodb_requests <= 60
    # And the events are all there
    listed = api.get("/events", query={"per_page": 5}).json
    assert listed["meta"]["total_count"] == 1000
