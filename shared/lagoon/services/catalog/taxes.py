"""Taxes: create, read, update, delete; the organization's taxes; tax codes of other objects.

Objects render their taxes with `lagoon.contract.taxes.render_taxes`.

Lago's behaviour followed here:
- an unknown code in `tax_codes` (organization, customer, plan, charge, commitment, add-on) is a
  404 `tax_not_found` (`*::ApplyTaxesService`: `not_found_failure!(resource: "tax")`);
- `applied_to_organization` adds the tax to (or removes it from) the organization's taxes;
- deleting a tax removes it from every object that applied it, and frees its code (Taxes::DestroyService);
- renaming a tax code keeps every object that applied it attached (Lago links taxes by id).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from lagoon import errors
from lagoon.data import catalog, entities, organizations
from lagoon.data.catalog import TAX, get_taxes
from lagoon.data.customers import CUSTOMER
from lagoon.domain.taxes import Tax, TaxCreateInput, TaxUpdateInput
from lagoon.services.contention import retried_on_conflict

_CHUNK = 25  # documents per transaction when a code change ripples through the catalog


_TAXES = catalog.TAXES
get_tax = _TAXES.get


def check_tax_codes(organization_id: str, codes: Iterable[str]) -> None:
    """Every code must name a tax of the organization (else Lago's 404 `tax_not_found`)."""
    wanted = list(dict.fromkeys(codes))
    if len(get_taxes(organization_id, wanted)) != len(wanted):
        raise errors.NotFound("tax")


list_taxes = _TAXES.live


def _put_organization_tax_codes(
    writes: entities.Writes, organization_id: str, document: dict[str, Any], codes: list[str]
) -> None:
    updated = dict(document, tax_codes=list(dict.fromkeys(codes)))
    organizations.put_organization(writes, organization_id, updated)


@retried_on_conflict("tax")
def create_tax(organization_id: str, data: TaxCreateInput) -> tuple[Tax, bool]:
    """`POST /taxes`. Returns the tax and whether it applies to the organization."""
    missing = {} if data.rate is not None else {"rate": ["value_is_mandatory"]}
    catalog.raise_field_errors(missing, organization_id, TAX, data.code)
    now = entities.now_iso()
    tax = Tax(
        lago_id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=data.name,
        code=data.code,
        rate=data.rate,
        description=data.description,
        created_at=now,
        updated_at=now,
    )
    writes = entities.Writes()
    catalog.put_new(writes, organization_id, TAX, tax)
    catalog.claim_code(writes, organization_id, TAX, tax.code, tax.lago_id)
    if data.applied_to_organization:
        organization = organizations.organization_document(organization_id)
        codes = [*organization.get("tax_codes", []), tax.code]
        _put_organization_tax_codes(writes, organization_id, organization, codes)
    writes.commit()
    return tax, bool(data.applied_to_organization)


@retried_on_conflict("tax")
def update_tax(organization_id: str, code: str, data: TaxUpdateInput) -> tuple[Tax, bool]:
    """`PUT /taxes/{code}`: the fields sent change. Returns the tax and whether it applies to the organization."""
    current = get_tax(organization_id, code)
    sent = data.model_dump(exclude_unset=True)
    changes = {k: sent[k] for k in ("name", "code", "rate") if sent.get(k) is not None}
    if "description" in sent:
        changes["description"] = sent["description"]
    tax = current.model_copy(update={**changes, "updated_at": entities.now_iso()})

    organization = organizations.organization_document(organization_id)
    codes = [tax.code if c == current.code else c for c in organization.get("tax_codes", [])]
    if data.applied_to_organization is True and tax.code not in codes:
        codes.append(tax.code)
    elif data.applied_to_organization is False:
        codes = [c for c in codes if c != tax.code]

    writes = entities.Writes()
    tax = catalog.put_changed(writes, organization_id, TAX, tax)
    catalog.change_code(writes, organization_id, TAX, current.code, tax.code, tax.lago_id)
    if codes != organization.get("tax_codes", []):
        _put_organization_tax_codes(writes, organization_id, organization, codes)
    writes.commit()
    if tax.code != current.code:
        _replace_code_everywhere(organization_id, current.code, tax.code)
    return tax, tax.code in codes


@retried_on_conflict("tax")
def delete_tax(organization_id: str, code: str) -> tuple[Tax, bool]:
    """`DELETE /taxes/{code}`: the tax is removed from every object that applied it."""
    tax = get_tax(organization_id, code)
    organization = organizations.organization_document(organization_id)
    applied = tax.code in organization.get("tax_codes", [])
    writes = entities.Writes()
    writes.delete(organization_id, TAX, tax.lago_id, expected_revision=tax.revision)
    catalog.release_code(writes, organization_id, TAX, tax.code)
    if applied:
        codes = [c for c in organization.get("tax_codes", []) if c != tax.code]
        _put_organization_tax_codes(writes, organization_id, organization, codes)
    writes.commit()
    _replace_code_everywhere(organization_id, tax.code, None)
    return tax, applied


def _replace_code(codes: list[str], old: str, new: str | None) -> list[str]:
    replaced = [new if c == old else c for c in codes]
    return list(dict.fromkeys(c for c in replaced if c is not None))


@retried_on_conflict("tax")
def _replace_code_everywhere(organization_id: str, old: str, new: str | None) -> None:
    """Rename (or remove, when `new` is None) a tax code in the customers, plans and add-ons that use it.

    Written in chunks after the tax itself: an object briefly naming the old code renders without that tax.
    Each object is rewritten on the condition that it did not change since it was read; after a lost race
    the objects still naming the old code are read and rewritten again.
    """
    puts: list[tuple[str, str, dict[str, Any]]] = []
    for document in entities.query(organization_id, CUSTOMER):
        if old in document.get("tax_codes", []):
            document["tax_codes"] = _replace_code(document["tax_codes"], old, new)
            puts.append((CUSTOMER, document["lago_id"], document))
    puts.extend(_plans_with_code_replaced(organization_id, old, new))
    puts.extend(_add_ons_with_code_replaced(organization_id, old, new))
    for start in range(0, len(puts), _CHUNK):
        writes = entities.Writes()
        for kind, key, document in puts[start : start + _CHUNK]:
            writes.put_revised(organization_id, kind, key, document)
        writes.commit()


def _plans_with_code_replaced(
    organization_id: str, old: str, new: str | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """Plan documents rewritten with a tax code renamed (or removed when `new` is None)."""
    changed: list[tuple[str, str, dict[str, Any]]] = []
    for plan in catalog.PLANS.live(organization_id):
        document = plan.model_dump(mode="json")
        before = repr(document)
        document["tax_codes"] = _replace_code(document["tax_codes"], old, new)
        for charge in document["charges"]:
            charge["tax_codes"] = _replace_code(charge["tax_codes"], old, new)
        if document["minimum_commitment"]:
            commitment = document["minimum_commitment"]
            commitment["tax_codes"] = _replace_code(commitment["tax_codes"], old, new)
        if repr(document) != before:
            changed.append((catalog.PLAN, plan.lago_id, document))
    return changed


def _add_ons_with_code_replaced(
    organization_id: str, old: str, new: str | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """Add-on documents rewritten with a tax code renamed (or removed when `new` is None)."""
    changed: list[tuple[str, str, dict[str, Any]]] = []
    for add_on in catalog.ADD_ONS.live(organization_id):
        if old in add_on.tax_codes:
            document = add_on.model_dump(mode="json")
            document["tax_codes"] = _replace_code(add_on.tax_codes, old, new)
            changed.append((catalog.ADD_ON, add_on.lago_id, document))
    return changed
