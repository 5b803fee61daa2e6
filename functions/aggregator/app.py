"""The aggregator: EventsStream records → running aggregates (lagoon.ingestion.aggregator); pay-in-advance
charges are billed as their events are folded (lagoon.services.invoicing.in_advance_fees.record_in_advance_fees)."""

from typing import Any

from lagoon.ingestion.aggregator import default_aggregator
from lagoon.ingestion.kinesis import process_kinesis_event
from lagoon.observability import lambda_entrypoint
from lagoon.services.invoicing.in_advance_fees import record_in_advance_fees


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_kinesis_event(event, default_aggregator(in_advance_hooks=[record_in_advance_fees]))
