"""Fees: list, read, update the payment status, delete (`/fees`), following Lago's `FeesController`,
`Fees::UpdateService` and `Fees::DestroyService`.

Fees are documents of kind `fee` (key lago_id): the fees of invoices, projected by invoicing
(`lagoon.data.invoices.project_fees`; the invoice stays their source of truth), and the pay-in-advance fees of the usage
module, which wait with `lago_invoice_id: null`. A fee attached to an invoice follows its invoice: its payment
status (and `succeeded_at` / `failed_at`) are the invoice's, and it can be neither updated nor deleted (405
`invoiced_fee`, DECISIONS.md). A fee not invoiced yet takes a payment status of its own (only the timestamp of
the current status is set, as Lago does) and can be deleted; while `succeeded` it is listed as paid
(lagoon.data.paid_fees), for the charges that regroup paid fees on an invoice
(lagoon.services.invoicing.paid_fees).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lagoon import errors
from lagoon.contract.fees import render_fee
from lagoon.data import entities, paid_fees
from lagoon.domain.fees import FeePaymentStatus
from lagoon.domain.invoices import FEE_KIND, KIND, Invoice
from lagoon.domain.times import iso, parse_iso
from lagoon.domain.validators import is_uuid
from lagoon.services.contention import retried_on_conflict

_STATUS_TIMESTAMPS = {"succeeded": "succeeded_at", "failed": "failed_at", "refunded": "refunded_at"}


def _utc(moment: datetime | None) -> datetime | None:
    """Query datetimes without an offset are UTC (the contract's filters are "in UTC")."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _stored(organization_id: str, lago_id: str) -> dict[str, Any]:
    document = entities.get(organization_id, FEE_KIND, lago_id) if is_uuid(lago_id) else None
    if document is None:
        raise errors.NotFound("fee")
    return document


def _render(documents: Iterable[dict[str, Any]], organization_id: str) -> list[dict[str, Any]]:
    """FeeObjects: invoiced fees with their invoice's payment status, the others as stored."""
    found = list(documents)
    invoice_ids = list({d["lago_invoice_id"] for d in found if d.get("lago_invoice_id")})
    by_id = {
        key: Invoice.model_validate(doc)
        for key, doc in (entities.get_many(organization_id, KIND, invoice_ids) if invoice_ids else {}).items()
    }
    rendered = []
    for document in found:
        body = {k: v for k, v in document.items() if k != "revision"}
        invoice = by_id.get(document.get("lago_invoice_id") or "")
        rendered.append(render_fee(invoice, body) if invoice else body)
    return rendered


def get_fee(organization_id: str, lago_id: str) -> dict[str, Any]:
    """`GET /fees/{lago_id}`: the FeeObject; 404 `fee_not_found`."""
    return _render([_stored(organization_id, lago_id)], organization_id)[0]


@dataclass(frozen=True)
class FeeFilters:
    external_customer_id: str | None = None
    external_subscription_id: str | None = None
    currency: str | None = None
    fee_type: str | None = None
    billable_metric_code: str | None = None
    payment_status: str | None = None
    event_transaction_id: str | None = None
    created_at_from: datetime | None = None
    created_at_to: datetime | None = None
    succeeded_at_from: datetime | None = None
    succeeded_at_to: datetime | None = None
    failed_at_from: datetime | None = None
    failed_at_to: datetime | None = None
    refunded_at_from: datetime | None = None
    refunded_at_to: datetime | None = None

    def accepts(self, fee: dict[str, Any]) -> bool:
        item = fee.get("item") or {}
        equal = [
            (self.external_customer_id, fee.get("external_customer_id")),
            (self.external_subscription_id, fee.get("external_subscription_id")),
            (self.currency, fee.get("amount_currency")),
            (self.fee_type, item.get("type")),
            (self.payment_status, fee.get("payment_status")),
            (self.event_transaction_id, fee.get("event_transaction_id")),
        ]
        if any(wanted is not None and wanted != value for wanted, value in equal):
            return False
        # Lago: the metric code filter applies to charge fees only.
        if self.billable_metric_code is not None and (
            item.get("type") != "charge" or item.get("code") != self.billable_metric_code
        ):
            return False
        ranges = [
            ("created_at", self.created_at_from, self.created_at_to),
            ("succeeded_at", self.succeeded_at_from, self.succeeded_at_to),
            ("failed_at", self.failed_at_from, self.failed_at_to),
            ("refunded_at", self.refunded_at_from, self.refunded_at_to),
        ]
        for field, lower, upper in ranges:
            if lower is None and upper is None:
                continue
            moment = parse_iso(fee.get(field))
            lower, upper = _utc(lower), _utc(upper)
            if moment is None or (lower and moment < lower) or (upper and moment > upper):
                return False
        return True


def list_fees(organization_id: str, filters: FeeFilters) -> list[dict[str, Any]]:
    """Every fee of the organization matching `filters`, newest first (FeeObjects)."""
    rendered = _render(entities.query(organization_id, FEE_KIND), organization_id)
    found = [fee for fee in rendered if filters.accepts(fee)]
    return sorted(found, key=lambda f: (f.get("created_at") or "", f.get("lago_id") or ""), reverse=True)


@retried_on_conflict("fee")
def update_fee(
    organization_id: str, lago_id: str, payment_status: FeePaymentStatus, now: datetime | None = None
) -> dict[str, Any]:
    """`PUT /fees/{lago_id}`: the payment status of a fee not invoiced yet (else 405 `invoiced_fee`); decided
    again on the new state when a concurrent change won (invoiced meanwhile: 405, deleted: 404)."""
    document = _stored(organization_id, lago_id)
    if document.get("lago_invoice_id"):
        raise errors.MethodNotAllowed("invoiced_fee")
    stamp = iso(now or datetime.now(UTC))
    changed = dict(
        document, payment_status=payment_status, succeeded_at=None, failed_at=None, refunded_at=None
    )
    if payment_status in _STATUS_TIMESTAMPS:
        changed[_STATUS_TIMESTAMPS[payment_status]] = stamp
    revision = int(document.get("revision", 1))
    changed["revision"] = revision + 1
    writes = entities.Writes().put(
        organization_id, FEE_KIND, lago_id, changed, expected_revision=revision, revision=revision + 1
    )
    _relist(writes, organization_id, document, changed)
    writes.commit()
    return _render([changed], organization_id)[0]


def _relist(
    writes: entities.Writes, organization_id: str, before: dict[str, Any], after: dict[str, Any] | None
) -> None:
    """Keep the fee's listing as paid (lagoon.data.paid_fees: what `regroup_paid_fees` invoices) in step with
    its payment status, in the fee's own transaction."""
    subscription_id = before.get("lago_subscription_id")
    if not subscription_id:
        return
    if after is not None and after["payment_status"] == "succeeded":
        paid_fees.list_paid_fee(writes, organization_id, after)
    elif before.get("payment_status") == "succeeded":
        paid_fees.unlist_paid_fee(writes, organization_id, subscription_id, before["lago_id"])


@retried_on_conflict("fee")
def delete_fee(organization_id: str, lago_id: str) -> dict[str, Any]:
    """`DELETE /fees/{lago_id}`: a fee not invoiced yet (else 405 `invoiced_fee`); answers the deleted fee.
    Decided again on the new state when a concurrent change won (invoiced meanwhile: 405, deleted: 404)."""
    document = _stored(organization_id, lago_id)
    if document.get("lago_invoice_id"):
        raise errors.MethodNotAllowed("invoiced_fee")
    revision = int(document.get("revision", 1))
    writes = entities.Writes().delete(organization_id, FEE_KIND, lago_id, expected_revision=revision)
    _relist(writes, organization_id, document, None)
    writes.commit()
    return _render([document], organization_id)[0]
