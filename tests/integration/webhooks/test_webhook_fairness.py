"""Parallel delivery with bounds: a slow endpoint holds only its own slots; paging through many messages."""

from __future__ import annotations

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
    report = dispatch_due_messages(
        datetime.now(UTC) + timedelta(seconds=1), policy=policy, time_left=lambda: 60
    )
    # Then the fast endpoint got all 10 while the slow one was still working through its queue (it only ever
    # holds its 2 slots: its 3rd request waits for one of them). Upper bounds on wall time are avoided: the
    # ordering holds on a loaded machine too.
    fast, slow = receiver.received("/fast"), sorted(r.at for r in receiver.received("/slow"))
    assert len(fast) == 10
    assert len(slow) == 10
    assert max(r.at for r in fast) < slow[-1]
    assert slow[2] - slow[0] >= 0.35  # the 3rd slow request started only when a slot was freed
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


def test_a_backlogged_endpoint_holds_only_its_backlog_and_the_rest_waits_unclaimed(
    api, receiver, webhook_settings
):
    from lagoon.data.records import OutboxRecord

    # Given 6 messages for a slow endpoint (1 s a request, one at a time, at most 2 waiting deliveries):
    # a 3 s budget delivers at most 3 and holds at most 2 more, whatever the machine's speed
    receiver.delays["/slow"] = 1.0
    _endpoint(api, receiver.url("/slow"))
    for n in range(6):
        api.post("/customers", {"customer": {"external_id": f"c{n}"}})
    now = datetime.now(UTC) + timedelta(seconds=1)
    policy = DeliveryPolicy(endpoint_backlog=2, endpoint_concurrency=1, timeout_seconds=3)
    # When a run may start deliveries for only 3 seconds (half of the 6 s its function has left)
    first = dispatch_due_messages(now, policy=policy, time_left=lambda: 6.0)
    # Then it claimed at most its backlog beyond what it delivered, and handed everything else back unheld
    assert 1 <= first.delivered < 6
    assert first.claimed <= first.delivered + 2
    assert first.deferred >= 1
    assert all(r.lease_owner is None for r in OutboxRecord.scan())
    # and the next run delivers the rest
    second = dispatch_due_messages(now + timedelta(minutes=1), policy=policy, time_left=lambda: 60)
    assert first.delivered + second.delivered == 6
    assert len({r.unique_key for r in receiver.received()}) == 6
