"""Every 5 minutes: start, alert, end subscriptions whose time has come ("now" = the schedule's `time`); what a
timer terminates is billed at once (lagoon.services.lifecycle.run_clock)."""

from typing import Any

from lagoon.observability import lambda_entrypoint
from lagoon.services.lifecycle import run_clock
from lagoon.services.scheduling import scheduled_time


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run_clock(scheduled_time(event))
    return {"applied": len(report.applied), "skipped": len(report.skipped)}
