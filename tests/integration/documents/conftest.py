"""Documents fixtures: a catalog for one-off invoices (taxes, add-ons, a customer), finalized invoices, the
stored PDF behind a `file_url`, and webhook envelopes as the dispatcher sends them."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tests.conftest import ApiClient
from tests.integration.invoicing.conftest import (  # noqa: F401  (fixtures and builders shared with invoicing)
    at,
    create_plan,
    invoice,
    invoices_of,
    outbox,
    run_billing,
    run_documents,
    subscribe_at,
)


def ok(response: Any) -> Any:
    assert response.status == 200, response.body
    return response.json


def create_tax(api: ApiClient, code: str, rate: str, **fields: Any) -> dict[str, Any]:
    body = {"name": code.upper(), "code": code, "rate": rate, **fields}
    return ok(api.post("/taxes", {"tax": body}))["tax"]  # type: ignore[no-any-return]


def create_add_on(api: ApiClient, code: str, amount_cents: int, **fields: Any) -> dict[str, Any]:
    body = {
        "name": code.title(),
        "code": code,
        "amount_cents": amount_cents,
        "amount_currency": "EUR",
        **fields,
    }
    return ok(api.post("/add_ons", {"add_on": body}))["add_on"]  # type: ignore[no-any-return]


def create_customer(api: ApiClient, external_id: str = "cus_1", **fields: Any) -> dict[str, Any]:
    body = {"external_id": external_id, "name": "Zażółć GmbH", "currency": "EUR", **fields}
    return ok(api.post("/customers", {"customer": body}))["customer"]  # type: ignore[no-any-return]


def one_off(api: ApiClient, fees: list[dict[str, Any]], customer: str = "cus_1", **fields: Any) -> Any:
    return api.post("/invoices", {"invoice": {"external_customer_id": customer, "fees": fees, **fields}})


def envelope(message: dict[str, Any]) -> dict[str, Any]:
    """The webhook body the dispatcher sends for an outbox message."""
    payload = message["payload"]
    return {
        "webhook_type": message["webhook_type"],
        "object_type": "invoice",
        "organization_id": message["organization_id"],
        "invoice": payload,
    }


def stored_object(file_url: str) -> bytes:
    """The object a presigned `file_url` names (moto in-process serves no HTTP: read it through S3)."""
    from lagoon.data import documents_store

    parsed = urlparse(file_url)
    query = parse_qs(parsed.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"], file_url  # SigV4
    assert int(query["X-Amz-Expires"][0]) == 3600
    bucket = documents_store.bucket()
    path = unquote(parsed.path).lstrip("/")
    if parsed.hostname == f"{bucket}.s3.amazonaws.com":  # AWS: virtual-hosted style
        key = path
    else:  # a custom endpoint (the local stack's moto): path style
        named, key = path.split("/", 1)
        assert named == bucket
    return documents_store.read(key)


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    assert content.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def finalized(api: ApiClient, org: Any, gateway: Any) -> dict[str, Any]:
    """A finalized subscription invoice of January 2024 (no grace period): $100.00."""
    create_customer(api, currency="USD")
    create_plan(api, "startup")
    subscribe_at(org.id, "2024-01-01T00:00:00Z", subscription_at=at("2024-01-01T00:00:00Z"))
    run_billing(gateway, "2024-02-01T00:00:00Z")
    (listed,) = invoices_of(api)
    return invoice(api, listed["lago_id"])
