"""Racing requests, deterministically, through the real gateway, authorizer and handlers on moto.

Each request runs in its own thread and holds its first commit until every request has reached its own: all
of them have read and decided on the same state, and all but one lose the race at their commit — what the
code under test must then answer. Outside that moment the requests take turns, one at a time, as Lambda gives
each container one invocation at a time: Powertools keeps the current event in class attributes and the
resolver's route context in one dict per function (and moto is not thread-safe either), so two invocations
running at once in one process would read each other's request. The turn is handed over while a request waits
at its commit, with the event and route context it had put back when it resumes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def race(monkeypatch: pytest.MonkeyPatch, *requests: Callable[[], T]) -> list[T]:
    """Run `requests` at once; their answers in the same order."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
    from lagoon.data import entities

    turn = threading.Lock()
    barrier = threading.Barrier(len(requests))
    racing = threading.local()
    real_commit = entities.Writes.commit
    real_resolve = ApiGatewayResolver.resolve

    def resolve_remembering_the_app(app: ApiGatewayResolver, event: Any, context: Any) -> Any:
        racing.app = app
        return real_resolve(app, event, context)

    def commit_together(writes: entities.Writes) -> None:
        if getattr(racing, "first_commit", False) and len(writes):
            racing.first_commit = False
            app = getattr(racing, "app", None)
            mine = (BaseRouter.current_event, BaseRouter.lambda_context, dict(app.context) if app else {})
            turn.release()
            with contextlib.suppress(threading.BrokenBarrierError):  # one answered without writing
                barrier.wait(timeout=30)  # everyone has read and decided: now they all commit
            turn.acquire()
            BaseRouter.current_event, BaseRouter.lambda_context, context = mine
            if app is not None:
                app.context.clear()
                app.context.update(context)
        real_commit(writes)

    def run(request: Callable[[], T]) -> T:
        racing.first_commit = True
        with turn:
            try:
                return request()
            finally:
                if racing.first_commit:  # it answered without writing: the others must not wait for it
                    racing.first_commit = False
                    barrier.abort()

    monkeypatch.setattr(entities.Writes, "commit", commit_together)
    monkeypatch.setattr(ApiGatewayResolver, "resolve", resolve_remembering_the_app)
    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(run, requests))
    finally:
        monkeypatch.setattr(entities.Writes, "commit", real_commit)
        monkeypatch.setattr(ApiGatewayResolver, "resolve", real_resolve)
