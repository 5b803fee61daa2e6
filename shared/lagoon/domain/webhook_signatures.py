"""Webhook signatures, as Lago computes them (docs: webhooks "Format & Signature"). Pure: keys are passed in.

- `jwt`: RS256 JWT whose claims are `{"data": "<the JSON body as a string>", "iss": "<API base URL>/"}`.
- `hmac`: base64 (standard alphabet, padded) of HMAC-SHA256 over the exact body bytes, keyed by the
  organization's `hmac_key` (its UTF-8 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_KEY_BITS = 2048


@dataclass(frozen=True)
class SigningKeys:
    """The deployment's RSA key pair. The private key never appears in a repr, a log line or a response."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    public_key_pem: bytes

    @classmethod
    def from_private_pem(cls, pem: str) -> SigningKeys:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the webhook signing key is not an RSA key")
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private_key=key, public_key_pem=public_pem)

    @property
    def public_key_base64(self) -> str:
        """What `GET /webhooks/public_key` answers: base64 of the PEM (Lago's format)."""
        return base64.b64encode(self.public_key_pem).decode()


def generate_private_pem() -> str:
    """A new RSA private key, PKCS#8 PEM (unencrypted: it is stored in a secret store, never in code or logs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def envelope_body(
    webhook_type: str, object_type: str, organization_id: str, payload: dict[str, Any] | Any
) -> bytes:
    """The exact bytes POSTed: `{"webhook_type", "object_type", "organization_id", "<object_type>": {...}}`."""
    envelope = {
        "webhook_type": webhook_type,
        "object_type": object_type,
        "organization_id": organization_id,
        object_type: payload,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def jwt_issuer(api_base_url: str) -> str:
    """The JWT `iss`: the API base URL with exactly one trailing slash, so it is the same string on AWS (the
    stage URL, published as the stack's `ApiUrl` output, ends with one) and on the local stack (whose server URL
    does not), and receivers pass that very value as `issuer=` (README "Verifying webhook signatures")."""
    return api_base_url.strip().rstrip("/") + "/"


def jwt_signature(body: bytes, keys: SigningKeys, issuer: str) -> str:
    return jwt.encode({"data": body.decode(), "iss": issuer}, keys.private_key, algorithm="RS256")


def hmac_signature(body: bytes, hmac_key: str) -> str:
    return base64.b64encode(hmac.new(hmac_key.encode(), body, hashlib.sha256).digest()).decode()
