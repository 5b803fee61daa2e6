"""Invoice storage: every key and item invoicing reads or writes in the entities table (docs/invoicing.md).

- invoices: documents of kind `invoice` (key lago_id); every change is one conditional write on the revision;
- fees: each invoice fee projected as a document of kind `fee` (key lago_id), the invoice staying their
  source of truth;
- number counters: kind `invoice_counter`, `customer#<lago_id>` and `organization#<YYYYMM>`, taken with an
  expected revision in the transaction that numbers the invoice (gapless and unique under concurrency);
- timers: global kinds `invoice_timer` (the billing run's: `finalize`, `overdue`, `project`) and
  `document_timer` (the documents function's: `pdf`), sk `<due>#<org>#<invoice lago_id>#<action>`, so the
  due ones are one range query;
- billing cursors: kind `subscription_billing` (key subscription lago_id), the last boundary invoiced, advanced
  with an expected revision in the invoice's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.data import entities, memberships, timers
from lagoon.data.connection import get_settings
from lagoon.data.usage_store import UsageStore
from lagoon.domain.invoices import COUNTER_KIND, CURSOR_KIND, FEE_KIND, KIND, Invoice
from lagoon.domain.times import iso, parse_iso
from lagoon.domain.validators import is_uuid

TIMER_KIND = "invoice_timer"
# PDFs to render, read by the documents function (its own partition: the billing run never reads them).
DOCUMENT_TIMER_KIND = "document_timer"
GLOBAL = "global"


# --- invoices --------------------------------------------------------------------------------------------


def find_invoice(organization_id: str, lago_id: str) -> Invoice | None:
    document = entities.get(organization_id, KIND, lago_id)
    return Invoice.model_validate(document) if document else None


def get_invoice(organization_id: str, lago_id: str) -> Invoice:
    invoice = find_invoice(organization_id, lago_id) if is_uuid(lago_id) else None
    if invoice is None:
        raise errors.NotFound("invoice")
    return invoice


def all_invoices(organization_id: str) -> list[Invoice]:
    return [Invoice.model_validate(document) for document in entities.query(organization_id, KIND)]


def customer_invoices(organization_id: str, customer_id: str) -> list[Invoice]:
    """Every invoice of one customer (any order): its index entries and their documents."""
    ids = memberships.members(organization_id, memberships.INVOICES, customer_id)
    documents = entities.get_many(organization_id, KIND, ids) if ids else {}
    return [Invoice.model_validate(documents[i]) for i in ids if i in documents]


def invoices_of_customer(organization_id: str, customer_id: str, statuses: Iterable[str]) -> list[Invoice]:
    wanted = set(statuses)
    return [i for i in customer_invoices(organization_id, customer_id) if i.status in wanted]


def put_invoice(writes: entities.Writes, invoice: Invoice, *, new: bool = False) -> Invoice:
    """Record `invoice` in `writes`: created (must not exist, entered in its customer's index) or changed
    (expected revision)."""
    if new:
        stored = invoice.model_copy(update={"revision": 1})
        writes.put(
            invoice.organization_id,
            KIND,
            invoice.lago_id,
            stored.model_dump(mode="json"),
            must_not_exist=True,
        )
        memberships.add(
            writes, invoice.organization_id, memberships.INVOICES, invoice.customer_id, invoice.lago_id
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


def delete_invoice(writes: entities.Writes, invoice: Invoice) -> None:
    """Delete `invoice` in `writes`, on the condition that it has not changed since it was read."""
    writes.delete(invoice.organization_id, KIND, invoice.lago_id, expected_revision=invoice.revision)
    memberships.remove(
        writes, invoice.organization_id, memberships.INVOICES, invoice.customer_id, invoice.lago_id
    )


# --- fee documents ---------------------------------------------------------------------------------------


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
        _delete_fees(
            invoice.organization_id, [f["lago_id"] for f in previous.fees if f["lago_id"] not in kept]
        )


def delete_fee_documents(invoice: Invoice) -> None:
    """Delete the `fee` documents of a deleted invoice."""
    _delete_fees(invoice.organization_id, [fee["lago_id"] for fee in invoice.fees])


def _delete_fees(organization_id: str, fee_ids: list[str]) -> None:
    for start in range(0, len(fee_ids), 25):
        writes = entities.Writes()
        for lago_id in fee_ids[start : start + 25]:
            writes.delete(organization_id, FEE_KIND, lago_id)
        writes.commit()


# --- number counters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counter:
    key: str
    value: int
    revision: int | None
    """None: the counter does not exist yet."""


def customer_counter_key(customer_id: str) -> str:
    return f"customer#{customer_id}"


def organization_counter_key(month: str) -> str:
    return f"organization#{month}"


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
    _put_counter(writes, organization_id, counter, value)
    return value


def touch_counter(writes: entities.Writes, organization_id: str, counter: Counter) -> None:
    """Move the counter's revision without taking a number (a closed invoice: serialised, not numbered)."""
    _put_counter(writes, organization_id, counter, counter.value)


def _put_counter(writes: entities.Writes, organization_id: str, counter: Counter, value: int) -> None:
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


# --- timers (drafts to finalize, invoices that become overdue, post-commit work, PDFs) -------------------


def timer_key(due: datetime, invoice: Invoice, action: str) -> str:
    return f"{iso(due)}#{invoice.organization_id}#{invoice.lago_id}#{action}"


def parse_timer_due(key: str) -> datetime:
    due = parse_iso(key.split("#", 1)[0])
    assert due is not None
    return due


def schedule(
    writes: entities.Writes, invoice: Invoice, due: datetime, action: str, kind: str = TIMER_KIND
) -> None:
    writes.put(
        GLOBAL,
        kind,
        timer_key(due, invoice, action),
        {"organization_id": invoice.organization_id, "invoice_id": invoice.lago_id, "action": action},
    )


def unschedule(writes: entities.Writes, invoice: Invoice, due: datetime, action: str) -> None:
    """Delete the invoice timer of `action` due at `due`, in `writes`."""
    writes.delete(GLOBAL, TIMER_KIND, timer_key(due, invoice, action))


def schedule_document(writes: entities.Writes, invoice: Invoice, due: datetime) -> None:
    """Ask the documents function for the PDF of a finalized invoice, in the finalization's transaction."""
    schedule(writes, invoice, due, "pdf", kind=DOCUMENT_TIMER_KIND)


def due_timers(now: datetime, kind: str = TIMER_KIND) -> list[tuple[str, dict[str, Any]]]:
    """Invoice timers due at `now`, oldest first."""
    return timers.due_timers(kind, now)


def drop_timer(key: str, kind: str = TIMER_KIND) -> None:
    entities.Writes().delete(GLOBAL, kind, key).commit()


def drop_timers(keys: list[str]) -> None:
    """Delete these invoice timers unconditionally, 25 a BatchWriteItem request."""
    entities.delete_many(GLOBAL, TIMER_KIND, keys)


# --- billing cursors -------------------------------------------------------------------------------------


@dataclass
class BillingCursor:
    """The last boundary a subscription was invoiced at (None: never), with the revision it was read at."""

    billed_through: datetime | None
    revision: int | None


def read_cursors(organization_id: str, subscription_ids: list[str]) -> dict[str, BillingCursor]:
    documents = entities.get_many(organization_id, CURSOR_KIND, subscription_ids) if subscription_ids else {}
    found = {}
    for subscription_id in subscription_ids:
        document = documents.get(subscription_id)
        if document is None:
            found[subscription_id] = BillingCursor(None, None)
        else:
            found[subscription_id] = BillingCursor(
                parse_iso(document["billed_through"]), int(document["revision"])
            )
    return found


def advance_cursor(
    writes: entities.Writes, organization_id: str, subscription_id: str, cursor: BillingCursor, to: datetime
) -> None:
    """Move the cursor to `to` in `writes`, on the condition that it has not moved since it was read."""
    revision = (cursor.revision or 0) + 1
    body = {"billed_through": iso(to), "revision": revision}
    if cursor.revision is None:
        writes.put(
            organization_id, CURSOR_KIND, subscription_id, body, must_not_exist=True, revision=revision
        )
    else:
        writes.put(
            organization_id,
            CURSOR_KIND,
            subscription_id,
            body,
            expected_revision=cursor.revision,
            revision=revision,
        )
