"""Fees fixtures: the events stream (pay-in-advance fees come from the aggregator) and the invoicing ones."""

from tests.integration.ingestion.conftest import stream  # noqa: F401
