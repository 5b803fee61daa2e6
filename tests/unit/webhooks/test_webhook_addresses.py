"""Where webhooks may go (lagoon.domain.webhook_addresses): every address a URL can name, by category, and
what the deployment and the organization allow."""

from __future__ import annotations

import ipaddress

import pytest
from lagoon.domain.webhook_addresses import AddressPolicy, category, literal_address, parse_networks


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", "public"),
        ("2001:4860:4860::8888", "public"),
        ("::ffff:8.8.8.8", "public"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("0.0.0.0", "reserved"),
        ("::", "reserved"),
        ("224.0.0.1", "reserved"),
        ("ff02::1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.18.0.1", "reserved"),
    ],
)
def test_every_address_has_its_category(address, expected):
    assert category(ipaddress.ip_address(address)) == expected


def test_by_default_only_public_addresses_are_allowed():
    policy = AddressPolicy()
    assert policy.refusal(ipaddress.ip_address("8.8.8.8")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) == (
        "127.0.0.1 is a loopback address, not allowed for webhooks"
    )
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) == (
        "169.254.169.254 is a metadata address, not allowed for webhooks"
    )
    assert policy.refusal(ipaddress.ip_address("10.0.0.5")) == (
        "10.0.0.5 is a private address, not allowed for webhooks"
    )


def test_an_organization_allowed_private_networks_reaches_them_and_nothing_else():
    policy = AddressPolicy(private_networks=True)
    assert policy.refusal(ipaddress.ip_address("10.0.0.5")) is None
    assert policy.refusal(ipaddress.ip_address("fd12::5")) is None
    for refused in ("127.0.0.1", "169.254.169.254", "fd00:ec2::254", "169.254.3.3", "0.0.0.0"):
        assert policy.refusal(ipaddress.ip_address(refused)) is not None, refused


def test_the_deployment_allows_the_networks_it_lists_in_any_notation():
    policy = AddressPolicy(allowed_networks=parse_networks("127.0.0.0/8, ::1/128 10.9.0.0/16"))
    for allowed in ("127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1", "10.9.8.7"):
        assert policy.refusal(ipaddress.ip_address(allowed)) is None, allowed
    for refused in ("10.8.0.1", "169.254.169.254", "192.168.0.1"):
        assert policy.refusal(ipaddress.ip_address(refused)) is not None, refused
    assert parse_networks("") == ()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", "127.0.0.1"),
        ("LOCALHOST.", "127.0.0.1"),
        ("api.localhost", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("169.254.169.254", "169.254.169.254"),
        ("::1", "::1"),
        ("::ffff:169.254.169.254", "::ffff:a9fe:a9fe"),
        ("example.com", None),
        ("10.0.0.1.nip.io", None),
        ("1password.com", None),
        ("999.1.1.1", None),
    ],
)
def test_what_a_url_host_names_without_dns(host, expected):
    found = literal_address(host)
    assert (str(found) if found is not None else None) == expected
