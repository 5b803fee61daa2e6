"""Webhook endpoints: the input of `POST/PUT /webhook_endpoints` and the stored endpoint.

The stored shape is the one `services.organizations` already writes for the legacy `webhook_url`
(kind `webhook_endpoint`, sk = lago_id), so both paths read and write the same documents.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from lagoon.models import LagoonModel

# Lago: WebhookEndpoint::LIMIT (DECISIONS.md: 422 `exceeded_limit` beyond it).
KIND = "webhook_endpoint"  # storage kind of the endpoint documents
MAX_ENDPOINTS_PER_ORGANIZATION = 10

SignatureAlgo = Literal["jwt", "hmac"]


# Long enough for any real receiver (browsers and proxies commonly cap URLs at 2 KB); bounded so a stored
# endpoint stays far below DynamoDB's item size and a log line stays readable.
MAX_WEBHOOK_URL_LENGTH = 2048
# RFC 3986 characters: printable ASCII without space and the characters it never allows unescaped.
_URL_CHARACTERS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('<>"{}|\\^`')
_HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?$")


def _valid_host(parts: SplitResult) -> bool:
    host = parts.hostname or ""
    if parts.netloc.rsplit("@", 1)[-1].startswith("["):
        try:
            return ipaddress.ip_address(host).version == 6
        except ValueError:
            return False
    return bool(_HOST_NAME.match(host)) and len(host) <= 253


def check_webhook_url(value: str) -> str:
    """Lago's UrlValidator (an http(s) URI with a host, else `url_invalid`), and stricter: no whitespace, control
    or non-ASCII characters anywhere (percent-encode them), a valid host name or IP, at most 2048 characters."""
    valid = 0 < len(value) <= MAX_WEBHOOK_URL_LENGTH and set(value) <= _URL_CHARACTERS
    if valid:
        try:
            parts = urlsplit(value)
            valid = parts.scheme.lower() in ("http", "https") and _valid_host(parts)
            if valid:
                parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            valid = False
    if not valid:
        raise PydanticCustomError("url_invalid", "not an http(s) URL with a valid host")
    return value


def check_event_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if any(not isinstance(item, str) or not item.strip() for item in value):
        raise PydanticCustomError(
            "value_is_invalid", "event types are non-empty strings such as customer.created"
        )
    return list(dict.fromkeys(item.strip() for item in value))


WebhookUrl = Annotated[str, AfterValidator(check_webhook_url)]
EventTypes = Annotated[list[str] | None, AfterValidator(check_event_types)]


class WebhookEndpointInput(LagoonModel):
    """The `webhook_endpoint` object of WebhookEndpointCreateInput / WebhookEndpointUpdateInput."""

    model_config = ConfigDict(extra="ignore")

    webhook_url: WebhookUrl
    signature_algo: SignatureAlgo | None = None
    name: Annotated[str | None, Field(max_length=255)] = None
    event_types: EventTypes = None


class WebhookEndpoint(LagoonModel):
    """A stored endpoint. `event_types` None or empty: every webhook type is sent to it."""

    model_config = ConfigDict(extra="ignore")

    lago_id: str
    lago_organization_id: str
    webhook_url: str
    signature_algo: SignatureAlgo = "jwt"
    name: str | None = None
    event_types: list[str] | None = None
    created_at: str
    updated_at: str | None = None

    def accepts(self, webhook_type: str) -> bool:
        """Whether a message of this type goes to this endpoint."""
        return not self.event_types or webhook_type in self.event_types
