"""Runtime configuration: one validated model read once from the environment (never at import time)."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    """Everything a Lagoon function reads from its environment."""

    region: str = "us-east-1"
    # Set only by the local stack and tests: where the (moto) AWS endpoint answers.
    aws_endpoint_url: str | None = None
    entities_table: str = "lagoon-entities"
    outbox_table: str = "lagoon-outbox"
    events_table: str = "lagoon-events"
    aggregates_table: str = "lagoon-aggregates"
    events_stream: str = "lagoon-events"
    # The bucket of invoice PDFs; None in functions without access to it (docs/documents.md "Storage").
    documents_bucket: str | None = None
    webhook_keys_secret: str = "lagoon-webhook-keys"
    # Public base URL of the API (JWT `iss` of webhooks, document links).
    api_base_url: str = "http://127.0.0.1:3000"
    # Webhook delivery (docs/webhooks.md): a delivery succeeds on 200/201/202/204 within the timeout; a failed
    # one is retried `webhook_max_attempts` times in all, after base * factor**(n-1) seconds (+ up to 10 %).
    webhook_timeout_seconds: float = Field(default=30.0, gt=0)
    webhook_max_attempts: int = Field(default=6, ge=1)
    webhook_backoff_base_seconds: float = Field(default=60.0, ge=0)
    webhook_backoff_factor: float = Field(default=4.0, ge=1)
    # Parallel deliveries per dispatcher run, and per endpoint (one slow endpoint never takes every slot).
    webhook_concurrency: int = Field(default=16, ge=1)
    webhook_endpoint_concurrency: int = Field(default=4, ge=1)
    # How long a dispatcher run holds the messages it claimed (longer than the function's timeout).
    webhook_lease_seconds: int = Field(default=360, ge=1)
    # Networks webhooks may reach besides public addresses (lagoon.domain.webhook_addresses): CIDR blocks
    # separated by commas; none on AWS (template parameter WebhookAllowedNetworks), loopback on the local stack.
    webhook_allowed_networks: str = ""
    stage: str = Field(default="dev")


_ENV = {
    "region": "AWS_REGION",
    "aws_endpoint_url": "LAGOON_AWS_ENDPOINT_URL",
    "entities_table": "ENTITIES_TABLE",
    "outbox_table": "OUTBOX_TABLE",
    "events_table": "EVENTS_TABLE",
    "aggregates_table": "AGGREGATES_TABLE",
    "events_stream": "EVENTS_STREAM",
    "documents_bucket": "DOCUMENTS_BUCKET",
    "webhook_keys_secret": "WEBHOOK_KEYS_SECRET",
    "api_base_url": "API_BASE_URL",
    "webhook_timeout_seconds": "WEBHOOK_TIMEOUT_SECONDS",
    "webhook_max_attempts": "WEBHOOK_MAX_ATTEMPTS",
    "webhook_backoff_base_seconds": "WEBHOOK_BACKOFF_BASE_SECONDS",
    "webhook_backoff_factor": "WEBHOOK_BACKOFF_FACTOR",
    "webhook_concurrency": "WEBHOOK_CONCURRENCY",
    "webhook_endpoint_concurrency": "WEBHOOK_ENDPOINT_CONCURRENCY",
    "webhook_lease_seconds": "WEBHOOK_LEASE_SECONDS",
    "webhook_allowed_networks": "WEBHOOK_ALLOWED_NETWORKS",
    "stage": "STAGE",
}


@cache
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    values = {field: os.environ[var] for field, var in _ENV.items() if os.environ.get(var)}
    return Settings(**values)


def reset_settings() -> None:
    """Forget cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
