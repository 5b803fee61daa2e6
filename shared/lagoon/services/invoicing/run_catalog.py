"""The catalog as one billing run sees it: an organization's plans, metrics, taxes, customers, coupons, invoices
and number counters, each read once per run (or once per refresh / finalization), so the run's cost follows
subscriptions, not reads (docs/invoicing.md "Benchmark")."""

from __future__ import annotations

from collections import defaultdict
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
    _applied_coupons: dict[str, list[AppliedCoupon]] | None = None
    _invoices: dict[str, dict[str, Invoice]] | None = None
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
        """A customer's active applied coupons in application order (all customers read in one query)."""
        if self._applied_coupons is None:
            self._applied_coupons = defaultdict(list)
            active = coupons.list_applied_coupons(
                self.organization_id, coupons.AppliedCouponFilters(status="active")
            )
            for applied in sorted(active, key=lambda a: a.created_at):
                self._applied_coupons[applied.customer_id].append(applied)
        return list(self._applied_coupons.get(customer_id, []))

    def coupons_changed(self) -> None:
        self._applied_coupons = None

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        """A customer's invoices (all customers read in one query, kept up to date by `remember_invoice`)."""
        if self._invoices is None:
            self._invoices = defaultdict(dict)
            for found in invoice_store.all_invoices(self.organization_id):
                self._invoices[found.customer_id][found.lago_id] = found
        return list(self._invoices.get(customer_id, {}).values())

    def remember_invoice(self, invoice: Invoice) -> None:
        if self._invoices is not None:
            self._invoices.setdefault(invoice.customer_id, {})[invoice.lago_id] = invoice

    def invoices_changed(self) -> None:
        self._invoices = None

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
