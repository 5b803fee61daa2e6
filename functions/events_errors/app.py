"""Hourly: one `events.errors` webhook per organization for the invalid events of the previous hour."""

from typing import Any

from lagoon.observability import lambda_entrypoint
from lagoon.services.scheduling import scheduled_time
from lagoon.services.usage.events_errors import report_events_errors


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"organizations": report_events_errors(scheduled_time(event))}
