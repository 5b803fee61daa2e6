"""Parallel delivery with bounds: a slow endpoint holds only its own slots; paging through many messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from lagoon.services.webhook_delivery import DeliveryPolicy, dispatch_due_messages


def _endpoint(api, url):
    assert api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": url}}).status == 200


def test_a_slow_endpoint_never_starves_the_others(api, receiver, webhook_settings):
    # Given a slow endpoint (answers after 1 s, the timeout is 0.4 s) and a fast one, and 10 messages each
    receiver.delays["/slow"] = 1.0
    _endpoint(api, receiver.url("/slow"))
    _endpoint(api, receiver.url("/fast"))
    for n in range(10):
        api.post("/customers", {"customer": {"external_id": f"c{n}"}})
    policy = DeliveryPolicy(timeout_seconds=0.4, concurrency=4, endpoint_concurrency=2, max_attempts=3)
    # When one run delivers them
    started = time.monotonic()
    report = dispatch_due_messages(
        datetime.now(UTC) + timedelta(seconds=1), policy=policy, time_left=lambda: 60
    )
    # Then the fast endpoint got all 10 long before the slow one's 10 timeouts (2 at a time) were over
    fast = receiver.received("/fast")
    assert len(fast) == 10
    assert max(r.at for r in fast) - started < 1.0
    assert len(receiver.received("/slow")) == 10
    assert report.succeeded_attempts == 10
    assert report.failed_attempts == 10
    assert report.retrying == 10  # the slow deliveries wait for their backoff; the fast ones are done


def test_one_run_pages_through_every_due_message(api, receiver, webhook_settings):
    _endpoint(api, receiver.url())
    for n in range(9):
        api.post("/customers", {"customer": {"external_id": f"c{n}"}})
    report = dispatch_due_messages(
        datetime.now(UTC) + timedelta(seconds=1), policy=DeliveryPolicy(page_size=2), time_left=lambda: 60
    )
    assert report.claimed == 9
    assert report.delivered == 9
    assert len({r.unique_key for r in receiver.received()}) == 9


def test_a_backlogged_endpoint_leaves_the_rest_for_the_next_run(api, receiver, webhook_settings):
    from lagoon.data.records import OutboxRecord

    # Given 5 messages for one endpoint that may only have 2 deliveries waiting per run
    _endpoint(api, receiver.url())
    for n in range(5):
        api.post("/customers", {"customer": {"external_id": f"c{n}"}})
    now = datetime.now(UTC) + timedelta(seconds=1)
    policy = DeliveryPolicy(endpoint_backlog=2, endpoint_concurrency=1, page_size=10)
    # When runs follow each other
    runs = [
        dispatch_due_messages(now + timedelta(minutes=n), policy=policy, time_left=lambda: 60)
        for n in range(3)
    ]
    # Then each run delivers what the backlog allows, the rest is handed back (not held) and due next run
    assert [r.delivered for r in runs] == [2, 2, 1]
    assert [r.deferred for r in runs] == [3, 1, 0]
    assert all(r.status == "delivered" and r.lease_owner is None for r in OutboxRecord.scan())
    assert len({r.unique_key for r in receiver.received()}) == 5
