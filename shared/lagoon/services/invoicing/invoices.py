"""Invoices: storage, numbering, rendering (the contract's InvoiceObject / InvoiceObjectExtended), listing,
payment status and metadata, and the timers that finalize drafts and flag overdue invoices.

Computing what an invoice bills (fees, coupons, taxes) is `lagoon.services.invoicing.billing`; this module stores and
shows the result. Every change of an invoice is one conditional write on its revision, with its webhook
message in the same transaction (`invoice.drafted`, `invoice.created`, `invoice.payment_status_updated`,
`invoice.payment_overdue`), whose id is derived from the invoice and the event, so a retried or concurrent
run records it at most once.

Numbering (DECISIONS.md "Billing"): drafts carry `PREFIX-DRAFT`; finalization takes the next number from a
counter item written in the same transaction as the status change with an expected revision, so numbers are
gapless and unique under concurrency: `PREFIX-{customer sequential_id:03}-{n:03}` per customer, or
`PREFIX-{YYYYMM}-{n:03}` per organization (n counts the organization's invoices of that month, Lago's
`organization_sequential_id`). `sequential_id` is always the customer's invoice sequence.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lagoon import errors
from lagoon.contract.customers import render_customer
from lagoon.contract.subscriptions import render_subscription
from lagoon.data import entities
from lagoon.data.connection import get_settings
from lagoon.data.lookups import Lookups
from lagoon.data.usage_store import UsageStore
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import (
    COUNTER_KIND,
    FEE_KIND,
    KIND,
    LISTED_BY_DEFAULT,
    Invoice,
    InvoiceUpdateInput,
)
from lagoon.domain.organizations import Organization
from lagoon.domain.subscriptions import iso, parse_iso
from lagoon.engine.periods import local_date, local_midnight
from lagoon.services import customers, organizations

TIMER_KIND = "invoice_timer"
# PDFs to render, read by the documents function (its own partition: the billing run never reads them).
DOCUMENT_TIMER_KIND = "document_timer"
GLOBAL = "global"
_NAMESPACE = uuid.UUID("6f1d2b7e-3c55-4a0e-8f0a-2b9e4d7c1a55")


def stable_id(*parts: str) -> str:
    """A deterministic UUID from `parts` (invoice, fee, tax and message ids: retries produce the same ids)."""
    return str(uuid.uuid5(_NAMESPACE, "#".join(parts)))


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- storage ---------------------------------------------------------------------------------------------


def find_invoice(organization_id: str, lago_id: str) -> Invoice | None:
    document = entities.get(organization_id, KIND, lago_id)
    return Invoice.model_validate(document) if document else None


def get_invoice(organization_id: str, lago_id: str) -> Invoice:
    invoice = find_invoice(organization_id, lago_id) if _is_uuid(lago_id) else None
    if invoice is None:
        raise errors.NotFound("invoice")
    return invoice


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def put_invoice(writes: entities.Writes, invoice: Invoice, *, new: bool = False) -> Invoice:
    """Record `invoice` in `writes`: created (must not exist) or changed (expected revision)."""
    if new:
        stored = invoice.model_copy(update={"revision": 1})
        writes.put(
            invoice.organization_id,
            KIND,
            invoice.lago_id,
            stored.model_dump(mode="json"),
            must_not_exist=True,
        )
        return stored
    stored = invoice.model_copy(update={"revision": invoice.revision + 1})
    writes.put(
        invoice.organization_id,
        KIND,
        invoice.lago_id,
        stored.model_dump(mode="json"),
        expected_revision=invoice.revision,
        revision=invoice.revision + 1,
    )
    return stored


def project_fees(
    invoice: Invoice, previous: Invoice | None = None, *, with_items: Sequence[tuple[str, Any]] = ()
) -> None:
    """Write the invoice's fees as `fee` documents (idempotent: same ids, same content) and delete the fees
    a recomputation dropped. The invoice document stays the source of truth. `with_items` (of any table) are
    written in the same BatchWriteItem requests."""
    store = UsageStore()
    table = get_settings().entities_table
    items = []
    pk = entities.partition(invoice.organization_id, FEE_KIND)
    for fee in invoice.fees:
        body = dict(fee, payment_status=invoice.payment_status)
        items.append(
            (
                table,
                {
                    "pk": {"S": pk},
                    "sk": {"S": fee["lago_id"]},
                    "kind": {"S": FEE_KIND},
                    "body": {"S": json.dumps(body, default=str)},
                    "revision": {"N": "1"},
                },
            )
        )
    store.batch_write([*items, *with_items])
    if previous is not None:
        kept = {fee["lago_id"] for fee in invoice.fees}
        dropped = [fee["lago_id"] for fee in previous.fees if fee["lago_id"] not in kept]
        for start in range(0, len(dropped), 25):
            writes = entities.Writes()
            for lago_id in dropped[start : start + 25]:
                writes.delete(invoice.organization_id, FEE_KIND, lago_id)
            writes.commit()


# --- numbering -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counter:
    key: str
    value: int
    revision: int | None
    """None: the counter does not exist yet."""


def read_counters(organization_id: str, keys: list[str]) -> dict[str, Counter]:
    """Counters by key, in BatchGetItem requests (absent ones at 0, not existing yet)."""
    documents = entities.get_many(organization_id, COUNTER_KIND, keys) if keys else {}
    return {key: _counter(key, documents.get(key)) for key in keys}


def read_counter(organization_id: str, key: str) -> Counter:
    return _counter(key, entities.get(organization_id, COUNTER_KIND, key))


def _counter(key: str, document: dict[str, Any] | None) -> Counter:
    if document is None:
        return Counter(key, 0, None)
    return Counter(key, int(document["value"]), int(document["revision"]))


def take_number(writes: entities.Writes, organization_id: str, counter: Counter) -> int:
    """The counter's next value, written in `writes` on the condition that nobody took it meanwhile."""
    value = counter.value + 1
    revision = (counter.revision or 0) + 1
    body = {"value": value, "revision": revision}
    if counter.revision is None:
        writes.put(organization_id, COUNTER_KIND, counter.key, body, must_not_exist=True, revision=revision)
    else:
        writes.put(
            organization_id,
            COUNTER_KIND,
            counter.key,
            body,
            expected_revision=counter.revision,
            revision=revision,
        )
    return value


