"""POSTs one webhook attempt to an endpoint: `HttpSender`, the dispatcher's default `Sender` (docs/webhooks.md).

Tests and benchmarks pass their own `Sender` to `dispatch.dispatch_due_messages`.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HttpResult:
    """One POST's outcome: the answer's status (None without one), how long it took, the transport error if
    any, and the start of the answer's body."""

    status: int | None
    duration_ms: int
    error: str | None = None
    response: str = ""


Sender = Callable[[str, bytes, dict[str, str], float], HttpResult]
"""(url, body, headers, timeout in seconds) → the outcome of one POST."""


class HttpSender:
    """POSTs over one connection per attempt (as Lago's HTTP client does), never following redirects nor
    retrying (retries are ours), within **one deadline for the whole attempt**: connecting, the TLS handshake,
    sending, and reading the status, headers and the start of the body. Socket timeouts alone bound each read,
    so a receiver trickling a byte a second could hold an attempt for hours; here a watchdog shuts the socket
    down at the deadline wherever the attempt is blocked. (Name resolution is the resolver's, not bounded here.)
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls or ssl.create_default_context()

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpResult:
        started = time.monotonic()
        parts = urlsplit(url)
        host = parts.hostname or ""  # validated URLs always have one
        connection: http.client.HTTPConnection
        if parts.scheme.lower() == "https":
            connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=self._tls)
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
        expired = threading.Event()

        def abort() -> None:
            expired.set()
            sock = connection.sock  # the plain socket while TLS shakes hands, then the TLS one
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # wakes up the attempt's blocked call

        watchdog = threading.Timer(timeout, abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.connect()
            if expired.is_set():
                raise TimeoutError
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", target, body=body, headers={**headers, "Connection": "close"})
            response = connection.getresponse()
            start_of_body = response.read(300)
            if expired.is_set():
                raise TimeoutError
            text = start_of_body.decode("utf-8", "replace")
            return HttpResult(response.status, elapsed_ms(started), response=text)
        except Exception as exc:  # any transport failure is a failed attempt, never a crash
            if expired.is_set() or isinstance(exc, TimeoutError):
                error = f"deadline exceeded ({timeout:g} s for connect, request and answer)"
            else:
                error = f"{type(exc).__name__}: {exc}"[:300]
            return HttpResult(None, elapsed_ms(started), error=error)
        finally:
            watchdog.cancel()
            connection.close()


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a `time.monotonic()` reading)."""
    return int((time.monotonic() - started) * 1000)
