"""The one Logger, Tracer and Metrics of every Lagoon function, and the decorator stack every handler uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment


class _UntracedSegment(BaseSegment):
    """What a subsegment is where tracing is off: every call does nothing (as X-Ray's disabled recorder)."""

    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class _UntracedProvider(BaseProvider):
    """The Tracer's provider where tracing is off, so the X-Ray SDK is never imported there.

    Powertools' Tracer imports `aws_xray_sdk.core` on construction even when disabled, unless it is given a
    provider; outside Lambda its recorder also builds a botocore client at import (~90-110 ms in all).
    """

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _UntracedSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _UntracedSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


# What X-Ray patches where tracing is on: only what Lagoon calls, AWS (botocore, which PynamoDB uses) and the
# webhook deliveries (http.client). Patching every library X-Ray supports imports each one installed (~75 ms).
TRACED_MODULES = ("botocore", "pynamodb", "httplib")


def _tracer() -> Tracer:
    """X-Ray where Powertools traces (in Lambda, unless POWERTOOLS_TRACE_DISABLED); no X-Ray SDK elsewhere."""
    # Powertools' own rule (its env var, outside Lambda, SAM local), so the Tracer and the provider agree.
    if Tracer._is_tracer_disabled():
        return Tracer(service="lagoon", disabled=True, provider=_UntracedProvider())
    return Tracer(service="lagoon", patch_modules=TRACED_MODULES)


logger = Logger(service="lagoon")
tracer = _tracer()
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
