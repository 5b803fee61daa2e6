"""Fixtures for document tests: one realistic, contract-shaped invoice (fixtures/example_invoice.json) with its
organization and customer: 10 fees (subscription, graduated, package, percentage, volume, filtered charges),
two taxes, a coupon, a credit note and prepaid credits."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).parent / "fixtures" / "example_invoice.json"


@cache
def _example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture
def example() -> dict[str, Any]:
    """A fresh deep copy of {"invoice", "organization", "customer"} that a test may change."""
    return copy.deepcopy(_example())