def touch_counter(writes: entities.Writes, organization_id: str, counter: Counter) -> None:
    """Move the counter's revision without taking a number (a closed invoice: serialised, not numbered)."""
    revision = (counter.revision or 0) + 1
    body = {"value": counter.value, "revision": revision}
    if counter.revision is None:
        writes.put(organization_id, COUNTER_KIND, counter.key, body, must_not_exist=True, revision=revision)
    else:
        writes.put(
            organization_id,
            COUNTER_KIND,
            counter.key,
            body,
            expected_revision=counter.revision,
            revision=revision,
        )


def customer_counter_key(customer_id: str) -> str:
    return f"customer#{customer_id}"


def organization_counter_key(month: str) -> str:
    return f"organization#{month}"


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


# --- dates -----------------------------------------------------------------------------------------------


def grace_period_days(organization: Organization, customer: Customer) -> int:
    """The customer's `invoice_grace_period`, else the organization's."""
    days = customer.billing_configuration.invoice_grace_period
    if days is None:
        days = organization.billing_configuration.invoice_grace_period
    return int(days or 0)


def net_payment_term(organization: Organization, customer: Customer) -> int:
    """The customer's `net_payment_term`, else the organization's."""
    return int(
        customer.net_payment_term if customer.net_payment_term is not None else organization.net_payment_term
    )


def payment_due_date(issuing_date: str, term_days: int) -> str:
    return (date.fromisoformat(issuing_date) + timedelta(days=term_days)).isoformat()


def finalizes_zero_amount(organization: Organization, customer: Customer) -> bool:
    """Customer `finalize_zero_amount_invoice` (inherit | skip | finalize), else the organization's boolean."""
    if customer.finalize_zero_amount_invoice == "inherit":
        return organization.finalize_zero_amount_invoice
    return customer.finalize_zero_amount_invoice == "finalize"


def overdue_at(invoice: Invoice, timezone: str) -> datetime:
    """The instant the due date has passed: the local midnight after `payment_due_date`."""
    return local_midnight(date.fromisoformat(invoice.payment_due_date) + timedelta(days=1), timezone)


