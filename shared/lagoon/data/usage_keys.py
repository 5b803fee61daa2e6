"""Keys of the usage tables (EventsTable, AggregatesTable): every partition and sort key the aggregator,
usage, invoicing and the events routes read or write is built here (docs/ingestion.md "Items")."""

from __future__ import annotations

from datetime import datetime

from lagoon.domain.times import iso

CLOSED_PREFIX = "closed#"
DEFAULT_FILTER = "-"
"""Filter id of the events of a charge that match none of its filters (the charge's default price)."""


def period_key(moment: datetime) -> str:
    """How the aggregator names a charges period in its sort keys (its start, UTC, seconds)."""
    return iso(moment)


def event_pk(organization_id: str, transaction_id: str) -> str:
    return f"ev#{organization_id}#{transaction_id}"


def page_pk(organization_id: str, day: str) -> str:
    return f"pg#{organization_id}#{day}"


def days_pk(organization_id: str) -> str:
    return f"days#{organization_id}"


def errors_pk(hour: str) -> str:
    return f"err#{hour}"


def orphans_pk(organization_id: str, external_subscription_id: str) -> str:
    return f"orph#{organization_id}#{external_subscription_id}"


def aggregate_pk(organization_id: str, subscription_id: str) -> str:
    return f"{organization_id}#{subscription_id}"


def closed_sk(period_from: str) -> str:
    return f"{CLOSED_PREFIX}{period_from}"


MARKER_DRAFT = "draft"
"""`ms` of a `closed#` item written for a draft invoice: its period still counts events, and each batch that
brings some flags the draft for the billing run to refresh. A marker without `ms` closes the period."""
REFRESH_PK = "drafts_to_refresh"
"""Partition of the draft invoices to refresh (sk `<org>#<invoice lago_id>`, `at` = who flagged it last)."""


def refresh_sk(organization_id: str, invoice_id: str) -> str:
    return f"{organization_id}#{invoice_id}"
