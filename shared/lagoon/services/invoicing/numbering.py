"""Invoice numbers (DECISIONS.md "Billing"): drafts carry `PREFIX-DRAFT`; finalization takes the next number
from a counter written in the same transaction as the status change, with an expected revision, so numbers are
gapless and unique under concurrency: `PREFIX-{customer sequential_id:03}-{n:03}` per customer, or
`PREFIX-{YYYYMM}-{n:03}` per organization (n counts the organization's invoices of that month, Lago's
`organization_sequential_id`). `sequential_id` is always the customer's invoice sequence.
"""

from __future__ import annotations

from lagoon.data import entities, invoices as invoice_store
from lagoon.domain.customers import Customer
from lagoon.domain.organizations import Organization


def draft_number(organization: Organization) -> str:
    return f"{organization.document_number_prefix}-DRAFT"


def invoice_number(
    organization: Organization,
    customer: Customer,
    customer_sequence: int,
    organization_sequence: int,
    month: str,
) -> str:
    prefix = organization.document_number_prefix
    if organization.document_numbering == "per_organization":
        return f"{prefix}-{month}-{organization_sequence:03d}"
    return f"{prefix}-{customer.sequential_id:03d}-{customer_sequence:03d}"


def take_invoice_number(
    writes: entities.Writes,
    organization: Organization,
    customer: Customer,
    customer_counter: invoice_store.Counter,
    issuing_date: str,
) -> tuple[str, int]:
    """(number, customer sequence) of an invoice issued on `issuing_date`, the counters taken in `writes` (the
    customer's, and the organization's month for per-organization numbering)."""
    organization_id = organization.lago_id
    customer_sequence = invoice_store.take_number(writes, organization_id, customer_counter)
    month = issuing_date[:7].replace("-", "")
    organization_sequence = 0
    if organization.document_numbering == "per_organization":
        counter = invoice_store.read_counter(organization_id, invoice_store.organization_counter_key(month))
        organization_sequence = invoice_store.take_number(writes, organization_id, counter)
    number = invoice_number(organization, customer, customer_sequence, organization_sequence, month)
    return number, customer_sequence
