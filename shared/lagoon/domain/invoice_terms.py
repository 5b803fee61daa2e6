"""An invoice's terms, from the customer's settings else the organization's: grace period, payment term and
due date, the instant it becomes overdue, its issuing day, and whether a zero-amount invoice is finalized.

Pure rules (no storage, no clock): the billing run, the finalization of drafts and the invoices made at once
(one-off, pay-in-advance) all date their invoices here (docs/invoicing.md "Statuses, numbering, dates").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypedDict

from lagoon.domain.customers import Customer, billing_timezone
from lagoon.domain.invoices import Invoice
from lagoon.domain.organizations import Organization
from lagoon.engine.periods import local_date, local_midnight


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


class IssuedDates(TypedDict):
    issuing_date: str
    payment_due_date: str
    net_payment_term: int


def issued_at(moment: datetime, organization: Organization, customer: Customer) -> IssuedDates:
    """The dates of an invoice issued at `moment` (one-off, pay-in-advance): `issuing_date` is that moment's day
    in the customer's billing timezone, `payment_due_date` the issuing date plus `net_payment_term` days."""
    issuing = local_today(moment, billing_timezone(customer, organization))
    term = net_payment_term(organization, customer)
    return {
        "issuing_date": issuing,
        "payment_due_date": payment_due_date(issuing, term),
        "net_payment_term": term,
    }
