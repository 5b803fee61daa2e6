"""README.md "Verifying webhook signatures" is executed as written against real signed deliveries: its code
fetches the public key over HTTP from a running API, and verifies a JWT and an HMAC webhook that the dispatcher
really sent to a receiver on 127.0.0.1 (so the README cannot rot)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Verifying webhook signatures"


def readme_code() -> str:
    """The README section's Python code blocks, in order."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)
    assert len(blocks) >= 2, "the section shows the JWT and the HMAC verification"
    return "\n".join(blocks)


@pytest.fixture
def api_url(gateway: Any) -> Iterator[str]:
    """The API served over HTTP on 127.0.0.1, as the local stack serves it; yields the client's api_url."""
    from lagoon.local.server import Controls, LocalServer

    server = LocalServer(
        ("127.0.0.1", 0),
        gateway,
        Controls(health=dict, tick=lambda moment: [], drain=lambda timeout: (True, [])),
        access_log=False,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.url + "/"
    server.shutdown()
    server.server_close()


def test_the_readme_code_verifies_real_jwt_and_hmac_webhooks(
    api, org, receiver, dispatcher, api_url, monkeypatch
):
    from lagoon.config import reset_settings
    from lagoon.services import organizations

    # Given the dispatcher configured as the local stack configures it (API_BASE_URL without a trailing slash)
    monkeypatch.setenv("API_BASE_URL", api_url.rstrip("/"))
    reset_settings()
    # and a JWT and an HMAC endpoint that both received the same customer.created webhook
    for algo in ("jwt", "hmac"):
        body = {"webhook_endpoint": {"webhook_url": receiver.url(f"/{algo}"), "signature_algo": algo}}
        assert api.post("/webhook_endpoints", body).status == 200
    assert api.post("/customers", {"customer": {"external_id": "readme"}}).status == 200
    assert dispatcher.at()["succeeded_attempts"] == 2
    (jwt_request,) = receiver.received("/jwt")
    (hmac_request,) = receiver.received("/hmac")
    hmac_key = organizations.get_organization(org.id).hmac_key
    # When the README's code runs, as written
    readme: dict[str, Any] = {}
    exec(compile(readme_code(), str(README), "exec"), readme)
    public_key = readme["load_public_key"](api_url, org.api_key)

    def verify(request, body=None, **overrides):
        arguments = {"public_key": public_key, "api_url": api_url, "hmac_key": hmac_key, **overrides}
        return readme["verify_webhook"](
            request.body if body is None else body,
            request.headers["x-lago-signature"],
            request.headers["x-lago-signature-algorithm"],
            **arguments,
        )

    # Then both real deliveries verify
    assert verify(jwt_request) is True
    assert verify(hmac_request) is True
    # and a changed body, another issuer, another key or an unknown algorithm do not
    tampered = jwt_request.body.replace(b'"readme"', b'"forged"')
    assert tampered != jwt_request.body
    assert verify(jwt_request, body=tampered) is False
    assert verify(hmac_request, body=tampered) is False
    assert verify(jwt_request, api_url="https://api.getlago.com/") is False
    assert verify(hmac_request, hmac_key="another key") is False
    assert readme["verify_webhook"](hmac_request.body, "x", "rsa", public_key, api_url, hmac_key) is False
