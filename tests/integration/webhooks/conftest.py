"""Webhook fixtures: a real HTTP receiver on 127.0.0.1, and the dispatcher's real handler driven by
EventBridge scheduled events whose `time` the test chooses."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

ISSUER = "https://lagoon.test/"


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def unique_key(self) -> str:
        return self.headers["x-lago-unique-key"]


class _QuietServer(ThreadingHTTPServer):
    allow_reuse_address = True  # restart on the same port after a simulated outage
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


@dataclass
class Receiver:
    """Answers every POST with `status` (or `script(request) -> status`) after `delay` seconds; can go down."""

    port: int = 0
    status: int = 200
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)  # per path
    script: Callable[[ReceivedRequest], int] | None = None
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.requests.append(request)
                    status = receiver.script(request) if receiver.script else receiver.status
                time.sleep(receiver.delays.get(self.path, receiver.delay))
                answer = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]


@pytest.fixture(autouse=True)
def _moto_sparse_index_queries_tolerate_concurrent_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto filters a GSI's items, then sorts them reading their key attributes: an update in another thread
    that removes the item from the sparse index in between (the dispatcher records progress while it reads the
    next page) raises KeyError inside moto. DynamoDB simply no longer returns such an item; neither does this."""
    from moto.dynamodb.models.table import Table

    real = Table.sorted_items

    def sorted_items(self: Any, hash_key_attrs: Any, range_key_attrs: Any, items: Any) -> Any:
        keys = [k for k in (*hash_key_attrs, *range_key_attrs) if k is not None]
        present = [item for item in items if all(k in item.attrs for k in keys)]
        return real(self, hash_key_attrs, range_key_attrs, present)

    monkeypatch.setattr(Table, "sorted_items", sorted_items)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhook_settings(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short timeouts and few attempts so retries are quick to observe; a known JWT issuer."""
    from lagoon.config import reset_settings

    monkeypatch.setenv("API_BASE_URL", ISSUER)
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("WEBHOOK_BACKOFF_BASE_SECONDS", "60")
    monkeypatch.setenv("WEBHOOK_BACKOFF_FACTOR", "4")
    monkeypatch.setenv("WEBHOOK_LEASE_SECONDS", "360")
    reset_settings()


def scheduled_event(at: datetime) -> dict[str, Any]:
    """What EventBridge sends a scheduled function (the dispatcher reads only `time`)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }


@dataclass
class Dispatcher:
    """Invokes the WebhookDispatcherFunction handler of template.yaml."""

    registry: Any
    start: datetime | None = None

    def at(self, offset: timedelta = timedelta(0)) -> dict[str, Any]:
        """Run the schedule at `offset` after the first run (which happens a second after the wall clock, so
        the messages recorded so far are due)."""
        if self.start is None:
            self.start = datetime.now(UTC) + timedelta(seconds=1)
        result = self.registry.invoke("WebhookDispatcherFunction", scheduled_event(self.start + offset))
        return result  # type: ignore[no-any-return]


@pytest.fixture
def dispatcher(template: Any, webhook_settings: None) -> Dispatcher:
    from lagoon.local.gateway import FunctionRegistry

    return Dispatcher(FunctionRegistry(template))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
