"""Racing requests, deterministically: each request runs in its own thread through the real handlers, and
holds its first commit until every request has reached its own — so all of them decide on the same state,
and all but one lose the race at their commit (what the fix under test must then answer)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def race(monkeypatch: pytest.MonkeyPatch, *requests: Callable[[], T]) -> list[T]:
    """Run `requests` at once; their results in the same order."""
    from lagoon.data import entities

    barrier = threading.Barrier(len(requests))
    racing = threading.local()
    real_commit = entities.Writes.commit

    def commit_together(writes: entities.Writes) -> None:
        if getattr(racing, "first_commit", False) and len(writes):
            racing.first_commit = False
            with contextlib.suppress(threading.BrokenBarrierError):  # one answered without writing
                barrier.wait(timeout=30)  # everyone has read and decided: now they all commit
        real_commit(writes)

    def run(request: Callable[[], T]) -> T:
        racing.first_commit = True
        try:
            return request()
        finally:
            if racing.first_commit:  # it answered without writing: the others must not wait for it
                racing.first_commit = False
                barrier.abort()

    monkeypatch.setattr(entities.Writes, "commit", commit_together)
    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(run, requests))
    finally:
        monkeypatch.setattr(entities.Writes, "commit", real_commit)


def same(request: Callable[..., T], *args: Any, times: int, **kwargs: Any) -> list[Callable[[], T]]:
    """`times` copies of one request."""
    return [lambda: request(*args, **kwargs) for _ in range(times)]
