"""Races fixtures: the events stream (pay-in-advance fees come from the aggregator)."""

from tests.integration.ingestion.conftest import stream  # noqa: F401  (the fixture)
