"""Per-customer indexes in the entities table: the subscriptions, invoices and applied coupons of one customer.

An entry is an item of kind `<member kind>_by_customer`, sk `<customer lago_id>#<member lago_id>`, empty body,
written in the transaction that creates the member (and deleted with it, for invoices). A customer's members
are then one Query of that prefix and one BatchGetItem of their documents: reads that grow with the customer's
own objects, never with the organization's (docs/decisions.md "Bounded reads (issue 17)").
"""

from __future__ import annotations

from lagoon.data import entities

SUBSCRIPTIONS = "subscription_by_customer"
INVOICES = "invoice_by_customer"
APPLIED_COUPONS = "applied_coupon_by_customer"


def _key(customer_id: str, member_id: str) -> str:
    return f"{customer_id}#{member_id}"


def add(writes: entities.Writes, organization_id: str, index: str, customer_id: str, member_id: str) -> None:
    """Record the member in `writes` (idempotent: the same empty item)."""
    writes.put(organization_id, index, _key(customer_id, member_id), {})


def remove(
    writes: entities.Writes, organization_id: str, index: str, customer_id: str, member_id: str
) -> None:
    writes.delete(organization_id, index, _key(customer_id, member_id))


def members(organization_id: str, index: str, customer_id: str) -> list[str]:
    """The lago_ids of the customer's members (in lago_id order)."""
    prefix = f"{customer_id}#"
    return [key[len(prefix) :] for key in entities.keys(organization_id, index, prefix)]
