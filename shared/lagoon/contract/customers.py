"""CustomerObject: a customer as the API, its webhooks, subscriptions and invoices render it."""

from __future__ import annotations

from typing import Any

from lagoon.contract.taxes import render_taxes
from lagoon.domain.customers import Customer
from lagoon.domain.organizations import Organization


def render_customer(customer: Customer, organization: Organization) -> dict[str, Any]:
    """CustomerObject of the contract (`organization` gives the timezone a customer without one applies)."""
    body = customer.model_dump(
        mode="json", exclude={"organization_id", "locked_currency", "tax_codes", "revision"}
    )
    body["applicable_timezone"] = customer.timezone or organization.timezone
    if body["billing_entity_code"] is None:
        del body["billing_entity_code"]  # billing entities are not modelled; the field is optional
    body["billing_configuration"] = {k: v for k, v in body["billing_configuration"].items() if v is not None}
    body["integration_customers"] = []
    body["taxes"] = render_taxes(customer.organization_id, customer.tax_codes)
    return body
