"""Paid fees waiting for an invoice: every fee not attached to an invoice whose payment status is `succeeded`
(the pay-in-advance fees of non-invoiceable charges, paid through `PUT /fees/{lago_id}`) is listed under its
subscription — kind `paid_fee`, key `<subscription lago_id>#<fee lago_id>` — in the same transaction as the
status change, so invoicing finds a subscription's paid fees with one Query, never by reading every fee
(lagoon.services.invoicing.paid_fees regroups them, `regroup_paid_fees: invoice`).

The listing is an index, written and deleted with the fee document (whose revision serialises every change of
the fee): the invoice that regroups a fee rewrites its document (attached, on its revision) and deletes its
listing in one transaction, so a fee is regrouped once, and never after its payment was undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lagoon.data import entities
from lagoon.domain.times import parse_iso

KIND = "paid_fee"


def _key(subscription_id: str, fee_id: str) -> str:
    return f"{subscription_id}#{fee_id}"


@dataclass(frozen=True)
class PaidFee:
    """A listed paid fee: when it was paid, and the end of the charges period it belongs to (inclusive, as the
    fee's `to_date`; None when the fee has none)."""

    fee_id: str
    subscription_id: str
    succeeded_at: datetime
    charges_to: datetime | None


def list_paid_fee(writes: entities.Writes, organization_id: str, fee: dict[str, Any]) -> None:
    """List the paid `fee` (in `writes`, with the fee document's own change)."""
    body = {
        "fee_id": fee["lago_id"],
        "subscription_id": fee["lago_subscription_id"],
        "succeeded_at": fee["succeeded_at"],
        "charges_to": fee.get("to_date"),
    }
    writes.put(organization_id, KIND, _key(fee["lago_subscription_id"], fee["lago_id"]), body)


def unlist_paid_fee(writes: entities.Writes, organization_id: str, subscription_id: str, fee_id: str) -> None:
    """Remove a fee's listing (in `writes`, with the fee document's own change)."""
    writes.delete(organization_id, KIND, _key(subscription_id, fee_id))


def paid_fees_of(organization_id: str, subscription_ids: Sequence[str]) -> list[PaidFee]:
    """The listed paid fees of these subscriptions (one Query each), oldest payment first."""
    found: list[PaidFee] = []
    for subscription_id in dict.fromkeys(subscription_ids):
        for document in entities.query(organization_id, KIND, prefix=f"{subscription_id}#"):
            succeeded_at = parse_iso(document["succeeded_at"])
            assert succeeded_at is not None
            found.append(
                PaidFee(
                    fee_id=document["fee_id"],
                    subscription_id=document["subscription_id"],
                    succeeded_at=succeeded_at,
                    charges_to=parse_iso(document.get("charges_to")),
                )
            )
    return sorted(found, key=lambda paid: (paid.succeeded_at, paid.fee_id))
