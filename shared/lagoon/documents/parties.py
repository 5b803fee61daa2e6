"""The parties of an invoice as its "From" and "Bill to" blocks print them: names, address and
identification lines, from an `OrganizationObject` or a `CustomerObject`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lagoon.documents.formatting import plain_text
from lagoon.documents.locales import Locale


def party_name(party: Mapping[str, Any]) -> str:
    """Legal name first (what an accountant needs), then the display name."""
    for key in ("legal_name", "name"):
        if plain_text(party.get(key)):
            return plain_text(party.get(key))
    names = (plain_text(party.get(key)) for key in ("firstname", "lastname"))
    full_name = " ".join(name for name in names if name)
    return full_name or plain_text(party.get("external_id"))


def party_lines(party: Mapping[str, Any], locale: Locale) -> list[str]:
    """Address, email and identification lines of an organization or customer; absent fields are skipped."""
    lines = []
    legal_name, name = plain_text(party.get("legal_name")), plain_text(party.get("name"))
    if legal_name and name and name != legal_name:
        lines.append(name)
    lines += [plain_text(party.get("address_line1")), plain_text(party.get("address_line2"))]
    city = (plain_text(party.get("zipcode")), plain_text(party.get("city")))
    lines.append(" ".join(part for part in city if part))
    region = (plain_text(party.get("state")), plain_text(party.get("country")))
    lines.append(", ".join(part for part in region if part))
    lines.append(plain_text(party.get("email")))
    if plain_text(party.get("tax_identification_number")):
        number = plain_text(party["tax_identification_number"])
        lines.append(locale.label("tax_identification_number", number=number))
    if plain_text(party.get("legal_number")):
        lines.append(locale.label("legal_number", number=plain_text(party["legal_number"])))
    return [line for line in lines if line]


def displayed_metadata(customer: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, value) of the customer's metadata marked `display_in_invoice`, oldest first (Lago's v4 template:
    `customer.metadata.displayable.order(created_at: :asc)`)."""
    shown = [item for item in customer.get("metadata") or [] if item.get("display_in_invoice") is True]
    shown.sort(key=lambda item: str(item.get("created_at") or ""))
    return [(plain_text(item.get("key")), plain_text(item.get("value"))) for item in shown]
