"""Lago's accepted countries, currencies, timezones and document locales (generated from the OpenAPI spec)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path


@cache
def _data() -> dict[str, list[str]]:
    return json.loads((Path(__file__).parent / "reference_data.json").read_text())  # type: ignore[no-any-return]


def countries() -> frozenset[str]:
    return frozenset(_data()["countries"])


def currencies() -> frozenset[str]:
    return frozenset(_data()["currencies"])


def timezones() -> frozenset[str]:
    return frozenset(_data()["timezones"])


def document_locales() -> frozenset[str]:
    return frozenset(_data()["document_locales"])
