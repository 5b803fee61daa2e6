"""TaxObject: a tax as the API and every object naming taxes (`taxes` lists) render it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lagoon.data import organizations
from lagoon.data.catalog import get_taxes
from lagoon.domain.taxes import Tax


def render_tax(tax: Tax, *, applied_to_organization: bool) -> dict[str, Any]:
    """TaxObject of the contract."""
    return {
        "lago_id": tax.lago_id,
        "name": tax.name,
        "code": tax.code,
        "description": tax.description,
        "rate": float(tax.rate),
        "applied_to_organization": applied_to_organization,
        "created_at": tax.created_at,
    }


def render_taxes(organization_id: str, codes: Iterable[str]) -> list[dict[str, Any]]:
    """TaxObjects of the taxes these codes name (unknown codes are skipped)."""
    taxes = get_taxes(organization_id, codes)
    if not taxes:
        return []
    applied = set(organizations.get_organization(organization_id).tax_codes)
    return [render_tax(t, applied_to_organization=t.code in applied) for t in taxes]
