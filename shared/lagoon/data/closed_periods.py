"""What invoicing tells the aggregator, in the aggregates table (docs/ingestion.md "Items", docs/invoicing.md):

- the period-closed marker of each charges period an invoice bills (pk `<org>#<subscription lago_id>`, sk
  `closed#<period from>`, `inv` the invoice): a finalized invoice's stops late events from counting; a
  draft's (`ms = draft`) lets them count and makes the aggregator flag the draft;
- the drafts flagged for a refresh (pk `drafts_to_refresh`, sk `<org>#<invoice lago_id>`, `at` who flagged it
  last), read and cleared by the billing run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lagoon.data.usage_keys import MARKER_DRAFT, REFRESH_PK, aggregate_pk, closed_sk
from lagoon.data.usage_store import Item, S, UsageStore, aggregates_table
from lagoon.domain.invoices import Invoice
from lagoon.domain.times import iso


def closed_items(invoice: Invoice) -> list[tuple[str, Item]]:
    """The period-closed markers of the invoice's charges periods, as (table, item) to write."""
    items: list[tuple[str, Item]] = []
    for part in invoice.parts:
        if part.charges_period is None:
            continue
        pk = aggregate_pk(invoice.organization_id, part.subscription_id)
        items.append(
            (
                aggregates_table(),
                {
                    "pk": {"S": pk},
                    "sk": {"S": closed_sk(iso(part.charges_period.from_datetime))},
                    "inv": {"S": invoice.lago_id},
                },
            )
        )
    return items


def close_periods(invoice: Invoice) -> None:
    """Close the invoice's charges periods: events arriving later no longer count there."""
    items = closed_items(invoice)
    if items:
        UsageStore().batch_write(items)


def mark_draft_periods(invoice: Invoice) -> None:
    """Tell the aggregator which draft covers each period, so late events there flag it for a refresh. A
    closed marker is never turned back into a draft one (a finalization may have overtaken this call)."""
    store = UsageStore()
    for table, item in closed_items(invoice):
        store.put_item(
            table,
            {**item, "ms": S(MARKER_DRAFT)},
            condition="attribute_not_exists(#pk) OR #ms = :draft",
            names={"#pk": "pk", "#ms": "ms"},
            values={":draft": S(MARKER_DRAFT)},
        )


@dataclass(frozen=True)
class RefreshFlag:
    """A draft the aggregator counted late events into since the last run."""

    organization_id: str
    invoice_id: str
    sk: str
    at: Any
    """The flag's `at` as stored: clearing the flag is conditional on it."""


def refresh_flags() -> list[RefreshFlag]:
    found = []
    for item in list(UsageStore().query(aggregates_table(), REFRESH_PK)):
        organization_id, _, invoice_id = item["sk"]["S"].partition("#")
        found.append(RefreshFlag(organization_id, invoice_id, item["sk"]["S"], item["at"]))
    return found


def clear_refresh_flag(flag: RefreshFlag) -> None:
    """Delete the flag unless it was rewritten since it was read (then it stays for the next run)."""
    UsageStore().delete_item(
        aggregates_table(),
        (REFRESH_PK, flag.sk),
        condition="#at = :at",
        names={"#at": "at"},
        values={":at": flag.at},
    )