def local_today(moment: datetime, timezone: str) -> str:
    return local_date(moment, timezone).isoformat()


# --- timers (drafts to finalize, invoices that become overdue) -------------------------------------------


def timer_key(due: datetime, invoice: Invoice, action: str) -> str:
    return f"{iso(due)}#{invoice.organization_id}#{invoice.lago_id}#{action}"


def parse_timer_due(key: str) -> datetime:
    return parse_iso(key.split("#", 1)[0])  # type: ignore[return-value]


def schedule(
    writes: entities.Writes, invoice: Invoice, due: datetime, action: str, kind: str = TIMER_KIND
) -> None:
    writes.put(
        GLOBAL,
        kind,
        timer_key(due, invoice, action),
        {"organization_id": invoice.organization_id, "invoice_id": invoice.lago_id, "action": action},
    )


def schedule_document(writes: entities.Writes, invoice: Invoice, due: datetime) -> None:
    """Ask the documents function for the PDF of a finalized invoice, in the finalization's transaction."""
    schedule(writes, invoice, due, "pdf", kind=DOCUMENT_TIMER_KIND)


def due_timers(now: datetime, kind: str = TIMER_KIND) -> list[tuple[str, dict[str, Any]]]:
    """Invoice timers due at `now`, oldest first."""
    table = get_settings().entities_table
    items = UsageStore().query(table, entities.partition(GLOBAL, kind), before=f"{iso(now)}#\U0010ffff")
    return [(item["sk"]["S"], json.loads(item["body"]["S"])) for item in items]


def drop_timer(key: str, kind: str = TIMER_KIND) -> None:
    entities.Writes().delete(GLOBAL, kind, key).commit()


# --- webhooks --------------------------------------------------------------------------------------------


def message(
    webhook_type: str, invoice: Invoice, event_key: str, lookups: Lookups | None = None
) -> entities.OutboxMessage:
    """The webhook of an invoice event, with the rendered invoice; its id is derived from the event."""
    result = entities.OutboxMessage(
        invoice.organization_id, webhook_type, "invoice", render_invoice_extended(invoice, lookups)
    )
    result.message_id = stable_id(invoice.organization_id, invoice.lago_id, webhook_type, event_key)
    return result


# --- rendering -------------------------------------------------------------------------------------------


def _paid_amount_cents(invoice: Invoice) -> int:
    """What the customer has paid: the whole total once the payment status is `succeeded` (Lagoon records
    no partial payments: payments are a deferred feature)."""
    return invoice.total_amount_cents if invoice.payment_status == "succeeded" else 0


def _render_base(invoice: Invoice, customer_body: dict[str, Any]) -> dict[str, Any]:
    paid = _paid_amount_cents(invoice)
    return {
        "lago_id": invoice.lago_id,
        "billing_entity_code": None,
        "sequential_id": invoice.sequential_id,
        "number": invoice.number,
        "issuing_date": invoice.issuing_date,
        "payment_due_date": invoice.payment_due_date,
        "payment_overdue": invoice.payment_overdue,
        "net_payment_term": invoice.net_payment_term,
        "invoice_type": invoice.invoice_type,
        "status": invoice.status,
        "payment_status": invoice.payment_status,
        "currency": invoice.currency,
        "fees_amount_cents": invoice.fees_amount_cents,
        "coupons_amount_cents": invoice.coupons_amount_cents,
        "credit_notes_amount_cents": invoice.credit_notes_amount_cents,
        "sub_total_excluding_taxes_amount_cents": invoice.sub_total_excluding_taxes_amount_cents,
        "taxes_amount_cents": invoice.taxes_amount_cents,
        "sub_total_including_taxes_amount_cents": invoice.sub_total_including_taxes_amount_cents,
        "prepaid_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "prepaid_granted_credit_amount_cents": 0,
        "prepaid_purchased_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "progressive_billing_credit_amount_cents": 0,
        "total_amount_cents": invoice.total_amount_cents,
        # Not in the v1.51 contract, but lago-python-client requires total_due_amount_cents (Lago sends both).
        "total_paid_amount_cents": paid,
        "total_due_amount_cents": invoice.total_amount_cents - paid,
        "version_number": 4,
        "self_billed": False,
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
        "customer": customer_body,
        "metadata": list(invoice.metadata),
        "applied_taxes": list(invoice.applied_taxes),
        "applied_invoice_custom_sections": [],
        "applied_usage_thresholds": [],
    }


