"""One delivery attempt over real sockets on 127.0.0.1: a single deadline for connect + headers + body, and
which answers count as a success (exactly 200, 201, 202 and 204)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from lagoon.services.webhooks.http_sender import HttpSender


@pytest.fixture(autouse=True)
def _receivers_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Webhooks may reach loopback here, as on the local stack (never on AWS: test_webhook_addresses)."""
    from lagoon.config import reset_settings
    from lagoon.local.template import LOCAL_PARAMETERS

    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", LOCAL_PARAMETERS["WebhookAllowedNetworks"])
    reset_settings()
    yield
    reset_settings()


class TricklingReceiver:
    """Accepts, reads the request, then answers one byte every `interval` seconds for up to `for_seconds`:
    every single read is quick, the whole answer is not."""

    def __init__(self, head: bytes, trickle: bytes, interval: float = 0.2, for_seconds: float = 8.0) -> None:
        self.head, self.trickle, self.interval, self.for_seconds = head, trickle, interval, for_seconds
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # stopped: the listening socket is closed
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        with client:
            client.recv(65536)
            try:
                client.sendall(self.head)
                until = time.monotonic() + self.for_seconds
                for byte in self.trickle:
                    if self.stopped.is_set() or time.monotonic() > until:
                        break
                    client.sendall(bytes([byte]))
                    time.sleep(self.interval)
                while not self.stopped.is_set() and time.monotonic() < until:
                    time.sleep(0.05)  # then hold the connection, silent
            except OSError:
                pass  # the sender gave up and closed: what is expected

    def stop(self) -> None:
        self.stopped.set()
        self.server.close()


