"""Customer documents: invoice PDFs rendered from contract-shaped objects (pure, deterministic).

`render_invoice_pdf(invoice, organization, customer, locale=None) -> bytes` takes an `InvoiceObjectExtended`,
an `OrganizationObject` and a `CustomerObject` exactly as the API renders them; see docs/documents.md.
"""

from lagoon.documents.invoice_pdf import render_invoice_pdf
from lagoon.documents.locales import LOCALES, document_locale

__all__ = ["LOCALES", "document_locale", "render_invoice_pdf"]
