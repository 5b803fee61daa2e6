"""The deployment's signing key: created once even when cold starts race, kept in Secrets Manager."""

from __future__ import annotations

import json
import threading

import boto3
from lagoon.domain.webhook_signatures import generate_private_pem


def test_racing_cold_starts_agree_on_one_key(aws):
    from lagoon.config import get_settings
    from lagoon.data import webhook_keys

    # Given the secret still holds the template's placeholder, and 4 containers starting at once
    barrier = threading.Barrier(4)
    generated: list[str] = []
    results: list[str] = []

    def generate() -> str:
        pem = generate_private_pem()
        generated.append(pem)
        barrier.wait(timeout=10)  # everyone has read the placeholder and made its own key
        return pem

    def cold_start() -> None:
        results.append(webhook_keys.load_or_create_private_pem(generate))

    threads = [threading.Thread(target=cold_start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then they all use the same key, the one that was stored
    assert len(set(generated)) == 4
    assert len(set(results)) == 1
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=get_settings().webhook_keys_secret)
    assert json.loads(stored["SecretString"])["private_key"] == results[0]


def test_a_missing_secret_is_created_by_name(aws, monkeypatch):
    from lagoon.config import reset_settings
    from lagoon.data import webhook_keys

    monkeypatch.setenv("WEBHOOK_KEYS_SECRET", "lagoon-test-absent-secret")
    reset_settings()
    first = webhook_keys.load_or_create_private_pem(generate_private_pem)
    assert webhook_keys.load_or_create_private_pem(generate_private_pem) == first
