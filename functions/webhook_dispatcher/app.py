"""Scheduled every minute: delivers the webhook messages due at the schedule's time (the event's `time`)."""

from typing import Any

from lagoon.observability import lambda_entrypoint
from lagoon.services.webhooks.dispatch import dispatch_due_messages
from lagoon.services.webhooks.outbox_time import parse_time


@lambda_entrypoint(correlation_id_path="id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = parse_time(event.get("time"))
    report = dispatch_due_messages(now, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    return report.as_dict()
