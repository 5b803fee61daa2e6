"""The operator's commands for failed webhooks: `python -m lagoon.admin failed-webhooks|show-webhook|retry-webhook|
retry-webhooks`, run through `main()` against the moto stack (found like the local stack, via stack.json)."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.webhooks.conftest import minutes


@pytest.fixture
def admin(tmp_path, monkeypatch, capsys):
    """Runs the CLI; returns (exit code, parsed stdout, stderr)."""
    from lagoon import admin as cli

    environment = {key: os.environ[key] for key in ("ENTITIES_TABLE", "OUTBOX_TABLE", "AWS_REGION")}
    (tmp_path / "stack.json").write_text(json.dumps({"environment": environment}))
    for key in (*environment, *cli.LOCAL_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, os.environ.get(key, "us-east-1"))  # restored after the test

    def run(*argv):
        capsys.readouterr()  # the dispatcher's log lines, printed before
        code = cli.main(["--data-dir", str(tmp_path), *argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out else None), err

    return run


def _failed_message(api, receiver, dispatcher):
    receiver.status = 500
    assert api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": receiver.url()}}).status == 200
    assert api.post("/customers", {"customer": {"external_id": "c1"}}).status == 200
    for at in (0, 1.2, 6):  # 3 attempts allowed: now, +1 min, +4 min
        dispatcher.at(minutes(at))


def test_an_operator_lists_inspects_and_retries_a_failed_webhook(api, org, receiver, dispatcher, admin):
    # Given a message that failed its 3 attempts
    _failed_message(api, receiver, dispatcher)
    # When the operator lists the organization's failed webhooks
    code, failed, _ = admin("failed-webhooks", org.id)
    # Then it is there, with its attempts
    assert code == 0
    assert len(failed) == 1
    (message,) = failed
    assert message["webhook_type"] == "customer.created"
    assert message["status"] == "failed"
    assert [(d["status"], d["attempts"]) for d in message["deliveries"]] == [("failed", 3)]
    assert message["deliveries"][0]["last_attempt"]["http_status"] == 500
    # and shows it with every attempt
    code, shown, _ = admin("show-webhook", org.id, message["message_id"])
    assert code == 0
    assert [a["http_status"] for a in shown["deliveries"][0]["attempts"]] == [500, 500, 500]
    assert shown["payload"]["external_id"] == "c1"
    # When the receiver works again and the operator retries it
    receiver.status = 200
    code, retried, _ = admin("retry-webhook", org.id, message["message_id"])
    assert code == 0
    assert retried["retried"] == [message["message_id"]]
    assert admin("failed-webhooks", org.id)[1] == []
    report = dispatcher.at(minutes(601))
    # Then it is delivered with the same unique key, and is no longer retryable
    assert report["succeeded_attempts"] == 1
    assert [r.unique_key for r in receiver.received()][-1] == message["message_id"]
    assert admin("show-webhook", org.id, message["message_id"])[1]["status"] == "delivered"
    code, out, err = admin("retry-webhook", org.id, message["message_id"])
    assert (code, out) == (1, None)
    assert "not_failed" in err


def test_retry_webhooks_retries_every_failed_one_of_the_organization_only(
    api, org, other_org, receiver, dispatcher, admin
):
    _failed_message(api, receiver, dispatcher)
    (message_id,) = [m["message_id"] for m in admin("failed-webhooks", org.id)[1]]
    # Another organization sees none of it and cannot retry it
    assert admin("failed-webhooks", other_org.id)[1] == []
    code, out, err = admin("retry-webhook", other_org.id, message_id)
    assert (code, out) == (1, None)
    assert "not found" in err
    assert admin("retry-webhooks", other_org.id)[1] == {"retried": []}
    # The organization retries all of its failed ones
    assert admin("retry-webhooks", org.id)[1] == {"retried": [message_id]}
    assert admin("failed-webhooks", org.id)[1] == []
