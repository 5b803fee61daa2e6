"""The deployment's webhook signing key, kept in Secrets Manager (the `WebhookKeysSecret` of template.yaml).

The template creates the secret with a placeholder; the first function that needs the key generates it and
stores it with a fixed ClientRequestToken. Secrets Manager refuses a second, different value under the same
token (ResourceExistsException), so when two cold starts race, exactly one key wins and both read it back.
If the secret does not exist at all (a deployment without the template resource), it is created by name,
which is race-safe the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from lagoon import errors
from lagoon.data.connection import aws_client, get_settings

# Fixed on purpose: the idempotency token that makes "fill the placeholder once" race-safe. Rotating the key
# means writing a new version under a new token (not automated; see docs/webhooks.md).
KEY_VERSION_TOKEN = "lagoon-webhook-signing-key-version-1"
_READ_BACK_ATTEMPTS = 10


def _read_private_pem(secret_id: str) -> str | None:
    try:
        value = aws_client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise errors.TransientFailure("the webhook signing key could not be read") from exc
    try:
        document = json.loads(value.get("SecretString") or "{}")
    except ValueError:
        return None
    pem = document.get("private_key") if isinstance(document, dict) else None
    return str(pem) if pem else None


def _store_private_pem(secret_id: str, pem: str) -> None:
    """Write the key once; losing the race to another writer is fine (its key is read back)."""
    client = aws_client("secretsmanager")
    secret_string = json.dumps({"private_key": pem})
    try:
        client.put_secret_value(
            SecretId=secret_id, SecretString=secret_string, ClientRequestToken=KEY_VERSION_TOKEN
        )
        return
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "ResourceExistsException":
            return
        if code != "ResourceNotFoundException":
            raise errors.TransientFailure("the webhook signing key could not be stored") from exc
    try:
        client.create_secret(
            Name=secret_id,
            Description="Lagoon: RSA key pair signing JWT webhooks",
            SecretString=secret_string,
            ClientRequestToken=KEY_VERSION_TOKEN,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise errors.TransientFailure("the webhook signing key could not be stored") from exc


def load_or_create_private_pem(generate: Callable[[], str]) -> str:
    """The stored private key (PEM), generating and storing it with `generate` on first use."""
    secret_id = get_settings().webhook_keys_secret
    pem = _read_private_pem(secret_id)
    if pem:
        return pem
    _store_private_pem(secret_id, generate())
    for attempt in range(_READ_BACK_ATTEMPTS):
        pem = _read_private_pem(secret_id)
        if pem:
            return pem
        time.sleep(0.1 * (attempt + 1))  # Secrets Manager reads are eventually consistent
    raise errors.TransientFailure("the webhook signing key is not readable yet")
