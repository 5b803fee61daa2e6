"""Usage fixtures: the ingestion builders and stream driver (events go through the real aggregator)."""

from __future__ import annotations

from tests.integration.ingestion.conftest import stream  # noqa: F401  (the fixture)
