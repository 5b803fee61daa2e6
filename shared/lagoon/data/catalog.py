"""Catalog storage: objects addressed by a client-chosen `code`, unique per organization among live objects.

Each catalog kind (`billable_metric`, `plan`, `tax`, `add_on`, `coupon`) stores its documents under their
`lago_id`, plus an alias kind (`<kind>_code`: code → lago_id) written with a must-not-exist condition in the
same transaction. Deleting an object deletes its alias, so the code can be reused, as Lago's unique indexes
only cover undeleted rows.

The catalog's version (`catalog_version` / `current`) is what the aggregator caches plans, metrics and the
timezone against: every change to one of them writes a new version after it commits
(lagoon.ingestion.directory reads the versions of a batch's organizations in the BatchGetItem it makes anyway
and drops what it cached for an organization whose version moved). Should the version write be lost (a crash
between the two writes), the cache's TTL still bounds the staleness.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from lagoon import errors
from lagoon.data import entities
from lagoon.domain.add_ons import AddOn
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.coupons import Coupon
from lagoon.domain.plans import Plan
from lagoon.domain.taxes import Tax

T = TypeVar("T", bound=BaseModel)

BILLABLE_METRIC = "billable_metric"
PLAN = "plan"
TAX = "tax"
ADD_ON = "add_on"
COUPON = "coupon"
VERSION_KIND = "catalog_version"
VERSION_KEY = "current"


def bump_version(organization_id: str) -> None:
    """A new catalog version for the organization (after a plan, metric or timezone change committed)."""
    entities.Writes().put(organization_id, VERSION_KIND, VERSION_KEY, {"version": uuid.uuid4().hex}).commit()


def alias_kind(kind: str) -> str:
    return f"{kind}_code"


def find_document(organization_id: str, kind: str, code: str) -> dict[str, Any] | None:
    """The live document of `kind` whose code is `code`, or None."""
    alias = entities.get(organization_id, alias_kind(kind), code)
    if alias is None:
        return None
    return entities.get(organization_id, kind, alias["lago_id"])


def claim_code(writes: entities.Writes, organization_id: str, kind: str, code: str, lago_id: str) -> None:
    """Reserve `code` for `lago_id` in this transaction; the commit fails (ConflictRetry) if the code is taken
    meanwhile — the use case, run again, then finds it taken (`raise_field_errors`: Lago's 422)."""
    writes.put(organization_id, alias_kind(kind), code, {"lago_id": lago_id}, must_not_exist=True)


def release_code(writes: entities.Writes, organization_id: str, kind: str, code: str) -> None:
    writes.delete(organization_id, alias_kind(kind), code)


def put_new(writes: entities.Writes, organization_id: str, kind: str, obj: BaseModel) -> None:
    """A new catalog object (its code claimed with `claim_code` in the same transaction)."""
    document = obj.model_dump(mode="json")
    writes.put(organization_id, kind, document["lago_id"], document, must_not_exist=True)


def put_changed(writes: entities.Writes, organization_id: str, kind: str, obj: T) -> T:
    """A catalog object changed from the one read: conditional on its revision (a concurrent change or deletion
    makes the commit fail, and the use case decides again). Returns it as stored."""
    document = obj.model_dump(mode="json")
    stored = writes.put_revised(organization_id, kind, document["lago_id"], document)
    return type(obj).model_validate(stored)


def taken_code_errors(organization_id: str, kind: str, code: str) -> dict[str, list[str]]:
    """`{"code": ["value_already_exist"]}` when a live object of `kind` uses `code` (Lago's uniqueness
    validation, reported with the object's other field errors), else `{}`."""
    if entities.get(organization_id, alias_kind(kind), code) is not None:
        return {"code": ["value_already_exist"]}
    return {}


def ensure_code_free(organization_id: str, kind: str, code: str) -> None:
    """Fail when a live object already uses `code`."""
    if taken := taken_code_errors(organization_id, kind, code):
        raise errors.ValidationFailed(taken)


def raise_field_errors(
    details: dict[str, list[str]], organization_id: str, kind: str, code: str, current_code: str | None = None
) -> None:
    """Raise `details` with the code's uniqueness error, as Lago's model validations report them together;
    a code the object already has (`current_code`) is no conflict. Nothing raised when all is valid."""
    taken = {} if code == current_code else taken_code_errors(organization_id, kind, code)
    if details or taken:
        raise errors.ValidationFailed({**details, **taken})


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


METRICS = CatalogKind(BILLABLE_METRIC, BillableMetric)
PLANS = CatalogKind(PLAN, Plan)
TAXES = CatalogKind(TAX, Tax)
ADD_ONS = CatalogKind(ADD_ON, AddOn)
COUPONS = CatalogKind(COUPON, Coupon)


def get_billable_metrics_by_ids(organization_id: str, lago_ids: list[str]) -> dict[str, BillableMetric]:
    """Live metrics by `lago_id`; unknown or deleted ids are absent from the result."""
    found = entities.get_many(organization_id, BILLABLE_METRIC, lago_ids)
    return {
        key: BillableMetric.model_validate(doc) for key, doc in found.items() if not doc.get("deleted_at")
    }


def plans_using_metric(organization_id: str, billable_metric_id: str) -> list[Plan]:
    """Live plans with at least one charge on the metric."""
    return [p for p in PLANS.live(organization_id) if p.charges_for_metric(billable_metric_id)]


def get_taxes(organization_id: str, codes: Iterable[str]) -> list[Tax]:
    """The organization's taxes with these codes, in the order asked (unknown codes are left out)."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    aliases = entities.get_many(organization_id, alias_kind(TAX), wanted)
    ids = [aliases[code]["lago_id"] for code in wanted if code in aliases]
    documents = entities.get_many(organization_id, TAX, ids)
    return [Tax.model_validate(documents[i]) for i in ids if i in documents]
