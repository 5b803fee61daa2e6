"""Racing requests, deterministically, through the real gateway, authorizer and handlers on moto.

Each request runs in its own thread and holds its first commit until every request has reached its own: all
of them have read and decided on the same state, and all but one lose the race at their commit — what the
code under test must then answer. With `every_commit=True` every commit is held that way, round after round,
until each request has answered: N requests then contend N times, the last one losing N - 1 races in a row
(the worst case of N requests arriving at once).

Outside those moments the requests take turns, one at a time, as Lambda gives each container one invocation
at a time: Powertools keeps the current event in class attributes and the resolver's route context in one dict
per function (and moto is not thread-safe either), so two invocations running at once in one process would
read each other's request. The turn is handed over while a request waits at its commit, with the event and
route context it had put back when it resumes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class _Rendezvous:
    """Commits held until every request still taking part has reached one (called holding the turn)."""

    def __init__(self, turn: threading.Lock, parties: int) -> None:
        self.arrivals = threading.Condition(turn)
        self.taking_part = parties
        self.arrived = 0
        self.round = 0

    def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= self.taking_part:
            self._next_round()
            return
        waiting_for = self.round
        while self.round == waiting_for:
            if not self.arrivals.wait(timeout=30):
                self._next_round()  # never hang a test suite: go on (the assertions will tell)

    def leave(self) -> None:
        self.taking_part -= 1
        if self.arrived and self.arrived >= self.taking_part:
            self._next_round()

    def _next_round(self) -> None:
        self.round += 1
        self.arrived = 0
        self.arrivals.notify_all()


def race(monkeypatch: pytest.MonkeyPatch, *requests: Callable[[], T], every_commit: bool = False) -> list[T]:
    """Run `requests` at once; their answers in the same order."""
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, BaseRouter
    from lagoon.data import entities

    turn = threading.Lock()
    rendezvous = _Rendezvous(turn, len(requests))
    racing = threading.local()
    real_commit = entities.Writes.commit
    real_resolve = ApiGatewayResolver.resolve

    def resolve_remembering_the_app(app: ApiGatewayResolver, event: Any, context: Any) -> Any:
        racing.app = app
        return real_resolve(app, event, context)

    def commit_together(writes: entities.Writes) -> None:
        if racing.taking_part and len(writes):
            app = getattr(racing, "app", None)
            mine = (BaseRouter.current_event, BaseRouter.lambda_context, dict(app.context) if app else {})
            rendezvous.wait()  # everyone has read and decided: now they all commit
            BaseRouter.current_event, BaseRouter.lambda_context, context = mine
            if app is not None:
                app.context.clear()
                app.context.update(context)
            if not every_commit:
                racing.taking_part = False
                rendezvous.leave()
        real_commit(writes)

    def run(request: Callable[[], T]) -> T:
        with turn:
            racing.taking_part = True
            try:
                return request()
            finally:
                if racing.taking_part:  # answered: the others no longer wait for it
                    racing.taking_part = False
                    rendezvous.leave()

    monkeypatch.setattr(entities.Writes, "commit", commit_together)
    monkeypatch.setattr(ApiGatewayResolver, "resolve", resolve_remembering_the_app)
    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            return list(pool.map(run, requests))
    finally:
        monkeypatch.setattr(entities.Writes, "commit", real_commit)
        monkeypatch.setattr(ApiGatewayResolver, "resolve", real_resolve)
