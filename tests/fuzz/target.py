"""What the fuzzer talks to: the in-process API Gateway of the integration tests (template.yaml's routes, its
REQUEST authorizer and the real handlers), sent the bytes an HTTP client would send, and the unhandled errors
behind each answer."""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

STATUSES: dict[str, Counter[int]] = defaultdict(Counter)
"""Answers by operation ("POST /customers" → status → count), printed after a deep run (`make fuzz`)."""


@dataclass(frozen=True)
class Failure:
    cause: str
    """The exception's type and the deepest Lagoon frame it went through — not its message, which names the
    input: one cause, whatever value showed it."""
    traceback: str


def failure_of(error: BaseException) -> Failure:
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if "/lagoon/" in frame.filename]
    where = ""
    if frames:
        path = frames[-1].filename[frames[-1].filename.rindex("/lagoon/") + 1 :]
        where = f" at {path}:{frames[-1].lineno} ({frames[-1].name})"
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return Failure(f"{type(error).__qualname__}{where}", text)


class ErrorLog(logging.Handler):
    """The unhandled errors logged while a request was handled (the resolver logs each one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failures: list[Failure] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.failures.append(failure_of(record.exc_info[1]))


@dataclass
class ServerErrors:
    """A deep run's 5xx for one operation: every distinct cause with the first request that showed it (a run
    that stopped at an operation's first 5xx would hide the others behind it)."""

    found: dict[str, tuple[str, str]] = field(default_factory=dict)
    """cause → (the request as curl, the traceback)."""

    def record(self, request: str, failures: list[Failure]) -> None:
        if not failures:
            self.found.setdefault("(no traceback logged)", (request, ""))
        for failure in failures:
            self.found.setdefault(failure.cause, (request, failure.traceback))

    def report(self) -> str:
        return "\n\n".join(
            f"{number}. {cause}\n   {request}\n{trace}"
            for number, (cause, (request, trace)) in enumerate(self.found.items(), 1)
        )


class GatewayTarget:
    """Sends a prepared `requests` request through the in-process gateway as the local HTTP server does
    (lagoon.local.server): the raw path, the query string, the headers and the body bytes."""

    def __init__(self, gateway: Any, api_key: str, stream: Any) -> None:
        self.gateway = gateway
        self.api_key = api_key
        self.stream = stream
        self.restore: Callable[[], None] = lambda: None
        """Puts the organization back as it was before the first case (set by the fixture that seeded it)."""
        self.errors = ErrorLog()
        self.server_errors = ServerErrors()
        invoke = gateway.functions.invoke

        def invoke_and_record(logical_id: str, event: dict[str, Any]) -> Any:
            try:
                return invoke(logical_id, event)
            except Exception as error:  # the gateway answers 502 and keeps no trace: keep it here
                self.errors.failures.append(failure_of(error))
                raise

        gateway.functions.invoke = invoke_and_record

    def send(self, operation: str, prepared: requests.PreparedRequest) -> tuple[Any, float, list[Failure]]:
        """(the gateway's response, seconds, the unhandled errors logged meanwhile)."""
        split = urlsplit(prepared.url)
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        assert prepared.method is not None
        self.errors.failures.clear()
        started = time.perf_counter()
        response = self.gateway.handle(prepared.method, split.path, dict(prepared.headers), split.query, body)
        STATUSES[operation][response.status] += 1
        return response, time.perf_counter() - started, list(self.errors.failures)

    def aggregate(self) -> list[Failure]:
        """Deliver what the events routes put on the stream to the real aggregator: what it could not take.
        An event the API accepted but the aggregator refuses is retried forever and holds its shard back."""
        self.errors.failures.clear()
        try:
            answers = self.stream.drain()
        except Exception:
            return list(self.errors.failures)  # recorded by invoke_and_record
        failed = [item for answer in answers for item in answer.get("batchItemFailures", [])]
        return [Failure("the aggregator reported batch item failures", repr(failed))] if failed else []
