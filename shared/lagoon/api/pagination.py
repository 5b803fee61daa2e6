"""Lago pagination at the edge: the `page` / `per_page` query parameters and list bodies (rules: domain.paging)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler.openapi.params import Query

from lagoon.domain.paging import MAX_PER_PAGE, Page, paginate

__all__ = ["MAX_PER_PAGE", "Page", "PageParam", "PerPageParam", "list_body", "paginate"]

T = TypeVar("T")

PageParam = Annotated[int, Query(ge=1)]
PerPageParam = Annotated[int, Query(ge=1)]


def list_body(root_key: str, items: Sequence[T], page: Page, render: Any) -> dict[str, Any]:
    """`{root_key: [...rendered page...], "meta": {...}}`."""
    chunk, meta = paginate(items, page)
    return {root_key: [render(item) for item in chunk], "meta": meta}
