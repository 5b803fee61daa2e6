"""Signed delivery of outbox messages to a real HTTP receiver, by the dispatcher's real handler."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.contract import assert_webhook_matches_contract
from tests.integration.webhooks.conftest import ISSUER, minutes


def _endpoint(api, url, **fields):
    response = api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": url, **fields}})
    assert response.status == 200, response.body
    return response.json["webhook_endpoint"]


def _customer(api, external_id, **fields):
    response = api.post("/customers", {"customer": {"external_id": external_id, **fields}})
    assert response.status == 200, response.body
    return response.json["customer"]


def _outbox():
    from lagoon.data.records import OutboxRecord

    return {record.message_id: record for record in OutboxRecord.scan()}


def test_a_jwt_webhook_verifies_with_the_published_public_key(api, org, receiver, dispatcher):
    # Given a JWT endpoint and a customer just created
    _endpoint(api, receiver.url())
    customer = _customer(api, "hooli_1", name="Gavin")
    # When the schedule fires
    report = dispatcher.at()
    # Then the receiver got one signed POST
    assert report["succeeded_attempts"] == 1
    (request,) = receiver.received()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-lago-signature-algorithm"] == "jwt"
    # and the JWT verifies with the key from /webhooks/json_public_key, its data being the exact body
    public_pem = base64.b64decode(api.get("/webhooks/json_public_key").json["webhook"]["public_key"])
    claims = jwt.decode(
        request.headers["x-lago-signature"],
        serialization.load_pem_public_key(public_pem),  # type: ignore[arg-type]
        algorithms=["RS256"],
        issuer=ISSUER,
    )
    assert claims["data"] == request.body.decode()
    # and the body is Lago's envelope with the customer exactly as the API renders it
    envelope = request.json
    assert envelope == {
        "webhook_type": "customer.created",
        "object_type": "customer",
        "organization_id": org.id,
        "customer": customer,
    }
    # and the unique key is the outbox message id
    (message_id,) = _outbox()
    assert request.unique_key == message_id
    assert _outbox()[message_id].status == "delivered"


def test_the_jwt_issuer_has_the_trailing_slash_whatever_api_base_url_is_given_with(
    api, receiver, dispatcher, monkeypatch
):
    from lagoon.config import reset_settings

    # Given the local stack's form of the base URL (no trailing slash; the AWS stage URL has one)
    monkeypatch.setenv("API_BASE_URL", ISSUER.rstrip("/"))
    reset_settings()
    _endpoint(api, receiver.url())
    _customer(api, "c1")
    dispatcher.at()
    # Then the JWT names the same issuer as on AWS: the base URL with one trailing slash
    (request,) = receiver.received()
    assert jwt.decode(request.headers["x-lago-signature"], options={"verify_signature": False}) == {
        "data": request.body.decode(),
        "iss": ISSUER,
    }


def test_an_hmac_webhook_verifies_with_the_organization_key(api, org, receiver, dispatcher):
    from lagoon.services import organizations

    _endpoint(api, receiver.url(), signature_algo="hmac")
    _customer(api, "hooli_1")
    dispatcher.at()
    (request,) = receiver.received()
    assert request.headers["x-lago-signature-algorithm"] == "hmac"
    hmac_key = organizations.get_organization(org.id).hmac_key
    expected = base64.b64encode(hmac.new(hmac_key.encode(), request.body, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(request.headers["x-lago-signature"], expected)


def test_event_types_choose_which_endpoints_receive_a_message(api, receiver, dispatcher):
    # Given three endpoints: created only, updated only, everything
    _endpoint(api, receiver.url("/created"), event_types=["customer.created"])
    _endpoint(api, receiver.url("/updated"), event_types=["customer.updated"])
    _endpoint(api, receiver.url("/all"), event_types=[])
    # When a customer is created then updated
    _customer(api, "c1")
    _customer(api, "c1", name="renamed")
    dispatcher.at()
    # Then each endpoint got exactly the types it asked for
    assert [r.json["webhook_type"] for r in receiver.received("/created")] == ["customer.created"]
    assert [r.json["webhook_type"] for r in receiver.received("/updated")] == ["customer.updated"]
    assert sorted(r.json["webhook_type"] for r in receiver.received("/all")) == [
        "customer.created",
        "customer.updated",
    ]
    # and one message sent to several endpoints carries the same unique key to each
    created_key = receiver.received("/created")[0].unique_key
    assert created_key in {r.unique_key for r in receiver.received("/all")}


def test_messages_of_other_organizations_never_reach_an_endpoint(api, other_api, receiver, dispatcher):
    _endpoint(api, receiver.url("/acme"))
    _endpoint(other_api, receiver.url("/globex"))
    _customer(api, "acme_customer")
    _customer(other_api, "globex_customer")
    dispatcher.at()
    assert [r.json["customer"]["external_id"] for r in receiver.received("/acme")] == ["acme_customer"]
    assert [r.json["customer"]["external_id"] for r in receiver.received("/globex")] == ["globex_customer"]


def test_a_receiver_that_is_down_gets_every_message_once_it_is_back(api, receiver, dispatcher):
    # Given an endpoint whose receiver is down when three customers are created
    _endpoint(api, receiver.url())
    receiver.stop()
    for n in range(3):
        _customer(api, f"c{n}")
    # When the schedule fires: every attempt fails and is retried later (backoff: 1 min, then 4 min)
    first = dispatcher.at()
    assert first["failed_attempts"] == 3
    assert first["retrying"] == 3
    assert dispatcher.at(minutes(0.5))["attempts"] == 0  # not due yet
    # When the receiver is back and the retries are due
    receiver.start()
    second = dispatcher.at(minutes(1.2))
    # Then it receives every message, once, with the message id as unique key
    assert second["succeeded_attempts"] == 3
    keys = [r.unique_key for r in receiver.received()]
    assert sorted(keys) == sorted(_outbox())
    assert all(record.status == "delivered" for record in _outbox().values())
    assert dispatcher.at(minutes(30))["attempts"] == 0


def test_a_receiver_answering_500_for_a_while_gets_each_message_with_the_same_key(api, receiver, dispatcher):
    from lagoon.services.webhooks import webhook_messages

    # Given a receiver that fails the first two attempts
    receiver.script = lambda request: 500 if len(receiver.requests) <= 2 else 200
    _endpoint(api, receiver.url())
    _customer(api, "c1")
    dispatcher.at()
    dispatcher.at(minutes(1.2))
    dispatcher.at(minutes(6))
    # Then the third attempt succeeds with the same unique key and the same body
    requests = receiver.received()
    assert len(requests) == 3
    assert len({r.unique_key for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    # and every attempt is logged with its status code and duration
    (message_id,) = _outbox()
    entry = webhook_messages.get_message(requests[0].json["organization_id"], message_id)
    (delivery,) = entry.deliveries.values()
    assert [a["http_status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["outcome"] for a in delivery["attempts"]] == ["failed", "failed", "succeeded"]
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])
    assert delivery["status"] == "succeeded"


def test_after_the_last_attempt_a_message_is_failed_listed_and_can_be_retried(api, org, receiver, dispatcher):
    from lagoon.services.webhooks import webhook_messages

    # Given a receiver that always answers 500 (3 attempts allowed: now, +1 min, +4 min)
    receiver.status = 500
    _endpoint(api, receiver.url())
    _customer(api, "c1")
    for at in (0, 1.2, 6):
        dispatcher.at(minutes(at))
    # Then the message is failed and listed with its attempts
    (failed,) = webhook_messages.list_failed_messages(org.id)
    assert failed.status == "failed"
    rendered = webhook_messages.render_message(failed)
    assert [a["http_status"] for a in rendered["deliveries"][0]["attempts"]] == [500, 500, 500]
    assert dispatcher.at(minutes(600))["attempts"] == 0  # never retried on its own
    # When an operator retries it once the receiver works again
    receiver.status = 200
    webhook_messages.retry_failed_messages(org.id)
    assert webhook_messages.list_failed_messages(org.id) == []
    report = dispatcher.at(minutes(601))
    # Then it is delivered with the same unique key
    assert report["succeeded_attempts"] == 1
    assert len({r.unique_key for r in receiver.received()}) == 1
    assert webhook_messages.get_message(org.id, failed.message_id).status == "delivered"


def test_retrying_a_message_of_another_organization_is_not_found(api, org, other_org, receiver, dispatcher):
    from lagoon import errors
    from lagoon.services.webhooks import webhook_messages

    receiver.status = 500
    _endpoint(api, receiver.url())
    _customer(api, "c1")
    for at in (0, 1.2, 6):
        dispatcher.at(minutes(at))
    (failed,) = webhook_messages.list_failed_messages(org.id)
    with pytest.raises(errors.NotFound):
        webhook_messages.retry_failed_message(other_org.id, failed.message_id)
    assert webhook_messages.list_failed_messages(other_org.id) == []


def test_a_dispatcher_crash_after_claiming_loses_nothing(api, receiver, dispatcher, monkeypatch):
    from lagoon.services.webhooks import dispatch

    # Given messages claimed by a run that dies before sending anything
    _endpoint(api, receiver.url())
    for n in range(3):
        _customer(api, f"c{n}")

    def crash(self, pool):
        raise RuntimeError("the function died")

    with monkeypatch.context() as patch:
        patch.setattr(dispatch._Run, "start", crash)
        with pytest.raises(RuntimeError):
            dispatcher.at()
    assert receiver.received() == []
    # Then no other run sends them while the lease holds (6 minutes)
    assert dispatcher.at(minutes(1))["claimed"] == 0
    # and the first run after the lease delivers them all
    report = dispatcher.at(minutes(7))
    assert report["succeeded_attempts"] == 3
    assert sorted(r.unique_key for r in receiver.received()) == sorted(_outbox())


def test_a_dispatcher_crash_after_sending_sends_again_with_the_same_key(
    api, receiver, dispatcher, monkeypatch
):
    from lagoon.data import webhook_outbox

    # Given a run that sends a message and dies before recording it
    _endpoint(api, receiver.url())
    _customer(api, "c1")

    def crash(*args, **kwargs):
        raise RuntimeError("the function died")

    with monkeypatch.context() as patch:
        patch.setattr(webhook_outbox, "save_progress", crash)
        with pytest.raises(RuntimeError):
            dispatcher.at()
    assert len(receiver.received()) == 1
    # When the lease has run out
    dispatcher.at(minutes(7))
    # Then the message is sent again (at least once) with the same unique key and body, and then recorded
    first, second = receiver.received()
    assert first.unique_key == second.unique_key
    assert first.body == second.body
    assert dispatcher.at(minutes(20))["attempts"] == 0


def test_two_dispatchers_never_claim_the_same_message(api, receiver, webhook_settings):
    """Two runs that read the same index entry: the conditional claim lets exactly one take it."""
    from datetime import UTC, datetime, timedelta

    from lagoon.data import webhook_outbox
    from lagoon.services.webhooks.outbox_time import iso

    _endpoint(api, receiver.url())
    _customer(api, "c1")
    now = iso(datetime.now(UTC) + timedelta(seconds=1))
    # Both runs read the same index entry
    seen = [e for shard in webhook_outbox.SHARDS for e in webhook_outbox.due_messages(shard, now, 10).entries]
    assert len(seen) == 1
    first = webhook_outbox.claim(seen[0], "run-a", "2099-01-01T00:00:00.000000Z")
    second = webhook_outbox.claim(seen[0], "run-b", "2099-01-01T00:00:00.000000Z")
    assert first is not None and first.lease_owner == "run-a"
    assert second is None


def test_an_endpoint_deleted_before_delivery_is_skipped(api, receiver, dispatcher):
    endpoint = _endpoint(api, receiver.url())
    receiver.stop()
    _customer(api, "c1")
    dispatcher.at()  # fans out to the endpoint, fails
    api.delete(f"/webhook_endpoints/{endpoint['lago_id']}")
    receiver.start()
    report = dispatcher.at(minutes(2))
    assert report["attempts"] == 0
    assert receiver.received() == []
    (record,) = _outbox().values()
    assert record.status == "delivered"
    assert json.loads(record.deliveries)[endpoint["lago_id"]]["status"] == "skipped"


def test_the_envelope_of_every_message_matches_the_webhook_contract(api, org, receiver, dispatcher):
    # Given a customer created then renamed
    _endpoint(api, receiver.url())
    _customer(api, "c1", name="One")
    _customer(api, "c1", name="Uno")
    # When the schedule fires
    dispatcher.at()
    # Then both messages are delivered (a loop over no delivery would check nothing)…
    envelopes = sorted((request.json for request in receiver.received()), key=lambda e: e["webhook_type"])
    assert [(e["webhook_type"], e["customer"]["name"]) for e in envelopes] == [
        ("customer.created", "One"),
        ("customer.updated", "Uno"),
    ]
    # …each shaped as the contract's webhook
    for envelope in envelopes:
        assert_webhook_matches_contract(envelope)


def test_a_failed_page_read_or_claim_skips_only_those_messages_until_the_next_run(
    api, receiver, dispatcher, monkeypatch
):
    from lagoon import errors
    from lagoon.data import webhook_outbox

    # Given 8 messages, and DynamoDB failing (throttled) the first page read of one shard and one claim
    _endpoint(api, receiver.url())
    for n in range(8):
        _customer(api, f"c{n}")
    shard_of = {message_id: webhook_outbox.shard_of(message_id) for message_id in _outbox()}
    failing_shard = max(set(shard_of.values()), key=list(shard_of.values()).count)
    real_due, real_claim = webhook_outbox.due_messages, webhook_outbox.claim
    failures = {"page": 1, "claim": 1}

    def due_messages(shard, *args, **kwargs):
        if shard == failing_shard and failures["page"]:
            failures["page"] -= 1
            raise errors.TransientFailure("throttled")
        return real_due(shard, *args, **kwargs)

    def claim(entry, *args):
        if entry.organization_id and failures["claim"] and shard_of[entry.message_id] != failing_shard:
            failures["claim"] -= 1
            raise errors.TransientFailure("throttled")
        return real_claim(entry, *args)

    monkeypatch.setattr(webhook_outbox, "due_messages", due_messages)
    monkeypatch.setattr(webhook_outbox, "claim", claim)
    # When the schedule fires: the run completes, delivering all but those messages
    first = dispatcher.at()
    skipped = sum(1 for shard in shard_of.values() if shard == failing_shard) + (1 - failures["claim"])
    assert failures == {"page": 0, "claim": 0}
    assert first["delivered"] == 8 - skipped
    # and the next run delivers the rest, each message exactly once in all
    second = dispatcher.at(minutes(1))
    assert second["delivered"] == skipped
    assert sorted(r.unique_key for r in receiver.received()) == sorted(shard_of)
    assert {record.status for record in _outbox().values()} == {"delivered"}