def _without_nulls(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        if body.get(key) is None:
            body.pop(key, None)
    return body


def _render_customer(invoice: Invoice, lookups: Lookups) -> dict[str, Any]:
    return render_customer(lookups.customer(invoice.customer_id), lookups.organization)


def render_invoice(
    invoice: Invoice, customer_body: dict[str, Any] | None = None, lookups: Lookups | None = None
) -> dict[str, Any]:
    """InvoiceObject of the contract (list items: without fees)."""
    if customer_body is None:
        customer_body = _render_customer(invoice, lookups or Lookups(invoice.organization_id))
    body = _render_base(invoice, customer_body)
    return _without_nulls(body, "sequential_id")  # a draft has no number yet


def render_fee(invoice: Invoice, fee: dict[str, Any]) -> dict[str, Any]:
    """FeeObject: the stored fee with the invoice's payment status."""
    succeeded = invoice.updated_at if invoice.payment_status == "succeeded" else None
    failed = invoice.updated_at if invoice.payment_status == "failed" else None
    return dict(fee, payment_status=invoice.payment_status, succeeded_at=succeeded, failed_at=failed)


def _billing_period(invoice: Invoice, part: Any, plan_ids: dict[str, tuple[str, str]]) -> dict[str, Any]:
    fee_period = part.fee_period or part.charges_period
    charges_period = part.charges_period or part.fee_period
    lago_plan_id, external_id = plan_ids[part.subscription_id]

    def inclusive(value: str) -> str:
        moment = parse_iso(value)
        assert moment is not None
        return (moment - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "lago_subscription_id": part.subscription_id,
        "external_subscription_id": external_id,
        "lago_plan_id": lago_plan_id,
        "subscription_from_datetime": fee_period.from_datetime,
        "subscription_to_datetime": inclusive(fee_period.to_datetime),
        "charges_from_datetime": charges_period.from_datetime,
        "charges_to_datetime": inclusive(charges_period.to_datetime),
        "invoicing_reason": part.invoicing_reason,
    }


def render_invoice_extended(invoice: Invoice, lookups: Lookups | None = None) -> dict[str, Any]:
    """InvoiceObjectExtended: the invoice with its fees, credits, billing periods and subscriptions — the
    object the API, the webhooks and the PDF renderer (`lagoon.documents.render_invoice_pdf`) take."""
    lookups = lookups or Lookups(invoice.organization_id)
    body = render_invoice(invoice, lookups=lookups)
    subscription_ids = list(dict.fromkeys(part.subscription_id for part in invoice.parts))
    rendered_subscriptions = []
    plan_ids: dict[str, tuple[str, str]] = {}
    for subscription_id in subscription_ids:
        subscription = lookups.subscription(subscription_id)
        plan_ids[subscription_id] = (subscription.plan_id, subscription.external_id)
        rendered_subscriptions.append(render_subscription(subscription, lookups=lookups))
    body["billing_periods"] = [_billing_period(invoice, part, plan_ids) for part in invoice.parts]
    body["credits"] = [
        dict(credit, invoice={"lago_id": invoice.lago_id, "payment_status": invoice.payment_status})
        for credit in invoice.credits
    ]
    body["fees"] = [render_fee(invoice, fee) for fee in invoice.fees]
    body["subscriptions"] = rendered_subscriptions
    body["error_details"] = []
    return body


# --- listing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFilters:
    statuses: tuple[str, ...] = ()
    payment_statuses: tuple[str, ...] = ()
    external_customer_id: str | None = None
    customer_id: str | None = None
    """The customer's lago_id: a deleted customer's external_id may be reused, its invoices stay its own."""
    issuing_date_from: str | None = None
    issuing_date_to: str | None = None
    currency: str | None = None
    invoice_type: str | None = None
    payment_overdue: bool | None = None
    amount_from: int | None = None
    amount_to: int | None = None
    search_term: str | None = None

    def accepts(self, invoice: Invoice) -> bool:
        statuses = self.statuses or LISTED_BY_DEFAULT
        checks = [
            invoice.status in statuses,
            not self.payment_statuses or invoice.payment_status in self.payment_statuses,
            self.external_customer_id is None or invoice.external_customer_id == self.external_customer_id,
            self.customer_id is None or invoice.customer_id == self.customer_id,
            self.issuing_date_from is None or invoice.issuing_date >= self.issuing_date_from,
            self.issuing_date_to is None or invoice.issuing_date <= self.issuing_date_to,
            self.currency is None or invoice.currency == self.currency,
            self.invoice_type is None or invoice.invoice_type == self.invoice_type,
            self.payment_overdue is None or invoice.payment_overdue == self.payment_overdue,
            self.amount_from is None or invoice.total_amount_cents >= self.amount_from,
            self.amount_to is None or invoice.total_amount_cents <= self.amount_to,
        ]
        if self.search_term:
            term = self.search_term.lower()
            checks.append(
                term in invoice.number.lower()
                or term in invoice.lago_id
                or term in invoice.external_customer_id.lower()
            )
        return all(checks)


def all_invoices(organization_id: str) -> list[Invoice]:
    return [Invoice.model_validate(document) for document in entities.query(organization_id, KIND)]


def list_invoices(organization_id: str, filters: InvoiceFilters) -> list[Invoice]:
    """Invoices newest first (issuing date, then creation), filtered; `closed` only when asked for."""
    found = [invoice for invoice in all_invoices(organization_id) if filters.accepts(invoice)]
    return sorted(found, key=lambda i: (i.issuing_date, i.created_at, i.lago_id), reverse=True)


def invoices_of_customer(organization_id: str, customer_id: str, statuses: Iterable[str]) -> list[Invoice]:
    wanted = set(statuses)
    return [i for i in all_invoices(organization_id) if i.customer_id == customer_id and i.status in wanted]


class ListRenderer:
    """Renders list items, each customer once."""

    def __init__(self, organization_id: str) -> None:
        self.organization = organizations.get_organization(organization_id)
        self._customers: dict[str, dict[str, Any]] = {}

    def __call__(self, invoice: Invoice) -> dict[str, Any]:
        body = self._customers.get(invoice.customer_id)
        if body is None:
            customer = customers.get_customer_by_id(invoice.organization_id, invoice.customer_id)
            body = self._customers[invoice.customer_id] = render_customer(customer, self.organization)
        return render_invoice(invoice, body)


# --- update ----------------------------------------------------------------------------------------------


def update_invoice(organization_id: str, lago_id: str, data: InvoiceUpdateInput) -> Invoice:
    """`PUT /invoices/{lago_id}`: payment status (`invoice.payment_status_updated`) and metadata."""
    invoice = get_invoice(organization_id, lago_id)
    sent = data.model_fields_set
    now = now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")
    update: dict[str, Any] = {"updated_at": now}
    status_changed = False
    if "payment_status" in sent and data.payment_status is not None:
        if invoice.status == "draft":
            raise errors.MethodNotAllowed("invoice_not_finalized")
        status_changed = data.payment_status != invoice.payment_status
        update["payment_status"] = data.payment_status
        if data.payment_status == "succeeded":
            update["payment_overdue"] = False
    if "metadata" in sent and data.metadata is not None:
        update["metadata"] = _merge_metadata(invoice.metadata, data.metadata, now)
    changed = invoice.model_copy(update=update)
    writes = entities.Writes()
    stored = put_invoice(writes, changed)
    if status_changed:
        writes.message(
            message("invoice.payment_status_updated", stored, f"{stored.payment_status}#{stored.revision}")
        )
    writes.commit()
    if status_changed:
        project_fees(stored)
    return stored


def _merge_metadata(existing: list[dict[str, Any]], sent: list[Any], now: str) -> list[dict[str, Any]]:
    """Lago: items with a known id are updated, items without an id are added, the others removed."""
    by_id = {item["lago_id"]: item for item in existing}
    merged = []
    for item in sent:
        previous = by_id.get(item.id) if item.id else None
        merged.append(
            {
                "lago_id": previous["lago_id"] if previous else str(uuid.uuid4()),
                "key": item.key,
                "value": item.value,
                "created_at": previous["created_at"] if previous else now,
            }
        )
    return merged
