"""Organizations and their API keys (stored hashed, DECISIONS.md) and HMAC keys."""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Any

from lagoon import errors
from lagoon.data import catalog, entities
from lagoon.data.organizations import (  # re-exported: callers read through this service
    API_KEY,
    GLOBAL as GLOBAL,
    ORGANIZATION,
    get_organization as get_organization,
    hash_api_key as hash_api_key,
    list_organizations as list_organizations,
    organization_for_api_key as organization_for_api_key,
    put_organization,
)
from lagoon.domain.organizations import Organization, OrganizationUpdate
from lagoon.services.catalog import taxes
from lagoon.services.contention import retried_on_conflict
from lagoon.services.webhooks import webhook_endpoints

# Generated API keys: 43 letters and digits (256 bits). No `-` or `_` (base64url's): a key never looks like a
# command-line option (`python -m lagoon.admin revoke-key KEY`), and is selected whole by a double click.
_KEY_ALPHABET = string.ascii_letters + string.digits
_KEY_LENGTH = 43
HINT_CHARACTERS = 4
"""How much of a key its stored record shows (its last characters), to tell keys apart."""


def generate_api_key() -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(_KEY_LENGTH))


def _default_prefix(name: str, lago_id: str) -> str:
    """Lago's default document prefix: the first three letters of the name and the id's last four characters."""
    letters = "".join(ch for ch in name.upper() if ch.isalnum())[:3] or "ORG"
    return f"{letters}-{lago_id.replace('-', '')[-4:].upper()}"


def create_organization(name: str, api_key: str | None = None) -> tuple[Organization, str]:
    """A new organization and its first API key (generated unless given)."""
    lago_id = str(uuid.uuid4())
    organization = Organization(
        lago_id=lago_id,
        name=name,
        created_at=entities.now_iso(),
        hmac_key=secrets.token_hex(32),
        document_number_prefix=_default_prefix(name, lago_id),
    )
    key = api_key or generate_api_key()
    writes = entities.Writes()
    writes.put(GLOBAL, ORGANIZATION, lago_id, organization.model_dump(mode="json"), must_not_exist=True)
    writes.put(GLOBAL, API_KEY, hash_api_key(key), _key_record(lago_id, key), must_not_exist=True)
    try:
        writes.commit()
    except errors.ConflictRetry as exc:
        raise errors.ValidationFailed.field("api_key", "value_already_exist") from exc
    return organization, key


def _key_record(organization_id: str, api_key: str) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "hint": f"…{api_key[-HINT_CHARACTERS:]}" if len(api_key) > 2 * HINT_CHARACTERS else "…",
        "created_at": entities.now_iso(),
        "revoked_at": None,
    }


def add_api_key(organization_id: str, api_key: str | None = None) -> str:
    get_organization(organization_id)
    key = api_key or generate_api_key()
    try:
        entities.Writes().put(
            GLOBAL, API_KEY, hash_api_key(key), _key_record(organization_id, key), must_not_exist=True
        ).commit()
    except errors.ConflictRetry as exc:
        raise errors.ValidationFailed.field("api_key", "value_already_exist") from exc
    return key


def revoke_api_key(api_key: str) -> None:
    digest = hash_api_key(api_key)
    record = entities.get(GLOBAL, API_KEY, digest)
    if record is None:
        raise errors.NotFound("api_key")
    record["revoked_at"] = entities.now_iso()
    entities.Writes().put(GLOBAL, API_KEY, digest, record).commit()


@retried_on_conflict("organization")
def update_organization(organization_id: str, update: OrganizationUpdate) -> Organization:
    """`PUT /organizations`: change the fields sent; `webhook_url` upserts the first webhook endpoint. Applied
    again on the new state when a concurrent change of the organization (a tax applied to it) won."""
    current = get_organization(organization_id)
    changes = update.model_dump(exclude_unset=True)
    # Lago validates these on the organization: an explicit null is refused, not stored (name: presence,
    # days: numericality, finalize_zero_amount_invoice: inclusion in [true, false]).
    refused: dict[str, list[str]] = {
        field: ["value_is_mandatory" if field == "name" else "value_is_invalid"]
        for field in ("name", "net_payment_term", "finalize_zero_amount_invoice", "email_settings")
        if field in changes and changes[field] is None
    }
    billing = changes.get("billing_configuration") or {}
    for field in ("invoice_grace_period", "document_locale"):
        if field in billing and billing[field] is None:
            refused[field] = ["value_is_invalid"]
    if refused:
        raise errors.ValidationFailed(refused)
    if changes.get("billing_configuration", "") is None:
        changes.pop("billing_configuration")  # Lago: a null billing_configuration changes nothing
    if changes.get("tax_codes"):
        taxes.check_tax_codes(organization_id, changes["tax_codes"])
    if "billing_configuration" in changes:
        merged = current.billing_configuration.model_dump()
        merged.update(update.billing_configuration.model_dump(exclude_unset=True))  # type: ignore[union-attr]
        changes["billing_configuration"] = merged
    for nullable_default in ("default_currency", "timezone", "document_numbering", "document_number_prefix"):
        if changes.get(nullable_default, "") is None:
            changes.pop(nullable_default)
    if "tax_codes" in changes:
        changes["tax_codes"] = list(dict.fromkeys(changes["tax_codes"] or []))
    updated = Organization.model_validate({**current.model_dump(), **changes})
    document = updated.model_dump(mode="json")
    if not changes.get("webhook_url"):
        writes = entities.Writes()
        put_organization(writes, organization_id, document)
        writes.commit()
        _timezone_changed(organization_id, current, updated)
        return updated

    # The legacy webhook_url moves the first webhook endpoint, under the endpoints' guard (count, uniqueness).
    def change(existing: list[Any], writes: entities.Writes) -> None:
        put_organization(writes, organization_id, document)
        webhook_endpoints.put_legacy_endpoint(updated, existing, writes, changes["webhook_url"])

    webhook_endpoints.guarded_once(organization_id, change)
    _timezone_changed(organization_id, current, updated)
    return updated


@retried_on_conflict("organization")
def allow_webhook_private_networks(organization_id: str, allowed: bool) -> Organization:
    """An operator's decision (admin CLI, never the API): whether the organization's webhooks may reach private
    networks (lagoon.domain.webhook_addresses). Endpoints already created keep their URLs; every delivery
    checks the addresses again."""
    current = get_organization(organization_id)
    changed = current.model_copy(update={"webhook_private_networks": allowed})
    writes = entities.Writes()
    stored = put_organization(writes, organization_id, changed.model_dump(mode="json"))
    writes.commit()
    return Organization.model_validate(stored)


def _timezone_changed(organization_id: str, before: Organization, after: Organization) -> None:
    if before.timezone != after.timezone:
        catalog.bump_version(organization_id)  # the aggregator caches the timezone
