"""Webhook URLs cannot reach what only the deployment can reach (issue 17, docs/webhooks.md "Addresses"):
refused when an endpoint names such an address (422 `url_not_allowed`), and on every delivery after DNS
resolution — on the very address connected to — unless the deployment or an operator allowed it."""

from __future__ import annotations

import json
import socket

import pytest

NOT_ALLOWED = {
    "status": 422,
    "error": "Unprocessable Entity",
    "code": "validation_errors",
    "error_details": {"webhook_url": ["url_not_allowed"]},
}


@pytest.fixture
def as_on_aws(aws, monkeypatch):
    """The template's default (WebhookAllowedNetworks empty), not the local stack's loopback."""
    from lagoon.config import reset_settings

    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "")
    reset_settings()


@pytest.fixture
def dns(monkeypatch):
    """Name resolution answering `names` (name → address) and counting the lookups; other names as usual."""
    real = socket.getaddrinfo
    names: dict[str, str] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            lookups.append(host)
            return real(names[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names, lookups


def _create(api, url):
    return api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": url}})


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/api/token",
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
        "http://localhost:8080/hooks",
        "http://LOCALHOST./hooks",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://2130706433/hooks",
        "http://127.1/hooks",
        "http://0x7f.0.0.1/hooks",
        "https://10.0.0.5/hooks",
        "https://192.168.1.20/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_an_endpoint_naming_an_internal_address_is_refused(api, as_on_aws, url):
    assert _create(api, url).json == NOT_ALLOWED
    assert api.get("/webhook_endpoints").json["webhook_endpoints"] == []


def test_changing_an_endpoint_or_the_legacy_url_to_an_internal_address_is_refused(api, as_on_aws):
    created = _create(api, "https://hooks.example.com/lagoon")
    assert created.status == 200, created.body
    lago_id = created.json["webhook_endpoint"]["lago_id"]
    moved = api.put(
        f"/webhook_endpoints/{lago_id}", {"webhook_endpoint": {"webhook_url": "http://169.254.169.254/"}}
    )
    assert moved.json == NOT_ALLOWED
    legacy = api.put("/organizations", {"organization": {"webhook_url": "http://127.0.0.1/hooks"}})
    assert legacy.json == NOT_ALLOWED
    urls = [e["webhook_url"] for e in api.get("/webhook_endpoints").json["webhook_endpoints"]]
    assert urls == ["https://hooks.example.com/lagoon"]


def test_an_operator_may_allow_an_organization_private_networks_and_nothing_more(api, org, as_on_aws):
    from lagoon.services import organizations

    assert _create(api, "https://10.0.0.5/hooks").json == NOT_ALLOWED
    organizations.allow_webhook_private_networks(org.id, True)
    assert _create(api, "https://10.0.0.5/hooks").status == 200
    assert _create(api, "http://169.254.169.254/").json == NOT_ALLOWED
    assert _create(api, "http://127.0.0.1/hooks").json == NOT_ALLOWED
    # and the setting is not part of the organization's API object
    rendered = api.put("/organizations", {"organization": {}}).json["organization"]
    assert "webhook_private_networks" not in rendered


def test_a_host_name_resolving_to_an_internal_address_is_refused_at_delivery(
    api, receiver, dispatcher, dns, monkeypatch
):
    from lagoon.config import reset_settings
    from lagoon.data.records import OutboxRecord

    # Given an endpoint named by a host name (not resolved at creation) that resolves to loopback
    names, lookups = dns
    names["hooks.rebinding.test"] = "127.0.0.1"
    url = f"http://hooks.rebinding.test:{receiver.port}/hooks"
    assert _create(api, url).status == 200  # a name is not resolved at creation
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "")  # as on AWS
    reset_settings()
    assert api.post("/customers", {"customer": {"external_id": "hooli"}}).status == 200
    # When the dispatcher delivers
    report = dispatcher.at()
    # Then nothing reached the receiver: the attempt failed on the address, named in the attempt log
    assert (report["attempts"], report["failed_attempts"]) == (1, 1)
    assert receiver.received() == []

    (record,) = [r for r in OutboxRecord.scan() if r.webhook_type == "customer.created"]
    (delivery,) = json.loads(record.deliveries).values()
    assert delivery["attempts"][-1]["error"] == (
        "address not allowed: 127.0.0.1 is a loopback address, not allowed for webhooks"
    )
    assert lookups == ["hooks.rebinding.test"]


def test_a_delivery_connects_to_the_address_it_checked_with_the_host_name_kept(
    api, receiver, dispatcher, dns
):
    # Given loopback allowed (the local stack) and a name resolving to it
    names, lookups = dns
    names["hooks.receiver.test"] = "127.0.0.1"
    assert _create(api, f"http://hooks.receiver.test:{receiver.port}/hooks").status == 200
    assert api.post("/customers", {"customer": {"external_id": "hooli"}}).status == 200
    # When delivered
    report = dispatcher.at()
    # Then the name was resolved once — the connection went to the address checked, not to a second answer —
    # and the request still names its host
    assert report["succeeded_attempts"] == 1
    (request,) = receiver.received()
    assert request.headers["host"] == f"hooks.receiver.test:{receiver.port}"
    assert lookups == ["hooks.receiver.test"]
