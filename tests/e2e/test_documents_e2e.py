"""Documents end to end over HTTP on the local stack: a one-off invoice (finalized at once) is downloaded
through its `file_url` — a SigV4 presigned URL the stack's moto serves — and the bytes are its PDF."""

from __future__ import annotations

import io
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from pypdf import PdfReader


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_one_off_invoice_pdf_downloaded_through_its_url(local_stack):
    session, url = local_stack.session, local_stack.url
    suffix = uuid.uuid4().hex[:8]
    # Given a taxed add-on and a customer (unique codes: the session stack is shared)
    _ok(
        session.post(
            url("/api/v1/taxes"), json={"tax": {"name": "VAT", "code": f"vat_{suffix}", "rate": "20"}}
        )
    )
    add_on = {
        "name": "Setup fee",
        "code": f"setup_{suffix}",
        "amount_cents": 50000,
        "amount_currency": "EUR",
        "tax_codes": [f"vat_{suffix}"],
    }
    _ok(session.post(url("/api/v1/add_ons"), json={"add_on": add_on}))
    customer = {"external_id": f"cus_{suffix}", "name": "Straße & Żółw SA", "currency": "EUR"}
    _ok(session.post(url("/api/v1/customers"), json={"customer": customer}))

    # When a one-off invoice is created and downloaded
    body = {
        "external_customer_id": f"cus_{suffix}",
        "fees": [{"add_on_code": f"setup_{suffix}", "units": "2"}],
    }
    invoice = _ok(session.post(url("/api/v1/invoices"), json={"invoice": body}))["invoice"]
    assert invoice["status"] == "finalized" and invoice["total_amount_cents"] == 120000
    downloaded = _ok(session.post(url(f"/api/v1/invoices/{invoice['lago_id']}/download")))["invoice"]

    # Then its file_url is a SigV4 presigned URL on the stack's local S3, which serves the PDF
    file_url = downloaded["file_url"]
    assert parse_qs(urlparse(file_url).query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert file_url.startswith(local_stack.health["aws_endpoint_url"])
    answer = requests.get(file_url, timeout=30)  # no API key: the signature is the credential
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    assert invoice["number"] in text
    assert "Straße & Żółw SA" in text and "€1,200.00" in text

    # And the fee is listed by the fees API
    fees = _ok(session.get(url("/api/v1/fees"), params={"external_customer_id": f"cus_{suffix}"}))["fees"]
    assert [f["amount_cents"] for f in fees] == [100000]
