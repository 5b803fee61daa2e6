"""Reads of one organization's objects, each done once: what rendering invoices and subscriptions needs.

An invoice renders its customer (with the organization's timezone), each of its subscriptions, their plans and
customer again; the billing run renders each invoice for its webhook, so without memory every invoice would
read the same organization, customer, subscriptions and plans several times (the run's cost must follow
subscriptions, not renders). A billing run keeps one `Lookups` for the whole run; a request renders with a
fresh one. Objects are as read at their first use: fine for rendering, not for deciding anything.
"""

from __future__ import annotations

from lagoon.data import catalog, customers, organizations, subscriptions
from lagoon.domain.customers import Customer, billing_timezone
from lagoon.domain.organizations import Organization
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription


class Lookups:
    def __init__(self, organization_id: str, organization: Organization | None = None) -> None:
        self.organization_id = organization_id
        self._organization = organization
        self._customers: dict[str, Customer] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._plans: dict[str, Plan] = {}

    @property
    def organization(self) -> Organization:
        if self._organization is None:
            self._organization = organizations.get_organization(self.organization_id)
        return self._organization

    def customer(self, lago_id: str) -> Customer:
        if lago_id not in self._customers:
            self._customers[lago_id] = customers.get_customer_by_id(self.organization_id, lago_id)
        return self._customers[lago_id]

    def preload_customers(self, lago_ids: list[str]) -> None:
        """Read these customers in batches (100 a request) instead of one request each at first use."""
        wanted = [i for i in dict.fromkeys(lago_ids) if i not in self._customers]
        if wanted:
            self._customers.update(customers.get_customers_by_ids(self.organization_id, wanted))

    def subscription(self, lago_id: str) -> Subscription:
        if lago_id not in self._subscriptions:
            self._subscriptions[lago_id] = subscriptions.get_subscription_by_id(self.organization_id, lago_id)
        return self._subscriptions[lago_id]

    def plan(self, lago_id: str) -> Plan:
        """Deleted plans too: old invoices and subscriptions still name them."""
        if lago_id not in self._plans:
            self._plans[lago_id] = catalog.PLANS.get_by_id(
                self.organization_id, lago_id, include_deleted=True
            )
        return self._plans[lago_id]

    def remember(self, *found: Subscription) -> None:
        """Subscriptions the caller has already read."""
        for subscription in found:
            self._subscriptions[subscription.lago_id] = subscription

    def timezone(self, customer: Customer) -> str:
        """The customer's `billing_timezone` (the organization is read only when the customer has none)."""
        if customer.timezone:
            return customer.timezone
        return billing_timezone(customer, self.organization)
