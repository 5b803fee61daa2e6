"""Parallel delivery with bounds: a slow endpoint holds only its own slots; paging through many messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lagoon.services.webhooks.delivery_policy import DeliveryPolicy
from lagoon.services.webhooks.dispatch import dispatch_due_messages


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


# A receiver that hangs far longer than the attempt deadline, and a run that may start deliveries for ~3 s
# (half of the 6 s its function has left): the hanging endpoint frees its single slot every 1.5 s, so it can
# take at most 3 attempts in the run, while the fast endpoint has every one of its messages to take.
_HANGING = DeliveryPolicy(
    timeout_seconds=1.5, concurrency=4, endpoint_concurrency=1, endpoint_backlog=1, max_waiting_messages=2
)


def test_a_hanging_endpoint_does_not_hold_back_messages_also_addressed_to_others(
    api, receiver, webhook_settings
):
    # Given an endpoint that hangs and a fast one, both receiving every type, and 8 messages
    receiver.delays["/hanging"] = 5.0
    _endpoint(api, receiver.url("/hanging"))
    _endpoint(api, receiver.url("/fast"))
    for n in range(8):
        api.post("/customers", {"customer": {"external_id": f"c{n}"}})
    # When one run delivers while the hanging endpoint's one slot and backlog are full
    report = dispatch_due_messages(
        datetime.now(UTC) + timedelta(seconds=1), policy=_HANGING, time_left=lambda: 6.0
    )
    # Then the fast endpoint received all 8 messages in that run, each once
    assert sorted(r.json["customer"]["external_id"] for r in receiver.received("/fast")) == [
        f"c{n}" for n in range(8)
    ]
    # and the hanging one only what its slot allowed (the rest stays due for the next runs)
    assert 1 <= len(receiver.received("/hanging")) <= 3
    assert report.succeeded_attempts == 8


def test_a_hanging_endpoints_backlog_does_not_hide_newer_messages_of_other_endpoints(
    api, other_api, receiver, webhook_settings
):
    # Given 16 older messages for an endpoint that hangs (one organization), then 4 for a fast endpoint of
    # another organization: with pages of 2 per shard, the first pages hold only the hanging endpoint's messages
    receiver.delays["/hanging"] = 5.0
    _endpoint(api, receiver.url("/hanging"))
    _endpoint(other_api, receiver.url("/fast"))
    for n in range(16):
        api.post("/customers", {"customer": {"external_id": f"slow{n}"}})
    for n in range(4):
        other_api.post("/customers", {"customer": {"external_id": f"fast{n}"}})
    policy = DeliveryPolicy(**{**_HANGING.__dict__, "page_size": 2})
    # When one run delivers
    dispatch_due_messages(datetime.now(UTC) + timedelta(seconds=1), policy=policy, time_left=lambda: 6.0)
    # Then the fast endpoint got its 4 messages in that run, not after the hanging endpoint's backlog
    assert sorted(r.json["customer"]["external_id"] for r in receiver.received("/fast")) == [
        f"fast{n}" for n in range(4)
    ]
    assert 1 <= len(receiver.received("/hanging")) <= 3


def test_several_hanging_endpoints_leave_half_of_the_slots_to_the_others(api, receiver, webhook_settings):
    # Given three endpoints that hang and a fast one, 4 parallel requests in all and 2 per endpoint, and 6
    # messages for all of them: the hanging endpoints alone could take every slot for a whole deadline each time
    for n in range(3):
        receiver.delays[f"/hanging{n}"] = 5.0
        _endpoint(api, receiver.url(f"/hanging{n}"))
    _endpoint(api, receiver.url("/fast"))
    for n in range(6):
        api.post("/customers", {"customer": {"external_id": f"c{n}"}})
    policy = DeliveryPolicy(timeout_seconds=1.0, concurrency=4, endpoint_concurrency=2, max_attempts=3)
    # When a run may start deliveries for 3 s
    started = datetime.now(UTC)
    dispatch_due_messages(started + timedelta(seconds=1), policy=policy, time_left=lambda: 6.0)
    # Then once the hanging endpoints have missed a deadline they share at most half of the slots: the fast
    # endpoint got its 6 messages within about one deadline, not one message per deadline
    fast = sorted(r.at for r in receiver.received("/fast"))
    assert len(fast) == 6
    first_hanging = min(r.at for r in receiver.received() if r.path.startswith("/hanging"))
    assert fast[-1] - first_hanging < 1.9
