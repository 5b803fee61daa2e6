"""The aggregator: EventsStream records → running aggregates (lagoon.ingestion.aggregator)."""

from typing import Any

from lagoon.ingestion.kinesis import process_kinesis_event
from lagoon.observability import lambda_entrypoint


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_kinesis_event(event)
