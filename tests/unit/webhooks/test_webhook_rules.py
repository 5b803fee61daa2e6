"""Endpoint validation, event-type filtering and the retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lagoon.domain.webhook_endpoints import WebhookEndpoint, WebhookEndpointInput
from lagoon.services.webhooks.delivery_policy import DeliveryPolicy
from lagoon.services.webhooks.outbox_time import iso, parse_time
from pydantic import ValidationError


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "http://127.0.0.1:8080/hooks?token=x",
        "https://a.b/c#d",
        "HTTPS://Example.COM/Path",
        "http://[::1]:8080/hooks",
        "https://hooks.example.com/a%20b",
        "https://example.com/" + "a" * (2048 - len("https://example.com/")),  # the longest accepted
    ],
)
def test_http_and_https_urls_with_a_host_are_accepted(url):
    assert WebhookEndpointInput(webhook_url=url).webhook_url == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com",
        "ftp://example.com",
        "https://",
        "javascript:alert(1)",
        "http://x:99999/",
        "http://[::1",
        " https://x.io",
        "https://x.io ",
        "https://exa mple.com/hooks",
        "https://example.com/a b",
        "https://example.com/\nX-Injected: 1",
        "https://example.com/\t",
        "https://exa<mple>.com/",
        "http:///path-only",
        "mailto:someone@example.com",
        "https://example.com/" + "a" * (2049 - len("https://example.com/")),  # longer than 2048
    ],
)
def test_other_urls_are_url_invalid(url):
    with pytest.raises(ValidationError) as raised:
        WebhookEndpointInput(webhook_url=url)
    assert raised.value.errors()[0]["type"] == "url_invalid"


def test_event_types_are_deduplicated_and_must_not_be_blank():
    assert WebhookEndpointInput(
        webhook_url="https://x.io", event_types=["a.b", "a.b", "c.d"]
    ).event_types == [
        "a.b",
        "c.d",
    ]
    with pytest.raises(ValidationError):
        WebhookEndpointInput(webhook_url="https://x.io", event_types=[" "])


@pytest.mark.parametrize(
    ("event_types", "accepted"),
    [(None, True), ([], True), (["customer.created"], True), (["invoice.created"], False)],
)
def test_an_endpoint_accepts_the_types_it_lists_or_every_type(event_types, accepted):
    endpoint = WebhookEndpoint(
        lago_id="e",
        lago_organization_id="o",
        webhook_url="https://x.io",
        event_types=event_types,
        created_at="t",
    )
    assert endpoint.accepts("customer.created") is accepted


def test_retries_back_off_exponentially_with_at_most_ten_percent_spread():
    policy = DeliveryPolicy(backoff_base_seconds=60, backoff_factor=4)
    delays = [policy.retry_delay(n, "message#endpoint").total_seconds() for n in (1, 2, 3, 4, 5)]
    for delay, base in zip(delays, (60, 240, 960, 3840, 15360), strict=True):
        assert base <= delay <= base * 1.1
    assert policy.retry_delay(2, "message#endpoint") == policy.retry_delay(
        2, "message#endpoint"
    )  # deterministic
    # the default schedule spreads 6 attempts over about 5.7 hours
    assert 5 * 3600 < sum(delays) < 6.5 * 3600


def test_schedule_times_parse_and_format_as_sortable_utc_text():
    moment = parse_time("2026-12-01T00:00:00Z")
    assert moment == datetime(2026, 12, 1, tzinfo=UTC)
    assert iso(moment) == "2026-12-01T00:00:00.000000Z"
    assert iso(moment + timedelta(minutes=1)) > iso(moment)
    assert abs(parse_time(None) - datetime.now(UTC)) < timedelta(seconds=5)
