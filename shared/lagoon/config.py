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
    documents_bucket: str = "lagoon-documents"
    webhook_keys_secret: str = "lagoon-webhook-keys"
    # Public base URL of the API (JWT `iss` of webhooks, document links).
    api_base_url: str = "http://127.0.0.1:3000"
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
