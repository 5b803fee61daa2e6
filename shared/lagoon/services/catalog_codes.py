"""Catalog objects addressed by a client-chosen `code`, unique per organization among live objects.

Each catalog kind (`billable_metric`, `plan`, `tax`, `add_on`, `coupon`) stores its documents under their
`lago_id`, plus an alias kind (`<kind>_code`: code → lago_id) written with a must-not-exist condition in the
same transaction. Deleting an object deletes its alias, so the code can be reused, as Lago's unique indexes
only cover undeleted rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from lagoon import errors
from lagoon.data import entities

T = TypeVar("T", bound=BaseModel)


def alias_kind(kind: str) -> str:
    return f"{kind}_code"


def find_document(organization_id: str, kind: str, code: str) -> dict[str, Any] | None:
    """The live document of `kind` whose code is `code`, or None."""
    alias = entities.get(organization_id, alias_kind(kind), code)
    if alias is None:
        return None
    return entities.get(organization_id, kind, alias["lago_id"])


def claim_code(writes: entities.Writes, organization_id: str, kind: str, code: str, lago_id: str) -> None:
    """Reserve `code` for `lago_id` in this transaction; the commit fails if the code is taken."""
    writes.put(organization_id, alias_kind(kind), code, {"lago_id": lago_id}, must_not_exist=True)


def release_code(writes: entities.Writes, organization_id: str, kind: str, code: str) -> None:
    writes.delete(organization_id, alias_kind(kind), code)


def commit_claiming_codes(writes: entities.Writes) -> None:
    """Commit; a code claimed concurrently (or already taken) is Lago's 422 `code: value_already_exist`."""
    try:
        writes.commit()
    except errors.ConflictRetry as exc:
        raise errors.ValidationFailed.field("code", "value_already_exist") from exc


def ensure_code_free(organization_id: str, kind: str, code: str) -> None:
    """Fail early (before other checks) when a live object already uses `code`."""
    if entities.get(organization_id, alias_kind(kind), code) is not None:
        raise errors.ValidationFailed.field("code", "value_already_exist")


def change_code(
    writes: entities.Writes, organization_id: str, kind: str, old_code: str, new_code: str, lago_id: str
) -> None:
    """Move the alias of `lago_id` from `old_code` to `new_code` (no-op when unchanged)."""
    if new_code == old_code:
        return
    ensure_code_free(organization_id, kind, new_code)
    release_code(writes, organization_id, kind, old_code)
    claim_code(writes, organization_id, kind, new_code, lago_id)


@dataclass(frozen=True)
class CatalogKind(Generic[T]):
    """The reads every catalog kind shares: by code (live only), by lago_id, and the live list newest first."""

    kind: str
    model: type[T]

    def find(self, organization_id: str, code: str) -> T | None:
        """The live object with this code, or None."""
        document = find_document(organization_id, self.kind, code)
        return self.model.model_validate(document) if document else None

    def get(self, organization_id: str, code: str) -> T:
        """The live object with this code; 404 `<kind>_not_found` otherwise."""
        found = self.find(organization_id, code)
        if found is None:
            raise errors.NotFound(self.kind)
        return found

    def get_by_id(self, organization_id: str, lago_id: str, *, include_deleted: bool = False) -> T:
        """The object by `lago_id`; deleted ones only when asked (e.g. to render old fees)."""
        document = entities.get(organization_id, self.kind, lago_id)
        if document is None or (document.get("deleted_at") and not include_deleted):
            raise errors.NotFound(self.kind)
        return self.model.model_validate(document)

    def live(self, organization_id: str) -> list[T]:
        """Undeleted objects, newest first (Lago's list order)."""
        documents = [d for d in entities.query(organization_id, self.kind) if not d.get("deleted_at")]
        documents.sort(key=lambda d: str(d.get("created_at", "")), reverse=True)
        return [self.model.model_validate(d) for d in documents]
