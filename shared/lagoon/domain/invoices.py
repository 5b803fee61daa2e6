"""Invoices: the stored invoice, what it covers, and the request bodies of `/invoices`.

An invoice is stored as one document (kind `invoice`, key `lago_id`) holding its fees in the contract's
`FeeObject` shape, so an invoice and its fees always change together (one conditional write). Each fee is also
projected as its own document (kind `fee`, key `lago_id`) for the fees API; the invoice is the source of truth.

Statuses: `draft` (grace period; recomputed on refresh), `finalized` (numbered, immutable), `closed` (a
zero-amount invoice the customer skips: DECISIONS.md "Billing" — not numbered, not listed by default, no
webhook).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer

from lagoon.domain.bounds import InvoiceMetadataValue, MetadataKey
from lagoon.domain.times import iso, parse_iso
from lagoon.models import LagoonModel

KIND = "invoice"
"""Entity kind of invoices (key: lago_id)."""
FEE_KIND = "fee"
"""Entity kind of fees (key: lago_id); pay-in-advance fees of the usage module share it."""
COUNTER_KIND = "invoice_counter"
"""Entity kind of the invoice number counters (key: `customer#<lago_id>` or `organization#<YYYYMM>`)."""
CURSOR_KIND = "subscription_billing"
"""Entity kind of a subscription's billing cursor (key: subscription lago_id): the last boundary invoiced."""

Status = Literal["draft", "finalized", "closed", "voided", "failed"]
PaymentStatus = Literal["pending", "succeeded", "failed"]
LISTED_BY_DEFAULT: tuple[str, ...] = ("draft", "finalized", "voided", "failed")

_NAMESPACE = uuid.UUID("6f1d2b7e-3c55-4a0e-8f0a-2b9e4d7c1a55")


def stable_id(*parts: str) -> str:
    """A deterministic UUID from `parts` (invoice, fee, tax and message ids: retries produce the same ids)."""
    return str(uuid.uuid5(_NAMESPACE, "#".join(parts)))


def _utc_second(value: Any) -> Any:
    """Stored ISO text, or an aware datetime, as the UTC instant at the second (the precision stored)."""
    if isinstance(value, str):
        value = parse_iso(value)
    return value.astimezone(UTC).replace(microsecond=0) if isinstance(value, datetime) else value


PeriodBound = Annotated[datetime, BeforeValidator(_utc_second), PlainSerializer(iso, return_type=str)]
"""An instant of a stored period: a UTC datetime in memory, ISO text (`2024-02-01T00:00:00Z`) when stored."""


class Period(LagoonModel):
    """A half-open billing period [from, to) in UTC, with the whole interval it belongs to. Datetimes from the
    billing run to the rendered invoice; ISO text only in the stored document."""

    model_config = ConfigDict(frozen=True)

    from_datetime: PeriodBound
    to_datetime: PeriodBound
    full_from_datetime: PeriodBound
    full_to_datetime: PeriodBound


InvoicingReason = Literal[
    "subscription_starting",
    "subscription_periodic",
    "subscription_terminating",
    "in_advance_charge",
    "in_advance_charge_periodic",
]


class InvoicePart(LagoonModel):
    """What the invoice bills for one subscription: its fee period, its charges period, and the period whose
    minimum commitment closes now. Refresh and finalization recompute the fees from the parts."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    invoicing_reason: InvoicingReason
    fee_period: Period | None = None
    charges_period: Period | None = None
    commitment_period: Period | None = None


class Invoice(LagoonModel):
    """A stored invoice. Amounts in cents; `fees`, `applied_taxes` and `credits` in the contract's shapes."""

    model_config = ConfigDict(extra="ignore")

    lago_id: str
    organization_id: str
    customer_id: str
    external_customer_id: str
    billing_key: str
    """`<customer lago_id>#<boundary>`: one invoice per customer billing boundary (idempotency key)."""
    boundary: str
    parts: list[InvoicePart]
    invoice_type: Literal["subscription", "one_off", "advance_charges"] = "subscription"
    """`one_off`: add-on fees (`lagoon.services.invoicing.one_off_invoices`), no parts, finalized at creation;
    `advance_charges`: paid fees regrouped (`lagoon.services.invoicing.paid_fees`), finalized at creation."""
    status: Status
    payment_status: PaymentStatus = "pending"
    payment_overdue: bool = False
    sequential_id: int | None = None
    number: str
    issuing_date: str
    payment_due_date: str
    net_payment_term: int
    currency: str
    grace_ends_at: str | None = None
    fees_amount_cents: int = 0
    coupons_amount_cents: int = 0
    credit_notes_amount_cents: int = 0
    sub_total_excluding_taxes_amount_cents: int = 0
    taxes_amount_cents: int = 0
    sub_total_including_taxes_amount_cents: int = 0
    prepaid_credit_amount_cents: int = 0
    total_amount_cents: int = 0
    fees: list[dict[str, Any]] = Field(default_factory=list)
    applied_taxes: list[dict[str, Any]] = Field(default_factory=list)
    credits: list[dict[str, Any]] = Field(default_factory=list)
    coupon_applications: list[dict[str, Any]] = Field(default_factory=list)
    """What each applied coupon took (`applied_coupon_id`, `amount_cents`, bookkeeping after it)."""
    metadata: list[dict[str, Any]] = Field(default_factory=list)
    created_at: str
    updated_at: str
    finalized_at: str | None = None
    revision: int = 1
    """Mirror of the stored item's revision: every change is a conditional write on it."""


class InvoiceMetadataInput(LagoonModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    key: MetadataKey
    value: InvoiceMetadataValue


class InvoiceUpdateInput(LagoonModel):
    """`invoice` of `PUT /invoices/{lago_id}` (InvoiceUpdateInput): only the fields sent change."""

    model_config = ConfigDict(extra="ignore")

    payment_status: PaymentStatus | None = None
    metadata: list[InvoiceMetadataInput] | None = None