@pytest.fixture
def trickling() -> Iterator[list[TricklingReceiver]]:
    started: list[TricklingReceiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def _post(port: int, timeout: float):
    return HttpSender()(
        f"http://127.0.0.1:{port}/hooks", b'{"a":1}', {"Content-Type": "application/json"}, timeout
    )


@pytest.mark.parametrize(
    ("head", "trickle"),
    [
        # the headers trickle in (a status line, then one header byte at a time)
        (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 200 + b"\r\nContent-Length: 0\r\n\r\n"),
        # the headers are quick, the body trickles
        (b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n", b"b" * 200),
    ],
    ids=["headers", "body"],
)
def test_a_trickling_receiver_cannot_hold_an_attempt_past_its_deadline(trickling, head, trickle):
    # Given a receiver answering one byte every 0.2 s (each read is well within the 1 s deadline)
    receiver = TricklingReceiver(head, trickle)
    trickling.append(receiver)
    # When an attempt with a 1 s deadline posts to it
    started = time.monotonic()
    result = _post(receiver.port, timeout=1.0)
    elapsed = time.monotonic() - started
    # Then the attempt ends at its deadline, as a failure without a status (not after the receiver's 8 s)
    assert 1.0 <= elapsed < 3.0, elapsed
    assert result.status is None
    assert result.error == "deadline exceeded (1 s for connect, request and answer)"


def test_a_receiver_that_never_answers_fails_at_the_deadline(trickling):
    receiver = TricklingReceiver(b"", b"")  # reads the request, then stays silent for 8 s
    trickling.append(receiver)
    started = time.monotonic()
    result = _post(receiver.port, timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 2.5
    assert (result.status, result.error) == (
        None,
        "deadline exceeded (0.5 s for connect, request and answer)",
    )


def test_a_quick_answer_gives_its_status_and_the_start_of_its_body(receiver):
    receiver.status = 503
    result = HttpSender()(receiver.url(), b"{}", {"Content-Type": "application/json"}, 5.0)
    assert (result.status, result.error, result.response) == (503, None, '{"ok":true}')
    assert receiver.received()[0].body == b"{}"


def test_a_closed_port_fails_at_once_with_the_connection_error():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    result = _post(port, timeout=5.0)
    assert result.status is None
    assert result.error is not None and result.error.startswith("ConnectionRefusedError")
    assert result.duration_ms < 2000


SUCCEEDED = {200, 201, 202, 204}
FAILED = {203, 205, 206, 226, 299, 301, 302, 304, 307, 400, 404, 410, 429, 500, 503}


def test_only_200_201_202_and_204_count_as_delivered(api, receiver, dispatcher):
    from lagoon.data.records import OutboxRecord

    # Given one endpoint per status, each answered with that status
    receiver.script = lambda request: int(request.path.rsplit("/", 1)[1])
    endpoint_status = {}
    for status in sorted(SUCCEEDED | FAILED):
        response = api.post(
            "/webhook_endpoints", {"webhook_endpoint": {"webhook_url": receiver.url(f"/s/{status}")}}
        )
        if response.status == 422:  # at most 10 per organization: the rest in a second pass below
            break
        endpoint_status[response.json["webhook_endpoint"]["lago_id"]] = status
    assert len(endpoint_status) == 10
    # When a message is dispatched to all of them
    assert api.post("/customers", {"customer": {"external_id": "c1"}}).status == 200
    dispatcher.at()
    # Then exactly the 2xx that Lago accepts are delivered; the others failed their first attempt
    (record,) = OutboxRecord.scan()
    deliveries = json.loads(record.deliveries)
    outcome = {
        endpoint_status[e]: (d["status"], [(a["outcome"], a["http_status"]) for a in d["attempts"]])
        for e, d in deliveries.items()
    }
    assert outcome == {
        status: ("succeeded", [("succeeded", status)])
        if status in SUCCEEDED
        else ("pending", [("failed", status)])
        for status in endpoint_status.values()
    }
    assert {d["attempts"][0]["error"] for d in deliveries.values() if d["status"] == "pending"} == {
        f"HTTP {status}" for status in endpoint_status.values() if status not in SUCCEEDED
    }


@pytest.mark.parametrize("status", sorted(FAILED))
def test_any_other_status_is_a_failed_attempt(api, receiver, dispatcher, status):
    from lagoon.data.records import OutboxRecord

    receiver.status = status
    api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": receiver.url()}})
    api.post("/customers", {"customer": {"external_id": "c1"}})
    report = dispatcher.at()
    assert (report["succeeded_attempts"], report["failed_attempts"], report["retrying"]) == (0, 1, 1)
    (record,) = OutboxRecord.scan()
    (delivery,) = json.loads(record.deliveries).values()
    assert [(a["outcome"], a["http_status"], a["error"]) for a in delivery["attempts"]] == [
        ("failed", status, f"HTTP {status}")
    ]
    assert receiver.received()[0].path == "/hooks"  # one request: a redirect is not followed
    assert len(receiver.received()) == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (cert file, key file)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def tls_receiver(receiver, certificate):
    """The test receiver, served over TLS with the self-signed certificate."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = receiver._server
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return receiver


def test_https_receivers_get_the_post_over_a_verified_tls_connection(tls_receiver, certificate):
    import ssl

    sender = HttpSender(tls=ssl.create_default_context(cafile=certificate[0]))
    result = sender(f"https://127.0.0.1:{tls_receiver.port}/tls", b'{"a":1}', {"X-Lago-Unique-Key": "k"}, 5.0)
    assert (result.status, result.error) == (200, None)
    (request,) = tls_receiver.received("/tls")
    assert (request.body, request.headers["x-lago-unique-key"]) == (b'{"a":1}', "k")


def test_an_untrusted_certificate_is_a_failed_attempt(tls_receiver):
    result = HttpSender()(f"https://127.0.0.1:{tls_receiver.port}/tls", b"{}", {}, 5.0)
    assert result.status is None
    assert result.error is not None and result.error.startswith("SSLCertVerificationError")
    assert tls_receiver.received() == []


def test_a_stalled_tls_handshake_fails_at_the_deadline(trickling):
    receiver = TricklingReceiver(b"", b"")  # reads the ClientHello, never answers it
    trickling.append(receiver)
    started = time.monotonic()
    result = HttpSender()(f"https://127.0.0.1:{receiver.port}/hooks", b"{}", {}, 0.5)
    assert 0.5 <= time.monotonic() - started < 2.5
    assert (result.status, result.error) == (
        None,
        "deadline exceeded (0.5 s for connect, request and answer)",
    )
