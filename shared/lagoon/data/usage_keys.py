"""Keys of the usage tables (EventsTable, AggregatesTable): every partition and sort key the aggregator,
usage, invoicing and the events routes read or write is built here (docs/ingestion.md "Items")."""

from __future__ import annotations

import hashlib
from datetime import datetime

from lagoon.domain.times import iso, parse_iso

CLOSED_PREFIX = "closed#"
DEFAULT_FILTER = "-"
"""Filter id of the events of a charge that match none of its filters (the charge's default price)."""


def period_key(moment: datetime) -> str:
    """How the aggregator names a charges period in its sort keys (its start, UTC, seconds)."""
    return iso(moment)


def period_moment(key: str) -> datetime:
    """The moment a `period_key` names (UTC)."""
    return parse_iso(key)


def day_key(moment: datetime) -> str:
    """The day of the event pages and day lists (`2024-01-15`; the aggregator passes UTC moments)."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"  # strftime writes year 451 as `451`


def hour_key(moment: datetime) -> str:
    """The hour the error lists are filed under (`2024-01-15T10`; the aggregator passes UTC moments)."""
    return f"{day_key(moment)}T{moment.hour:02d}"


def shard_number(shard_id: str) -> str:
    """`shardId-000000000001` → `1` (kept short: it is part of every event item and of the watermarks)."""
    digits = shard_id.rsplit("-", 1)[-1]
    return digits.lstrip("0") or "0" if digits.isdigit() else shard_id


def stream_position(shard: str, sequence_number: int | str, slot: int | str) -> str:
    """`src` of an event item and the tail of the page, error and orphan sort keys: `<shard>/<sequence>/<slot>`
    (slot = the event's index in its record, or `r` for a record's rejected events)."""
    return f"{shard}/{sequence_number}/{slot}"


def event_pk(organization_id: str, transaction_id: str) -> str:
    return f"ev#{organization_id}#{transaction_id}"


def page_pk(organization_id: str, day: str) -> str:
    return f"pg#{organization_id}#{day}"


def page_sk(external_subscription_id: str, source: str) -> str:
    return f"{page_prefix(external_subscription_id)}{source}"


def page_prefix(external_subscription_id: str) -> str:
    """Sort-key prefix of a subscription's pages (it may also match a subscription id that extends it)."""
    return f"{external_subscription_id}#"


def days_pk(organization_id: str) -> str:
    return f"days#{organization_id}"


def errors_pk(hour: str) -> str:
    return f"err#{hour}"


def errors_sk(organization_id: str, external_subscription_id: str, source: str) -> str:
    return f"{organization_id}#{external_subscription_id}#{source}"


def orphans_pk(organization_id: str, external_subscription_id: str) -> str:
    return f"orph#{organization_id}#{external_subscription_id}"


def aggregate_pk(organization_id: str, subscription_id: str) -> str:
    return f"{organization_id}#{subscription_id}"


GROUP_KEY_MAX_BYTES = 512
"""Longest group kept as is in an aggregate's sort key; a longer one (event property values are text of up
to 64 KiB) is named by its SHA-256 there, so the key stays within DynamoDB's 1,024 bytes. Readers take the
group from the item's `g` attribute, never from the key."""


def aggregate_sk(period_from: str, charge_id: str, filter_id: str, group: str) -> str:
    """`<charges period from>#<charge>#<filter>#<group>` (group "" when the charge groups nothing; a group
    longer than `GROUP_KEY_MAX_BYTES` as `sha256:<hex digest>`)."""
    if len(group.encode()) > GROUP_KEY_MAX_BYTES:
        group = f"sha256:{hashlib.sha256(group.encode()).hexdigest()}"
    return f"{period_from}#{charge_id}#{filter_id}#{group}"


def closed_sk(period_from: str) -> str:
    return f"{CLOSED_PREFIX}{period_from}"


MARKER_DRAFT = "draft"
"""`ms` of a `closed#` item written for a draft invoice: its period still counts events, and each batch that
brings some flags the draft for the billing run to refresh. A marker without `ms` closes the period."""
REFRESH_PK = "drafts_to_refresh"
"""Partition of the draft invoices to refresh (sk `<org>#<invoice lago_id>`, `at` = who flagged it last)."""


def refresh_sk(organization_id: str, invoice_id: str) -> str:
    return f"{organization_id}#{invoice_id}"
