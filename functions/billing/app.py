"""Every hour: invoice what is due, refresh the drafts late events changed, finalize drafts whose grace period ended, flag overdue invoices
("now" = the schedule's `time`)."""

from typing import Any

from lagoon.observability import lambda_entrypoint
from lagoon.services.invoicing.run import run_billing
from lagoon.services.scheduling import scheduled_time


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = run_billing(scheduled_time(event))
    if report.failures:
        # Raise so the schedule retries (then the DLQ); the cursors make the retry bill only what is left.
        raise RuntimeError(f"billing run incomplete: {report.failures} failure(s)")
    return {
        "invoices": len(report.invoices),
        "finalized": len(report.finalized),
        "refreshed": len(report.refreshed),
        "overdue": len(report.overdue),
    }
