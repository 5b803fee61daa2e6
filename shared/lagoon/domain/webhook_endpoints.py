"""Webhook endpoints: the input of `POST/PUT /webhook_endpoints` and the stored endpoint.

The stored shape is the one `services.organizations` already writes for the legacy `webhook_url`
(kind `webhook_endpoint`, sk = lago_id), so both paths read and write the same documents.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

# Lago: WebhookEndpoint::LIMIT (DECISIONS.md: 422 `exceeded_limit` beyond it).
MAX_ENDPOINTS_PER_ORGANIZATION = 10

SignatureAlgo = Literal["jwt", "hmac"]


def check_webhook_url(value: str) -> str:
    """Lago's UrlValidator: an http(s) URL with a host, else `url_invalid`."""
    try:
        parts = urlsplit(value.strip())
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        if valid:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        valid = False
    if not valid:
        raise PydanticCustomError("url_invalid", "not an http(s) URL with a host")
    return value.strip()


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


class WebhookEndpointInput(BaseModel):
    """The `webhook_endpoint` object of WebhookEndpointCreateInput / WebhookEndpointUpdateInput."""

    model_config = ConfigDict(extra="ignore")

    webhook_url: WebhookUrl
    signature_algo: SignatureAlgo | None = None
    name: Annotated[str | None, Field(max_length=255)] = None
    event_types: EventTypes = None


class WebhookEndpoint(BaseModel):
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
