"""The taken-code check of the catalog routes' refused bodies: Lago validates a plan's, metric's, add-on's,
coupon's or tax's fields and its code's uniqueness together, so a body that fails validation still reports
`code: value_already_exist` when its code is taken (`lagoon.api.resolver.with_refused_body_check`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lagoon.api.resolver import RefusedBodyCheck
from lagoon.domain.validators import CODE_MAX_LENGTH
from lagoon.services.catalog.codes import taken_code_errors


def taken_code_check(root_key: str, kind: str) -> RefusedBodyCheck:
    """The check of a create (`POST`) or update (`PUT /…/{code}`) route whose body's `root_key` object
    carries the `code` of a catalog `kind`. A code that is not a valid one is left to the field errors."""

    def check(organization_id: str, body: Any, path: Mapping[str, str]) -> dict[str, list[str]]:
        sent = body.get(root_key) if isinstance(body, Mapping) else None
        code = sent.get("code") if isinstance(sent, Mapping) else None
        if not isinstance(code, str) or not 0 < len(code) <= CODE_MAX_LENGTH:
            return {}
        return taken_code_errors(organization_id, kind, code, path.get("code"))

    return check
