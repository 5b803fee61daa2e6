"""The local HTTP front door: API Gateway (lagoon.local.gateway) behind a keep-alive HTTP/1.1 server.

Always answers JSON. Besides the API's routes (from template.yaml) it serves, locally only (never deployed):
`GET /health`, `POST /_local/tick` `{"time": "<ISO 8601>"}` and `POST /_local/drain` `{"timeout": seconds}`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from lagoon.local.gateway import Gateway, GatewayResponse
from lagoon.local.scheduler import Invocation, parse_time

log = logging.getLogger("lagoon-local.server")

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit: a larger body is a 413 before it is read."""
_MAX_CHUNK_LINE = 1024
_MAX_TRAILER_LINES = 100


class MalformedRequest(Exception):
    """A request whose body cannot be framed (bad Content-Length or chunking): answered, then the connection
    is closed, since where the next request starts is unknown."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Controls:
    """What the local-only routes call."""

    health: Callable[[], dict[str, Any]]
    tick: Callable[[datetime], list[Invocation]]
    drain: Callable[[float], tuple[bool, list[dict[str, Any]]]]


def json_response(status: int, body: Any) -> GatewayResponse:
    return GatewayResponse(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def error_response(status: int, message: str, **extra: Any) -> GatewayResponse:
    return json_response(
        status, {"status": status, "error": HTTPStatus(status).phrase, "message": message, **extra}
    )


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], gateway: Gateway, controls: Controls, access_log: bool = True
    ) -> None:
        super().__init__(address, LocalRequestHandler)
        self.gateway = gateway
        self.controls = controls
        self.access_log = access_log

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- the local-only routes -------------------------------------------------------------------
    def control(self, method: str, path: str, body: bytes) -> GatewayResponse | None:
        if path == "/health":
            if method not in ("GET", "HEAD"):
                return error_response(405, "GET /health")
            return json_response(200, {"status": "ok", **self.controls.health()})
        if not path.startswith("/_local/"):
            return None
        if path not in ("/_local/tick", "/_local/drain"):
            return json_response(404, {"status": 404, "error": "Not Found", "code": "route_not_found"})
        if method != "POST":
            return error_response(405, f"POST {path}")
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return error_response(400, f"invalid JSON body: {exc}")
        if path == "/_local/tick":
            return self._tick(payload)
        return self._drain(payload)

    def _tick(self, payload: dict[str, Any]) -> GatewayResponse:
        try:
            moment = parse_time(payload["time"]) if payload.get("time") else datetime.now(UTC)
        except (TypeError, ValueError) as exc:
            return error_response(400, f"time must be ISO 8601, e.g. 2026-12-01T00:00:00Z ({exc})")
        invocations = self.controls.tick(moment)
        failed = [i for i in invocations if i.error]
        return json_response(
            500 if failed else 200,
            {
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "invocations": [i.as_json() for i in invocations],
                "failed": len(failed),
            },
        )

    def _drain(self, payload: dict[str, Any]) -> GatewayResponse:
        try:
            timeout = float(payload.get("timeout", 120))
        except (TypeError, ValueError):
            return error_response(400, "timeout must be a number of seconds")
        started = time.monotonic()
        done, shards = self.controls.drain(timeout)
        body = {"drained": done, "seconds": round(time.monotonic() - started, 3), "shards": shards}
        if not done:
            return json_response(504, {"status": 504, "error": "Gateway Timeout", **body})
        return json_response(200, body)


class LocalRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # else ~40 ms per keep-alive request (Nagle + delayed ACK)
    server_version = "lagoon-local"
    sys_version = ""
    server: LocalServer

    timeout = 60  # seconds a client may stay silent mid-request or idle between requests (then: closed)

    def _body(self) -> bytes:
        """The body as HTTP/1.1 frames it: `Transfer-Encoding: chunked`, else `Content-Length` (ASCII digits,
        one value), at most `MAX_BODY_BYTES`. Anything else is a `MalformedRequest` (never a 500, and a
        `Content-Length: -1` never waits for the end of the connection)."""
        transfer = (self.headers.get("Transfer-Encoding") or "").strip().lower()
        lengths = set(self.headers.get_all("Content-Length") or [])
        if transfer:
            if transfer != "chunked":
                raise MalformedRequest(400, f"unsupported Transfer-Encoding: {transfer}")
            if lengths:
                raise MalformedRequest(400, "both Transfer-Encoding and Content-Length")
            return self._chunked_body()
        if not lengths:
            return b""
        (text,) = lengths if len(lengths) == 1 else (None,)
        if text is None or not (text := text.strip()).isascii() or not text.isdigit():
            raise MalformedRequest(400, "invalid Content-Length")
        length = int(text)
        if length > MAX_BODY_BYTES:
            raise MalformedRequest(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
        return self._read_exactly(length)

    def _read_exactly(self, size: int) -> bytes:
        data = self.rfile.read(size) if size else b""
        if len(data) < size:
            raise MalformedRequest(400, "the body is shorter than announced")
        return data

    def _chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not size_text or len(size_text) > 16:
                raise MalformedRequest(400, "invalid chunk size")
            try:
                size = int(size_text, 16)
            except ValueError:
                raise MalformedRequest(400, "invalid chunk size") from None
            if size_text.startswith((b"-", b"+", b"0x", b"0X")) or size < 0:
                raise MalformedRequest(400, "invalid chunk size")
            if size == 0:
                for _ in range(_MAX_TRAILER_LINES):
                    if self.rfile.readline(_MAX_CHUNK_LINE + 1) in (b"\r\n", b"\n", b""):
                        return b"".join(chunks)
                raise MalformedRequest(400, "too many trailer lines")
            total += size
            if total > MAX_BODY_BYTES:
                raise MalformedRequest(413, f"the request body is larger than {MAX_BODY_BYTES} bytes")
            chunks.append(self._read_exactly(size))
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise MalformedRequest(400, "a chunk does not end with CRLF")

    def _handle(self) -> None:
        started = time.perf_counter()
        method = self.command.upper()
        split = urlsplit(self.path)
        try:
            response = self._answer(method, split.path, split.query)
        except Exception:
            log.exception("%s %s", method, self.path)
            response = error_response(500, "the local stack failed to handle the request")
        self._send(response, method == "HEAD")
        if self.server.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            sys.stderr.write(
                f'{self.address_string()} "{method} {self.path}" {response.status} {elapsed:.1f}ms\n'
            )

    def _answer(self, method: str, path: str, query: str) -> GatewayResponse:
        try:
            body = self._body()
        except MalformedRequest as exc:
            self.close_connection = True
            return error_response(exc.status, exc.message)
        except TimeoutError:
            self.close_connection = True
            return error_response(408, "the body did not arrive in time")
        response = self.server.control(method, path, body)
        if response is None:
            headers = {name: value for name, value in self.headers.items()}
            response = self.server.gateway.handle(method, path, headers, query, body or None)
        return response

    def _send(self, response: GatewayResponse, head_only: bool = False) -> None:
        body = b"" if head_only else response.body
        lines = [f"HTTP/1.1 {response.status} {_phrase(response.status)}"]
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "connection")
        }
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(response.body))
        if self.close_connection:
            headers["Connection"] = "close"
        lines += [f"{k}: {v}" for k, v in headers.items()]
        # One write for the head and the body: no small-packet stalls.
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get JSON too (the Lago client reports non-JSON errors as a 500)."""
        self.close_connection = True
        self._send(error_response(code, message or HTTPStatus(code).phrase))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
