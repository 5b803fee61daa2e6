"""Read back what a rendered PDF says, as a reader (or an accountant's tooling) would extract it."""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader


def page_texts(document: bytes) -> list[str]:
    """The text of each page."""
    return [page.extract_text() for page in PdfReader(BytesIO(document)).pages]


def pdf_text(document: bytes) -> str:
    """The text of every page, pages separated by a newline."""
    return "\n".join(page_texts(document))
