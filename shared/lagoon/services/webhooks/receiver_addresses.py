"""The addresses an organization's webhooks may reach (lagoon.domain.webhook_addresses): checked on the URL
when an endpoint is created or changed, and by the sender on every delivery after DNS resolution."""

from __future__ import annotations

from urllib.parse import urlsplit

from lagoon import errors
from lagoon.config import get_settings
from lagoon.domain.organizations import Organization
from lagoon.domain.webhook_addresses import AddressPolicy, literal_address, parse_networks


def address_policy(organization: Organization | None) -> AddressPolicy:
    """This deployment's allowed networks, and the organization's permission for private ones."""
    return AddressPolicy(
        allowed_networks=parse_networks(get_settings().webhook_allowed_networks),
        private_networks=bool(organization and organization.webhook_private_networks),
    )


def check_receiver_url(organization: Organization, url: str) -> None:
    """A URL whose host is itself a refused address (`http://169.254.169.254/`, `http://localhost/`,
    `http://10.0.0.1/`…) is 422 `{"webhook_url": ["url_not_allowed"]}`. A host name is not resolved here
    (it may not resolve yet, and may change): the sender checks the addresses it resolves to."""
    address = literal_address(urlsplit(url).hostname or "")
    if address is not None and address_policy(organization).refusal(address):
        raise errors.ValidationFailed.field("webhook_url", "url_not_allowed")
