"""Write contention, decided in one place: a use case that lost a race reads again and decides again.

Every write is one conditional DynamoDB transaction (`lagoon.data.entities.Writes`): a document changes on the
condition that its revision is still the one read, a client key (external_id, code) is claimed on the condition
that nobody holds it, a number is taken on the condition that nobody took it. When a concurrent request commits
first, the commit raises `ConflictRetry`. Its answer is never a 500 nor the loser's stale decision: the use
case runs again from its reads, so it decides on the state the winner left — the object now exists (an upsert
becomes an update, the same subscription is answered), the code is taken (Lago's 422 `value_already_exist`),
the object is gone (404), the next number is free (numbered after the winner's).

Retries are bounded (`ATTEMPTS`, with jittered exponential backoff so that racing requests spread out); a use
case that still loses after them answers 503 `service_unavailable` naming what was contended — transient by
nature, the client may send the request again. Nothing was written by the attempts that lost.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from lagoon import errors
from lagoon.observability import logger

ATTEMPTS = 10
"""Attempts of one request; each lost one means another request committed (progress is always made)."""
_BACKOFF_BASE_SECONDS = 0.01
_BACKOFF_CAP_SECONDS = 0.2

P = ParamSpec("P")
T = TypeVar("T")


def backoff_seconds(lost: int) -> float:
    """How long to wait after the `lost`-th lost attempt: full jitter over an exponential bound (10 ms, 20 ms,
    40 ms… at most 200 ms), so that requests that collided do not collide again in step."""
    return random.uniform(0, min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (lost - 1)))


def run_with_retries(operation: Callable[[], T], what: str, attempts: int = ATTEMPTS) -> T:
    """`operation()` — which reads, decides and commits — run again while a concurrent change wins its commit.

    Raises TransientFailure (503) when it lost `attempts` times in a row."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except errors.ConflictRetry:
            if attempt == attempts:
                break
            time.sleep(backoff_seconds(attempt))
    logger.warning("write contention persisted", extra={"contended": what, "attempts": attempts})
    raise errors.TransientFailure(f"too many concurrent changes of the {what}, retry the request")


def retried_on_conflict(what: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator of a use case that reads, decides and commits once: see `run_with_retries`. The use case
    writes nothing before its commit, so running it again is safe."""

    def decorate(use_case: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(use_case)
        def retried(*args: P.args, **kwargs: P.kwargs) -> T:
            return run_with_retries(lambda: use_case(*args, **kwargs), what)

        return retried

    return decorate
