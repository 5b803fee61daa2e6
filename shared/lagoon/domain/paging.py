"""Lago pagination rules: `page` from 1, `per_page` default and max 100 (DECISIONS.md), the `meta` object."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page:
    number: int = 1
    size: int = MAX_PER_PAGE

    @classmethod
    def of(cls, page: int | None, per_page: int | None) -> Page:
        return cls(number=max(page or 1, 1), size=min(max(per_page or MAX_PER_PAGE, 1), MAX_PER_PAGE))


def paginate(items: Sequence[T], page: Page) -> tuple[list[T], dict[str, Any]]:
    """Slice `items` for `page` and build Lago's meta block."""
    total = len(items)
    total_pages = max((total + page.size - 1) // page.size, 1) if total else 0
    start = (page.number - 1) * page.size
    chunk = list(items[start : start + page.size])
    meta = {
        "current_page": page.number,
        "next_page": page.number + 1 if page.number < total_pages else None,
        "prev_page": page.number - 1 if page.number > 1 else None,
        "total_pages": total_pages,
        "total_count": total,
    }
    return chunk, meta
