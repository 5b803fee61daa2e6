"""Customer documents: invoice PDFs rendered from contract-shaped objects (pure, deterministic).

`render_invoice_pdf(invoice, organization, customer, locale=None) -> bytes` takes an `InvoiceObjectExtended`,
an `OrganizationObject` and a `CustomerObject` exactly as the API renders them; see docs/documents.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lagoon.documents.locales import LOCALES, document_locale

__all__ = ["LOCALES", "document_locale", "render_invoice_pdf"]


def render_invoice_pdf(
    invoice: Mapping[str, Any],
    organization: Mapping[str, Any],
    customer: Mapping[str, Any],
    locale: str | None = None,
) -> bytes:
    """The invoice as PDF bytes (`lagoon.documents.invoice_pdf.render_invoice_pdf`)."""
    from lagoon.documents import invoice_pdf  # cold start: fpdf and fontTools load at the first render only

    return invoice_pdf.render_invoice_pdf(invoice, organization, customer, locale)
