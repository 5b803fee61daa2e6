"""Catalog codes: unique per organization among live objects, and reported as Lago's model validations report
them — with the object's other field errors (`lagoon.data.catalog.raise_field_errors` in the use cases, and
the routes' refused bodies through `lagoon.api.catalog_codes`)."""

from __future__ import annotations

from lagoon.data.catalog import (
    ADD_ON,
    BILLABLE_METRIC,
    COUPON,
    PLAN,
    TAX,
    taken_code_errors as _taken_code_errors,
)


def taken_code_errors(
    organization_id: str, kind: str, code: str, current_code: str | None = None
) -> dict[str, list[str]]:
    """`{"code": ["value_already_exist"]}` when another live object of `kind` uses `code`, else `{}`; the
    code an object already has (`current_code`, an update) is no conflict."""
    if code == current_code:
        return {}
    return _taken_code_errors(organization_id, kind, code)


__all__ = ["ADD_ON", "BILLABLE_METRIC", "COUPON", "PLAN", "TAX", "taken_code_errors"]
