"""Organization storage: the organization documents and API key records (global partition)."""

from __future__ import annotations

import hashlib
from typing import Any

from lagoon import errors
from lagoon.data import entities
from lagoon.domain.organizations import Organization

GLOBAL = "global"
ORGANIZATION = "organization"
API_KEY = "apikey"


def hash_api_key(api_key: str) -> str:
    """How an API key is stored: its SHA-256 (DECISIONS.md), the key of its record."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def organization_for_api_key(api_key: str) -> str | None:
    """The organization an active key belongs to, or None (the authorizer's only question)."""
    if not api_key:
        return None
    record = entities.get(GLOBAL, API_KEY, hash_api_key(api_key))
    if record is None or record.get("revoked_at"):
        return None
    return str(record["organization_id"])


def organization_document(organization_id: str) -> dict[str, Any]:
    document = entities.get(GLOBAL, ORGANIZATION, organization_id)
    if document is None:
        raise errors.NotFound("organization")
    return document


def get_organization(organization_id: str) -> Organization:
    return Organization.model_validate(organization_document(organization_id))


def list_organizations() -> list[Organization]:
    return [Organization.model_validate(doc) for doc in entities.query(GLOBAL, ORGANIZATION)]


def put_organization(
    writes: entities.Writes, organization_id: str, document: dict[str, Any]
) -> dict[str, Any]:
    """The organization changed from the document read, on the condition that it did not change since (its
    revision). Returns the document as stored."""
    return writes.put_revised(GLOBAL, ORGANIZATION, organization_id, document)
