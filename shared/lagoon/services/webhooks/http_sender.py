"""POSTs one webhook attempt to an endpoint: `HttpSender`, the dispatcher's default `Sender` (docs/webhooks.md).

Tests and benchmarks pass their own `Sender` to `dispatch.dispatch_due_messages`.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

from lagoon.domain.webhook_addresses import Address, AddressPolicy
from lagoon.services.webhooks.receiver_addresses import address_policy


@dataclass(frozen=True)
class HttpResult:
    """One POST's outcome: the answer's status (None without one), how long it took, the transport error if
    any, and the start of the answer's body."""

    status: int | None
    duration_ms: int
    error: str | None = None
    response: str = ""


class Sender(Protocol):
    def __call__(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        *,
        addresses: AddressPolicy | None = None,
    ) -> HttpResult:
        """The outcome of one POST of `body` to `url` within `timeout` seconds, to an address `addresses`
        allows (default: this deployment's, without private networks)."""
        ...


class RefusedAddress(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def vetted_address(parts: SplitResult, addresses: AddressPolicy) -> Address:
    """The address to connect to: the host resolved once, every address it resolves to allowed (a name that
    resolves to a public and a private address is refused: DNS rebinding mixes them)."""
    default_port = 443 if parts.scheme.lower() == "https" else 80
    found = socket.getaddrinfo(parts.hostname or "", parts.port or default_port, type=socket.SOCK_STREAM)
    resolved = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    for address in resolved:
        refusal = addresses.refusal(address)
        if refusal:
            raise RefusedAddress(refusal)
    if not resolved:
        raise RefusedAddress(f"{parts.hostname} has no address")
    return resolved[0]


class HttpSender:
    """POSTs over one connection per attempt (as Lago's HTTP client does), never following redirects nor
    retrying (retries are ours), within **one deadline for the whole attempt**: connecting, the TLS handshake,
    sending, and reading the status, headers and the start of the body. Socket timeouts alone bound each read,
    so a receiver trickling a byte a second could hold an attempt for hours; here a watchdog shuts the socket
    down at the deadline wherever the attempt is blocked. (Name resolution is the resolver's, not bounded here.)

    The host is resolved once and every address it resolves to checked (lagoon.domain.webhook_addresses);
    the connection goes to the checked address — never resolved again, so a DNS answer that changes in
    between (rebinding) cannot lead it elsewhere — while the Host header and TLS (SNI, certificate) keep the
    host name.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls or ssl.create_default_context()

    def __call__(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        *,
        addresses: AddressPolicy | None = None,
    ) -> HttpResult:
        started = time.monotonic()
        parts = urlsplit(url)
        try:
            address = vetted_address(parts, addresses or address_policy(None))
        except (RefusedAddress, OSError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, RefusedAddress) else f"{type(exc).__name__}: {exc}"
            return HttpResult(None, elapsed_ms(started), error=f"address not allowed: {reason}"[:300])
        host = parts.hostname or ""  # validated URLs always have one
        connection: http.client.HTTPConnection
        if parts.scheme.lower() == "https":
            connection = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=self._tls)
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)

        def connect_to_the_vetted_address(
            target: tuple[str, int],
            timeout: float | None = None,
            source_address: tuple[str, int] | None = None,
        ) -> socket.socket:
            return socket.create_connection((str(address), target[1]), timeout, source_address)

        connection._create_connection = connect_to_the_vetted_address  # type: ignore[attr-defined]
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
