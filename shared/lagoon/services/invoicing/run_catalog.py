"""The catalog as one billing run sees it: an organization's plans, metrics, taxes, customers and number
counters, each read once per run (or once per refresh / finalization), so the run's cost follows subscriptions,
not reads (docs/invoicing.md "Benchmark"); a customer's coupons and invoices, read once per customer billed,
from its index (docs/decisions.md "Bounded reads (issue 17)")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lagoon.data import invoices as invoice_store
from lagoon.data.lookups import Lookups
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.coupons import AppliedCoupon
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import Invoice
from lagoon.domain.organizations import Organization
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription, terms_of
from lagoon.domain.taxes import Tax
from lagoon.engine.periods import SubscriptionTerms
from lagoon.services import organizations
from lagoon.services.catalog import coupons, taxes
from lagoon.services.usage.charges import plan_metrics


@dataclass
class Catalog:
    """Per-run cache of an organization's catalog (plans, metrics, taxes, customers)."""

    organization_id: str
    organization: Organization = field(init=False)
    # Organization, customers, subscriptions and plans, shared with the renders of the run's invoices.
    lookups: Lookups = field(init=False)
    _metrics: dict[str, dict[str, BillableMetric]] = field(default_factory=dict)
    _taxes: dict[str, Tax] | None = None
    _applied_coupons: dict[str, list[AppliedCoupon]] = field(default_factory=dict)
    _invoices: dict[str, dict[str, Invoice]] = field(default_factory=dict)
    _counters: dict[str, invoice_store.Counter] = field(default_factory=dict)
    done_timers: list[str] = field(default_factory=list)
    """Keys of `project` timers whose work is done, deleted together by `drop_done_timers`."""

    def __post_init__(self) -> None:
        self.organization = organizations.get_organization(self.organization_id)
        self.lookups = Lookups(self.organization_id, self.organization)

    def plan(self, plan_id: str) -> Plan:
        return self.lookups.plan(plan_id)

    def metrics(self, plan: Plan) -> dict[str, BillableMetric]:
        if plan.lago_id not in self._metrics:
            self._metrics[plan.lago_id] = plan_metrics(self.organization_id, plan)
        return self._metrics[plan.lago_id]

    def customer(self, customer_id: str) -> Customer:
        return self.lookups.customer(customer_id)

    def timezone(self, customer: Customer) -> str:
        return self.lookups.timezone(customer)

    def taxes(self, codes: Iterable[str]) -> tuple[Tax, ...]:
        if self._taxes is None:
            self._taxes = {t.code: t for t in taxes.list_taxes(self.organization_id)}
        return tuple(self._taxes[code] for code in codes if code in self._taxes)

    def applied_coupons(self, customer_id: str) -> list[AppliedCoupon]:
        """A customer's active applied coupons in application order, read once per customer billed (from its
        index: never the organization's coupons)."""
        if customer_id not in self._applied_coupons:
            self._applied_coupons[customer_id] = coupons.active_applied_coupons(
                self.organization_id, customer_id
            )
        return list(self._applied_coupons[customer_id])

    def coupons_changed(self) -> None:
        self._applied_coupons.clear()

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        """A customer's invoices, read once per customer billed (from its index: never the organization's
        invoices), kept up to date by `remember_invoice`."""
        if customer_id not in self._invoices:
            found = invoice_store.customer_invoices(self.organization_id, customer_id)
            self._invoices[customer_id] = {invoice.lago_id: invoice for invoice in found}
        return list(self._invoices[customer_id].values())

    def remember_invoice(self, invoice: Invoice) -> None:
        if invoice.customer_id in self._invoices:
            self._invoices[invoice.customer_id][invoice.lago_id] = invoice

    def invoices_changed(self) -> None:
        self._invoices.clear()

    def preload_counters(self, customer_ids: list[str]) -> None:
        keys = [invoice_store.customer_counter_key(i) for i in customer_ids]
        self._counters.update(invoice_store.read_counters(self.organization_id, keys))

    def take_counter(self, key: str) -> invoice_store.Counter:
        """A preloaded counter, once (the next use reads it: this run may have moved it), else read now."""
        found = self._counters.pop(key, None)
        return found if found is not None else invoice_store.read_counter(self.organization_id, key)

    def drop_done_timers(self) -> None:
        """One BatchWriteItem per 25 invoices instead of a DeleteItem each; timers left by a crash before this
        are redone by the next run (the work is idempotent)."""
        keys, self.done_timers = self.done_timers, []
        invoice_store.drop_timers(keys)

    def terms(self, subscription: Subscription) -> SubscriptionTerms | None:
        customer = self.customer(subscription.lago_customer_id)
        return terms_of(subscription, self.plan(subscription.plan_id), self.timezone(customer))
