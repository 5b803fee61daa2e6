"""Customer metadata on the invoice PDF: the items with `display_in_invoice` are printed as "key value" rows
beside the invoice's facts, oldest first (Lago's v4 template: `customer.metadata.displayable.order(created_at:
:asc)` in the second invoice-information column); the others never appear."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from lagoon.documents import render_invoice_pdf
from pypdf import PdfReader

from tests.contract import assert_matches_schema
from tests.unit.documents.pdf_text import pdf_text


def _metadata(lago_id: str, key: str, value: str, display: bool, created_at: str) -> dict[str, Any]:
    return {
        "lago_id": f"1a900000-0000-4000-8000-0000000003{lago_id}",
        "key": key,
        "value": value,
        "display_in_invoice": display,
        "created_at": created_at,
    }


def _positions(example: dict[str, Any], locale: str | None = None) -> dict[str, tuple[float, float]]:
    """Each text drawn on the first page → its (x, y) in points from the bottom left, as pypdf reads them."""
    document = render_invoice_pdf(example["invoice"], example["organization"], example["customer"], locale)
    found: dict[str, tuple[float, float]] = {}

    def visit(text: str, _cm: Any, matrix: Any, _font: Any, _size: Any) -> None:
        if text.strip():
            found.setdefault(text.strip(), (round(matrix[4], 1), round(matrix[5], 1)))

    PdfReader(BytesIO(document)).pages[0].extract_text(visitor_text=visit)
    return found


def test_displayable_customer_metadata_is_printed_beside_the_invoice_facts(example: dict[str, Any]) -> None:
    # Given a customer with two metadata to show on invoices (the purchase order added last) and a private one
    example["customer"]["metadata"] = [
        _metadata("01", "Purchase order", "PO-2026-117", True, "2026-10-20T08:00:00Z"),
        _metadata("02", "Risk score", "Tier Q7", False, "2026-09-01T08:00:00Z"),
        _metadata("03", "Cost center", "CC 4410 / Łódź", True, "2026-09-15T08:00:00Z"),
    ]
    assert_matches_schema("CustomerObject", example["customer"])

    at = _positions(example)

    # Then each shown item is a "key value" row in a column beside the invoice's facts, oldest first
    assert at["Cost center"][1] == at["CC 4410 / Łódź"][1] == at["Invoice number"][1]
    assert at["Purchase order"][1] == at["PO-2026-117"][1] == at["Issue date"][1]
    assert at["Invoice number"][0] < 300 < at["Cost center"][0] < at["CC 4410 / Łódź"][0]
    # And the metadata not meant for invoices is nowhere in the document
    text = pdf_text(render_invoice_pdf(example["invoice"], example["organization"], example["customer"]))
    assert "Risk score" not in text and "Tier Q7" not in text
    assert "Purchase order PO-2026-117" in text.splitlines()


def test_metadata_rows_do_not_depend_on_the_language_and_may_outnumber_the_facts(
    example: dict[str, Any],
) -> None:
    example["customer"]["metadata"] = [
        _metadata(f"{index:02d}", f"Key {index}", f"Value {index}", True, f"2026-10-0{index}T00:00:00Z")
        for index in range(1, 7)
    ]
    at = _positions(example, "de")
    # Four facts, six metadata rows: the last two go on below the facts, and the parties start below them
    assert at["Key 4"][1] == at["Fälligkeitsdatum"][1]
    assert at["Key 6"][1] < at["Key 5"][1] < at["Fälligkeitsdatum"][1]
    assert at["VON"][1] < at["Key 6"][1] - 10


def test_a_customer_without_displayable_metadata_changes_nothing(example: dict[str, Any]) -> None:
    plain = render_invoice_pdf(example["invoice"], example["organization"], example["customer"])
    example["customer"]["metadata"] = [
        _metadata("01", "Risk score", "Tier Q7", False, "2026-09-01T08:00:00Z")
    ]
    assert render_invoice_pdf(example["invoice"], example["organization"], example["customer"]) == plain
