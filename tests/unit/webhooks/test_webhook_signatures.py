"""Webhook signatures and envelope, as Lago computes them (pure, no I/O)."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from lagoon.domain.webhook_signatures import (
    SigningKeys,
    envelope_body,
    generate_private_pem,
    hmac_signature,
    jwt_issuer,
    jwt_signature,
)


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.from_private_pem(generate_private_pem())


def test_hmac_is_base64_of_hmac_sha256_over_the_body_bytes():
    # RFC 4231-style known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
    body = b"The quick brown fox jumps over the lazy dog"
    assert hmac_signature(body, "key") == "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="


def test_jwt_is_rs256_over_the_body_string_and_the_issuer(keys):
    body = envelope_body("customer.created", "customer", "org-1", {"external_id": "é"})
    token = jwt_signature(body, keys, "https://api.example.com/")
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    public = serialization.load_pem_public_key(base64.b64decode(keys.public_key_base64))
    claims = jwt.decode(token, public, algorithms=["RS256"], issuer="https://api.example.com/")  # type: ignore[arg-type]
    assert claims == {"data": body.decode(), "iss": "https://api.example.com/"}


def test_a_tampered_body_or_another_issuer_does_not_verify(keys):
    token = jwt_signature(b'{"a":1}', keys, "https://api.example.com/")
    public = serialization.load_pem_public_key(keys.public_key_pem)
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(token, public, algorithms=["RS256"], issuer="https://evil.example.com/")  # type: ignore[arg-type]
    forged = token.rsplit(".", 1)[0] + "." + jwt_signature(b'{"a":2}', keys, "x").rsplit(".", 1)[1]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, public, algorithms=["RS256"])  # type: ignore[arg-type]


def test_the_envelope_is_compact_json_with_the_object_under_its_type():
    body = envelope_body("customer.updated", "customer", "org-1", {"name": "Zoë", "n": 1})
    assert (
        body
        == '{"webhook_type":"customer.updated","object_type":"customer","organization_id":"org-1","customer":{"name":"Zoë","n":1}}'.encode()
    )
    assert json.loads(body)["customer"] == {"name": "Zoë", "n": 1}


def test_the_private_key_never_shows_in_a_repr(keys):
    text = repr(keys) + str(keys)
    assert "PRIVATE" not in text
    assert "private_key" not in text
    assert keys.public_key_pem.startswith(b"-----BEGIN PUBLIC KEY-----")


def test_a_non_rsa_key_is_refused():
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(ValueError):
        SigningKeys.from_private_pem(pem)


@pytest.mark.parametrize(
    ("api_base_url", "issuer"),
    [
        # the local stack's URL (no slash) and the AWS stage URL (the ApiUrl output, with its slash)
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000/"),
        (
            "https://abc.execute-api.us-east-1.amazonaws.com/dev/",
            "https://abc.execute-api.us-east-1.amazonaws.com/dev/",
        ),
        ("https://billing.example.com//", "https://billing.example.com/"),
        (" https://billing.example.com ", "https://billing.example.com/"),
    ],
)
def test_the_jwt_issuer_is_the_api_base_url_with_one_trailing_slash(api_base_url, issuer):
    assert jwt_issuer(api_base_url) == issuer


def test_the_dispatcher_signs_with_the_url_the_stack_publishes_as_api_url():
    # The receiver's `issuer=` is the ApiUrl output: the dispatcher's API_BASE_URL must be the same expression
    from lagoon.local.template import Template

    template = Template.load()
    dispatcher = template.resources["WebhookDispatcherFunction"]["Properties"]["Environment"]["Variables"]
    api_url = template.document["Outputs"]["ApiUrl"]["Value"]
    assert dispatcher["API_BASE_URL"] == api_url
    assert jwt_issuer(str(template.resolve(api_url))) == str(template.resolve(api_url))
