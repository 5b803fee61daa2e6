"""Values too long for Lago or too large to store: a Lago-style 422 or 413, never a retryable 503, and nothing
written. Lago's own length limits answer `value_is_too_long`; a document DynamoDB cannot hold (400 KB) is a 413."""

from __future__ import annotations

import json

import pytest

from tests.integration.ingestion.conftest import create_plan


def _too_long(field: str) -> dict[str, object]:
    return {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {field: ["value_is_too_long"]},
    }


def _entities() -> int:
    """Stored objects and webhook messages (a customer's sequence counter moves before its write, as it does
    on any failed create: docs/decisions.md "Customers")."""
    from lagoon.data.records import EntityRecord, OutboxRecord

    objects = sum(1 for record in EntityRecord.scan() if not record.pk.endswith("#counter"))
    return objects + sum(1 for _ in OutboxRecord.scan())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "c", "name": "n" * 256}, "name"),
        (
            {"external_id": "c", "metadata": [{"key": "k" * 21, "value": "v", "display_in_invoice": True}]},
            "key",
        ),
        (
            {"external_id": "c", "metadata": [{"key": "k", "value": "v" * 101, "display_in_invoice": True}]},
            "value",
        ),
        ({"external_id": "é" * 513}, "external_id"),
    ],
)
def test_customer_text_follows_lagos_length_limits(api, body, field):
    before = _entities()
    response = api.post("/customers", {"customer": body})
    assert (response.status, response.json) == (422, _too_long(field))
    assert _entities() == before


def test_invoice_footer_and_invoice_metadata_follow_lagos_length_limits(api):
    footer = {"organization": {"billing_configuration": {"invoice_footer": "f" * 601}}}
    assert api.put("/organizations", footer).json == _too_long("invoice_footer")
    kept = {"organization": {"billing_configuration": {"invoice_footer": "f" * 600}}}
    assert (
        api.put("/organizations", kept).json["organization"]["billing_configuration"]["invoice_footer"]
        == "f" * 600
    )
    for metadata, field in (
        ([{"key": "k" * 21, "value": "v"}], "key"),
        ([{"key": "k", "value": "v" * 141}], "value"),
    ):
        response = api.put("/invoices/unknown", {"invoice": {"metadata": metadata}})
        assert (response.status, response.json) == (422, _too_long(field))


def test_a_subscription_external_id_longer_than_a_store_key_is_too_long(api):
    create_plan(api)
    body = {"external_customer_id": "c", "plan_code": "startup", "external_id": "é" * 257}
    assert api.post("/subscriptions", {"subscription": body}).json == _too_long("external_id")
    body = {"external_customer_id": "c" * 1025, "plan_code": "startup", "external_id": "s"}
    assert api.post("/subscriptions", {"subscription": body}).json == _too_long("external_customer_id")
    assert api.get("/customers").json["customers"] == []
    # 512 bytes fit
    body = {"external_customer_id": "c", "plan_code": "startup", "external_id": "é" * 256}
    assert api.post("/subscriptions", {"subscription": body}).status == 200


def _payload_too_large(what: str) -> dict[str, object]:
    return {
        "status": 413,
        "error": "Request Entity Too Large",
        "code": "payload_too_large",
        "error_details": {"message": f"the {what} is larger than the 400 KB Lagoon can store"},
    }


@pytest.mark.parametrize(
    ("path", "body", "what"),
    [
        ("/customers", {"customer": {"external_id": "c", "address_line1": "a" * 500_000}}, "customer"),
        # 150,000 characters of "é" are a 300 KB body but 900 KB once stored as escaped JSON
        ("/customers", {"customer": {"external_id": "c", "legal_name": "é" * 150_000}}, "customer"),
        ("/taxes", {"tax": {"name": "T", "code": "t", "rate": "20", "description": "d" * 500_000}}, "tax"),
        (
            "/add_ons",
            {
                "add_on": {
                    "name": "A",
                    "code": "a",
                    "amount_cents": 1,
                    "amount_currency": "EUR",
                    "description": "d" * 500_000,
                }
            },
            "add on",
        ),
        (
            "/billable_metrics",
            {"billable_metric": {"name": "n" * 500_000, "code": "m", "aggregation_type": "count_agg"}},
            "billable metric",
        ),
    ],
)
def test_a_document_too_large_to_store_is_a_413_not_a_retryable_503(api, path, body, what):
    before = _entities()
    # When a value makes the stored document larger than DynamoDB's 400 KB item (a ValidationException, once 503)
    response = api.post(path, raw_body=json.dumps(body, ensure_ascii=False).encode())
    # Then it is refused as too large, and nothing is written
    assert (response.status, response.json) == (413, _payload_too_large(what))
    assert _entities() == before
