"""Add-ons: create, read, update, delete. Invoicing reads them with `get_add_on`."""

from __future__ import annotations

import uuid

from lagoon.data import catalog, entities
from lagoon.data.catalog import ADD_ON
from lagoon.domain.add_ons import AddOn, AddOnCreateInput, AddOnUpdateInput
from lagoon.services.catalog import taxes
from lagoon.services.contention import retried_on_conflict

_ADD_ONS = catalog.ADD_ONS
get_add_on = _ADD_ONS.get
list_add_ons = _ADD_ONS.live


@retried_on_conflict("add-on")
def create_add_on(organization_id: str, data: AddOnCreateInput) -> AddOn:
    """`POST /add_ons`."""
    catalog.raise_field_errors({}, organization_id, ADD_ON, data.code)
    taxes.check_tax_codes(organization_id, data.tax_codes or [])
    now = entities.now_iso()
    add_on = AddOn(
        lago_id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=data.name,
        code=data.code,
        amount_cents=data.amount_cents,
        amount_currency=data.amount_currency,
        invoice_display_name=data.invoice_display_name,
        description=data.description,
        tax_codes=list(dict.fromkeys(data.tax_codes or [])),
        created_at=now,
        updated_at=now,
    )
    writes = entities.Writes()
    catalog.put_new(writes, organization_id, ADD_ON, add_on)
    catalog.claim_code(writes, organization_id, ADD_ON, add_on.code, add_on.lago_id)
    writes.commit()
    return add_on


@retried_on_conflict("add-on")
def update_add_on(organization_id: str, code: str, data: AddOnUpdateInput) -> AddOn:
    """`PUT /add_ons/{code}`: the fields sent change (Lago AddOns::UpdateService)."""
    current = get_add_on(organization_id, code)
    sent = data.model_dump(exclude_unset=True)
    changes = {
        k: sent[k] for k in ("name", "code", "amount_cents", "amount_currency") if sent.get(k) is not None
    }
    for key in ("invoice_display_name", "description"):
        if key in sent:
            changes[key] = sent[key]
    if data.tax_codes is not None:
        taxes.check_tax_codes(organization_id, data.tax_codes)
        changes["tax_codes"] = list(dict.fromkeys(data.tax_codes))
    add_on = current.model_copy(update={**changes, "updated_at": entities.now_iso()})
    writes = entities.Writes()
    add_on = catalog.put_changed(writes, organization_id, ADD_ON, add_on)
    catalog.change_code(writes, organization_id, ADD_ON, current.code, add_on.code, add_on.lago_id)
    writes.commit()
    return add_on


@retried_on_conflict("add-on")
def delete_add_on(organization_id: str, code: str) -> AddOn:
    """`DELETE /add_ons/{code}`: discarded (fees keep resolving it by id); the code is free again."""
    add_on = get_add_on(organization_id, code)
    now = entities.now_iso()
    deleted = add_on.model_copy(update={"deleted_at": now, "updated_at": now})
    writes = entities.Writes()
    deleted = catalog.put_changed(writes, organization_id, ADD_ON, deleted)
    catalog.release_code(writes, organization_id, ADD_ON, add_on.code)
    writes.commit()
    return deleted
