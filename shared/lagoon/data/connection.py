"""Binds PynamoDB models to the configured tables and endpoint, lazily, and builds boto3 clients once."""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config
from pynamodb.connection import Connection
from pynamodb.models import Model

from lagoon.config import Settings, get_settings

# Each PynamoDB model registers the Settings field that names its table.
_MODELS: dict[type[Model], str] = {}


def table_model(settings_field: str):  # type: ignore[no-untyped-def]
    """Class decorator: the model's table name comes from `Settings.<settings_field>` at bind time."""

    def register(model: type[Model]) -> type[Model]:
        _MODELS[model] = settings_field
        return model

    return register


def bind_models(settings: Settings | None = None) -> None:
    """Point every registered model at its table (and the local endpoint, if any)."""
    settings = settings or get_settings()
    for model, field in _MODELS.items():
        model.Meta.table_name = getattr(settings, field)
        model.Meta.region = settings.region
        model.Meta.host = settings.aws_endpoint_url
        model._connection = None


_bound_for: list[Settings] = []


def ensure_bound() -> None:
    """Bind once per Settings instance (tests and the local stack reset settings)."""
    settings = get_settings()
    if not _bound_for or _bound_for[0] is not settings:
        bind_models(settings)
        _bound_for[:] = [settings]


@cache
def _client(service: str, region: str, endpoint: str | None, validate: bool) -> Any:
    import boto3  # cold start: boto3 and s3transfer (~25 ms) load at the first client, not in every function

    config = Config(parameter_validation=validate)
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


def aws_client(service: str, *, validate: bool = True) -> Any:
    """A boto3 client for `service`, created on first use (never at import time).

    `validate=False` skips botocore's client-side parameter validation: for hot paths whose requests are built
    by our own code (the aggregator's batch writes), where it costs ~15% of each call's CPU and the service
    validates anyway.
    """
    settings = get_settings()
    return _client(service, settings.region, settings.aws_endpoint_url, validate)


@cache
def _pynamodb_connection(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def transaction_connection() -> Connection:
    """One PynamoDB connection per container and endpoint (a new one per commit costs a botocore client)."""
    settings = get_settings()
    return _pynamodb_connection(settings.region, settings.aws_endpoint_url)


def reset_clients() -> None:
    _client.cache_clear()
    _pynamodb_connection.cache_clear()
    _bound_for.clear()
