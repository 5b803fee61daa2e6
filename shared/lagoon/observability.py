"""The one Logger, Tracer and Metrics of every Lagoon function, and the decorator stack every handler uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="lagoon")
tracer = Tracer(service="lagoon")
metrics = Metrics(namespace="Lagoon", service="lagoon")

Handler = Callable[[dict[str, Any], Any], Any]


def lambda_entrypoint(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Logger (with correlation id) -> Metrics -> Tracer, the same on every handler (STYLE.md practice 2)."""

    def decorate(handler: Handler) -> Handler:
        wrapped = tracer.capture_lambda_handler(handler, capture_response=False)
        wrapped = metrics.log_metrics(wrapped)
        if correlation_id_path:
            return logger.inject_lambda_context(wrapped, correlation_id_path=correlation_id_path)
        return logger.inject_lambda_context(wrapped)

    return decorate
