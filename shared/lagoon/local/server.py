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

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.perf_counter()
        method = self.command.upper()
        split = urlsplit(self.path)
        try:
            body = self._body()
            response = self.server.control(method, split.path, body)
            if response is None:
                headers = {name: value for name, value in self.headers.items()}
                response = self.server.gateway.handle(method, split.path, headers, split.query, body or None)
        except Exception:
            log.exception("%s %s", method, self.path)
            response = error_response(500, "the local stack failed to handle the request")
        self._send(response, method == "HEAD")
        if self.server.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            sys.stderr.write(
                f'{self.address_string()} "{method} {self.path}" {response.status} {elapsed:.1f}ms\n'
            )

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
