"""Every 5 minutes: start, alert, end subscriptions whose time has come ("now" = the schedule's `time`)."""

from typing import Any

from lagoon.observability import lambda_entrypoint
from lagoon.services import billing  # noqa: F401  (registers the invoicing hooks: bill terminations and deletions)
from lagoon.services.scheduling import scheduled_time
from lagoon.services.subscriptions import run_clock


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run_clock(scheduled_time(event))
    return {"applied": len(report.applied), "skipped": len(report.skipped)}
