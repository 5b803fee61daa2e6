"""The deployment's webhook signing keys: created once (race-safe, in the secret store), loaded once per
container, never logged."""

from __future__ import annotations

import threading

from lagoon.config import Settings, get_settings
from lagoon.data import webhook_keys
from lagoon.domain.webhook_signatures import SigningKeys, generate_private_pem

_lock = threading.Lock()
# (settings the keys were loaded for, keys): tests and the local stack swap settings, Lambda never does.
_loaded: list[tuple[Settings, SigningKeys]] = []


def signing_keys() -> SigningKeys:
    """The RSA key pair signing JWT webhooks (loaded from, or first created in, the secret store)."""
    settings = get_settings()
    with _lock:
        if _loaded and _loaded[0][0] is settings:
            return _loaded[0][1]
        keys = SigningKeys.from_private_pem(webhook_keys.load_or_create_private_pem(generate_private_pem))
        _loaded[:] = [(settings, keys)]
        return keys


def public_key_base64() -> str:
    """`GET /webhooks/public_key`: base64 of the public key's PEM."""
    return signing_keys().public_key_base64
