"""Every minute: render the PDF of each newly finalized invoice into the documents bucket
("now" = the schedule's `time`; docs/documents.md)."""

from typing import Any

from lagoon.observability import lambda_entrypoint
from lagoon.services.invoicing.invoice_documents import generate_due_documents
from lagoon.services.scheduling import scheduled_time


@lambda_entrypoint()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rendered, failed = generate_due_documents(scheduled_time(event))
    if failed:
        # Raise so the schedule retries (then the DLQ); the timers of the rendered PDFs are gone already.
        raise RuntimeError(f"{failed} invoice PDF(s) not rendered")
    return {"rendered": rendered}
