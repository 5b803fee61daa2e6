"""The documents package costs a function's cold start nothing of fpdf until it renders a document."""

from __future__ import annotations

from tests.unit.fresh_interpreter import modules_loaded_by


def test_importing_the_documents_package_leaves_fpdf_to_the_first_render() -> None:
    # Given a fresh interpreter (a Lambda container starting), When it imports lagoon.documents, as every
    # function that may store an invoice's PDF does
    loaded = modules_loaded_by("import lagoon.documents")

    # Then neither fpdf nor the fontTools and Pillow it brings are loaded yet
    assert "lagoon.documents" in loaded
    assert not {"fpdf", "fontTools", "PIL"} & loaded


def test_the_first_render_loads_fpdf() -> None:
    # Given a fresh interpreter, When the package renders an invoice
    loaded = modules_loaded_by(
        "import json\n"
        "from lagoon.documents import render_invoice_pdf\n"
        "from tests.unit.documents.conftest import EXAMPLE\n"
        "example = json.loads(EXAMPLE.read_text(encoding='utf-8'))\n"
        "document = render_invoice_pdf(example['invoice'], example['organization'], example['customer'])\n"
        "assert document.startswith(b'%PDF-')"
    )

    # Then fpdf is loaded, by the renderer
    assert {"fpdf", "lagoon.documents.invoice_pdf"} <= loaded
