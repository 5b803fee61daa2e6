"""AddOnObject: an add-on as the API renders it."""

from __future__ import annotations

from typing import Any

from lagoon.contract.taxes import render_taxes
from lagoon.domain.add_ons import AddOn


def render_add_on(add_on: AddOn) -> dict[str, Any]:
    """AddOnObject of the contract."""
    return {
        "lago_id": add_on.lago_id,
        "name": add_on.name,
        "invoice_display_name": add_on.invoice_display_name,
        "code": add_on.code,
        "amount_cents": add_on.amount_cents,
        "amount_currency": add_on.amount_currency,
        "description": add_on.description,
        "created_at": add_on.created_at,
        "taxes": render_taxes(add_on.organization_id, add_on.tax_codes),
    }
