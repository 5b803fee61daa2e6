"""The local HTTP server frames bodies as HTTP/1.1 does, and answers what it cannot frame with a JSON 400 (or
413) and a closed connection: a malformed Content-Length or chunk size was a 500, `Content-Length: -1` read
until the client hung up (forever, on a keep-alive connection)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from lagoon.local.gateway import GatewayResponse
from lagoon.local.server import MAX_BODY_BYTES, Controls, LocalServer


class EchoGateway:
    """Answers with the body it was given, as the real gateway would hand it to a function."""

    def handle(self, method: str, path: str, headers: dict[str, str], query: str, body: bytes | None) -> Any:
        payload = {"method": method, "body": (body or b"").decode("latin-1")}
        return GatewayResponse(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())


@pytest.fixture
def server() -> Iterator[LocalServer]:
    controls = Controls(health=dict, tick=lambda moment: [], drain=lambda timeout: (True, []))
    local = LocalServer(("127.0.0.1", 0), EchoGateway(), controls, access_log=False)  # type: ignore[arg-type]
    thread = threading.Thread(target=local.serve_forever, daemon=True)
    thread.start()
    yield local
    local.shutdown()
    local.server_close()


def _exchange(server: LocalServer, raw: bytes) -> tuple[int, dict[str, Any], bool]:
    """(status, JSON body, whether the server closed the connection after answering) of one raw request."""
    with socket.create_connection(server.server_address[:2], timeout=5) as connection:
        connection.sendall(raw)
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        while len(rest) < length:
            rest += connection.recv(65536)
        connection.settimeout(0.3)  # a kept-alive connection just stays silent
        try:
            closed = connection.recv(1) == b""
        except TimeoutError:
            closed = False
        return int(lines[0].split()[1]), json.loads(rest[:length]), closed


def _request(headers: str, body: bytes = b"") -> bytes:
    return f"POST /api/v1/customers HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ("Content-Length: -1\r\n", b"", "invalid Content-Length"),
        ("Content-Length: abc\r\n", b"{}", "invalid Content-Length"),
        ("Content-Length: 1e3\r\n", b"{}", "invalid Content-Length"),
        ("Content-Length: ²\r\n", b"{}", "invalid Content-Length"),
        ("Content-Length: 2\r\nContent-Length: 3\r\n", b"{}", "invalid Content-Length"),
        (
            "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
            b"2\r\n{}\r\n0\r\n\r\n",
            "both Transfer-Encoding and Content-Length",
        ),
        ("Transfer-Encoding: gzip\r\n", b"", "unsupported Transfer-Encoding: gzip"),
        ("Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n", "invalid chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"-2\r\n{}\r\n0\r\n\r\n", "invalid chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"0x2\r\n{}\r\n0\r\n\r\n", "invalid chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"\r\n", "invalid chunk size"),
        ("Transfer-Encoding: chunked\r\n", b"2\r\n{}XX0\r\n\r\n", "a chunk does not end with CRLF"),
    ],
)
def test_a_body_that_cannot_be_framed_is_a_400_and_the_connection_closes(server, headers, body, message):
    status, answer, closed = _exchange(server, _request(headers, body))
    assert (status, answer) == (400, {"status": 400, "error": "Bad Request", "message": message})
    assert closed


def test_a_body_shorter_than_announced_is_a_400_once_the_client_stops(server):
    with socket.create_connection(server.server_address[:2], timeout=5) as connection:
        connection.sendall(_request("Content-Length: 10\r\n", b"{}"))
        connection.shutdown(socket.SHUT_WR)
        answer = connection.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(
        b'{"status": 400, "error": "Bad Request", "message": "the body is shorter than announced"}'
    )


@pytest.mark.parametrize(
    "headers",
    [f"Content-Length: {MAX_BODY_BYTES + 1}\r\n", f"Content-Length: {'9' * 40}\r\n"],
)
def test_a_body_over_api_gateways_limit_is_a_413_without_reading_it(server, headers):
    status, answer, closed = _exchange(server, _request(headers))
    assert status == 413
    assert answer["message"] == f"the request body is larger than {MAX_BODY_BYTES} bytes"
    assert closed


def test_well_framed_bodies_reach_the_gateway_on_a_kept_alive_connection(server):
    chunked = _request(
        "Transfer-Encoding: chunked\r\n", b'3;ext=1\r\n{"a\r\n4\r\n":1}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    status, answer, closed = _exchange(server, chunked)
    assert (status, answer["body"], closed) == (200, '{"a":1}', False)
    status, answer, closed = _exchange(server, _request("Content-Length: 2\r\n", b"{}"))
    assert (status, answer["body"], closed) == (200, "{}", False)
    status, answer, closed = _exchange(server, _request("Content-Length: 0\r\n"))
    assert (status, answer["body"], closed) == (200, "", False)
