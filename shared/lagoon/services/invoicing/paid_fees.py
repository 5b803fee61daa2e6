"""Paid fees regrouped on an invoice, for plans with a charge `regroup_paid_fees: invoice` (paid in advance, not
invoiceable), as lago-api's `Invoices::AdvanceChargesService` (`BillNonInvoiceableFeesJob`) does:

- when: with each periodic or terminating invoice of a subscription whose plan has such a charge (Lago runs it
  with a subscription's periodic billing, its termination and a plan change);
- what: the fees of that subscription (and of the one it replaced) attached to no invoice whose payment status
  is `succeeded` (`PUT /fees/{lago_id}`), paid by the invoice's boundary — and, at a periodic boundary of an
  active subscription without a pending plan change, whose charges period has ended by then (Lago's
  `charges_to_datetime` condition). Lago regroups every such fee of those subscriptions, whichever of the
  plan's charges made it; so does Lagoon;
- how: on an invoice of their own (`invoice_type` advance_charges): one billing period per subscription with
  fees (`in_advance_charge_periodic`, the charges period of the invoice that triggers it); amounts are the
  fees' sums and taxes the fees' own, summed per tax (`AggregateAmountsAndTaxesFromFees`: nothing recomputed,
  no coupon); `payment_status` succeeded (already paid), finalized and numbered at once, or `closed` when it
  is zero and the customer skips those; `invoice.created`, its PDF; each fee's `lago_invoice_id` becomes the
  invoice's. Nothing to regroup: no invoice. Lago also records a manual payment of the total: payments are
  deferred in Lagoon (DECISIONS.md), the invoice's status says it is paid.

At most `MAX_FEES` fees a invoice (one DynamoDB transaction holds the invoice and, per fee, its document and
its listing): more fees make several invoices, in payment order.

Exactly once: the period invoice's transaction records a `regroup` invoice timer, done right after its commit
and redone by the next run after a crash. The invoices' ids derive from the period invoice's (and their rank);
each is created, if absent, in one transaction that attaches its fees under their documents' revisions and
deletes their listings (lagoon.data.paid_fees), so a concurrent run, a replay or a `PUT /fees` racing with it
loses its condition: a fee is regrouped once, and never once its payment was undone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.contract.invoices import invoice_applied_tax
from lagoon.data import entities, invoices as invoice_store
from lagoon.data.paid_fees import PaidFee, paid_fees_of, unlist_paid_fee
from lagoon.domain.customers import Customer
from lagoon.domain.invoice_terms import issued_at
from lagoon.domain.invoices import FEE_KIND, Invoice, InvoicePart, Period, stable_id
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription
from lagoon.domain.times import iso, parse_iso
from lagoon.services.invoicing import numbering
from lagoon.services.invoicing.one_off_invoices import finalize_new_invoice
from lagoon.services.invoicing.run_catalog import Catalog

MAX_FEES = 40
MAX_ATTEMPTS = 5
_REGROUPING_REASONS = ("subscription_periodic", "subscription_terminating")


def regroups_paid_fees(plan: Plan) -> bool:
    """Whether the plan has a charge that regroups its paid fees on an invoice (Lago's `has_charges_with_statement?`)."""
    return any(
        c.pay_in_advance and not c.invoiceable and c.regroup_paid_fees == "invoice" for c in plan.charges
    )


def regrouping_parts(catalog: Catalog, parts: Sequence[InvoicePart]) -> list[InvoicePart]:
    """The parts of a period invoice whose subscription's paid fees are regrouped with it."""
    found = []
    for part in parts:
        if part.invoicing_reason not in _REGROUPING_REASONS:
            continue
        subscription = catalog.lookups.subscription(part.subscription_id)
        if regroups_paid_fees(catalog.plan(subscription.plan_id)):
            found.append(part)
    return found


def regroup_paid_fees(catalog: Catalog, period_invoice: Invoice, moment: datetime) -> list[Invoice]:
    """The advance_charges invoices of what `period_invoice` regroups (idempotent: those already made are
    skipped, the fees left are regrouped on the next ones)."""
    parts = regrouping_parts(catalog, period_invoice.parts)
    if not parts:
        return []
    made: list[Invoice] = []
    for rank in itertools.count():
        lago_id = stable_id(catalog.organization_id, "advance_charges", period_invoice.lago_id, str(rank))
        if invoice_store.find_invoice(catalog.organization_id, lago_id) is not None:
            continue
        stored = _regroup_next(catalog, period_invoice, parts, lago_id, rank, moment)
        if stored is None:
            return made
        made.append(stored)
    return made  # pragma: no cover (itertools.count never ends)


def _regroup_next(
    catalog: Catalog,
    period_invoice: Invoice,
    parts: list[InvoicePart],
    lago_id: str,
    rank: int,
    moment: datetime,
) -> Invoice | None:
    """Create the invoice `lago_id` with the next paid fees (None: none left); a lost race re-reads them."""
    organization_id = catalog.organization_id
    customer = catalog.customer(period_invoice.customer_id)
    for _attempt in range(MAX_ATTEMPTS):
        fees = _paid_fees(catalog, period_invoice, parts)[:MAX_FEES]
        if not fees:
            return None
        draft = _build(catalog, customer, period_invoice, parts[0], fees, lago_id, rank, moment)
        writes = entities.Writes()
        for fee in fees:
            revision = int(fee.get("revision", 1))
            attached = dict(fee, lago_invoice_id=lago_id, revision=revision + 1)
            writes.put(
                organization_id,
                FEE_KIND,
                fee["lago_id"],
                attached,
                expected_revision=revision,
                revision=revision + 1,
            )
            unlist_paid_fee(writes, organization_id, fee["lago_subscription_id"], fee["lago_id"])
        stored = finalize_new_invoice(
            writes, catalog.organization, customer, draft, moment, webhook_type="invoice.created"
        )
        try:
            writes.commit()
        except errors.ConflictRetry:
            found = invoice_store.find_invoice(organization_id, lago_id)
            if found is not None:
                return found  # a concurrent run made it
            continue  # a fee changed, or another invoice of the customer took the number
        return stored
    raise errors.TransientFailure("the paid fees could not be regrouped, retry")


def _paid_fees(catalog: Catalog, period_invoice: Invoice, parts: list[InvoicePart]) -> list[dict[str, Any]]:
    """The fee documents to regroup, oldest payment first (listings whose fee changed are left out)."""
    billing_at = parse_iso(period_invoice.boundary)
    assert billing_at is not None
    subscriptions = [catalog.lookups.subscription(part.subscription_id) for part in parts]
    bounded = all(_periodic(part, s) for part, s in zip(parts, subscriptions, strict=True))
    wanted_ids = [i for s in subscriptions for i in (s.lago_id, s.previous_subscription_id) if i]
    listed = [p for p in paid_fees_of(catalog.organization_id, wanted_ids) if _due(p, billing_at, bounded)]
    if not listed:
        return []
    documents = entities.get_many(catalog.organization_id, FEE_KIND, [p.fee_id for p in listed])
    return [
        documents[p.fee_id]
        for p in listed
        if p.fee_id in documents
        and not documents[p.fee_id].get("lago_invoice_id")
        and documents[p.fee_id].get("payment_status") == "succeeded"
    ]


def _periodic(part: InvoicePart, subscription: Subscription) -> bool:
    """Lago's regular periodic billing: an active subscription, no pending plan change, not terminating."""
    return (
        part.invoicing_reason == "subscription_periodic"
        and subscription.status == "active"
        and subscription.next_subscription_id is None
    )


def _due(paid: PaidFee, billing_at: datetime, bounded: bool) -> bool:
    if paid.succeeded_at > billing_at:
        return False
    return not bounded or paid.charges_to is None or paid.charges_to <= billing_at


def _build(
    catalog: Catalog,
    customer: Customer,
    period_invoice: Invoice,
    trigger: InvoicePart,
    fees: list[dict[str, Any]],
    lago_id: str,
    rank: int,
    moment: datetime,
) -> Invoice:
    """The advance_charges invoice of `fees` before numbering; the fees it holds point at it."""
    stamp = iso(moment)
    billing_at = parse_iso(period_invoice.boundary)
    assert billing_at is not None
    period = trigger.charges_period or trigger.fee_period or trigger.commitment_period
    bodies = [
        {**{k: v for k, v in fee.items() if k != "revision"}, "lago_invoice_id": lago_id} for fee in fees
    ]
    amount = sum(int(body["amount_cents"]) for body in bodies)
    taxes = sum(int(body["taxes_amount_cents"]) for body in bodies)
    return Invoice(
        lago_id=lago_id,
        organization_id=catalog.organization_id,
        customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        billing_key=f"{customer.lago_id}#advance_charges#{period_invoice.lago_id}#{rank}",
        boundary=period_invoice.boundary,
        parts=[
            _part(subscription_id, period)
            for subscription_id in dict.fromkeys(b["lago_subscription_id"] for b in bodies)
        ],
        invoice_type="advance_charges",
        status="draft",
        payment_status="succeeded",
        number=numbering.draft_number(catalog.organization),
        **issued_at(billing_at, catalog.organization, customer),
        currency=period_invoice.currency,
        fees_amount_cents=amount,
        sub_total_excluding_taxes_amount_cents=amount,
        taxes_amount_cents=taxes,
        sub_total_including_taxes_amount_cents=amount + taxes,
        total_amount_cents=amount + taxes,
        fees=bodies,
        applied_taxes=_applied_taxes(lago_id, period_invoice.currency, stamp, bodies),
        created_at=stamp,
        updated_at=stamp,
        finalized_at=stamp,
        revision=0,
    )


def _part(subscription_id: str, period: Period | None) -> InvoicePart:
    return InvoicePart(
        subscription_id=subscription_id,
        invoicing_reason="in_advance_charge_periodic",
        fee_period=period,
        charges_period=period,
    )


def _applied_taxes(
    invoice_id: str, currency: str, created_at: str, bodies: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The fees' taxes summed per tax: what was paid with them (Lago recomputes nothing here)."""
    totals: dict[str, dict[str, Any]] = {}
    for body in bodies:
        for tax in body.get("applied_taxes") or []:
            total = totals.setdefault(
                tax["tax_code"], {"tax": tax, "amount_cents": 0, "fees_amount_cents": 0}
            )
            total["amount_cents"] += int(tax["amount_cents"])
            total["fees_amount_cents"] += int(body["amount_cents"])
    return [
        invoice_applied_tax(
            invoice_id,
            currency,
            created_at,
            code=code,
            name=total["tax"]["tax_name"],
            rate=total["tax"]["tax_rate"],
            lago_tax_id=total["tax"]["lago_tax_id"],
            description=total["tax"]["tax_description"],
            amount_cents=total["amount_cents"],
            fees_amount_cents=total["fees_amount_cents"],
        )
        for code, total in totals.items()
    ]
