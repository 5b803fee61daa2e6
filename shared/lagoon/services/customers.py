"""Customers: upsert by external_id, read, list, delete — with their webhook messages in the same write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from lagoon import errors
from lagoon.contract.customers import render_customer
from lagoon.data import entities
from lagoon.data.customers import (  # re-exported: callers read through this service
    CUSTOMER,
    CUSTOMER_BY_EXTERNAL_ID,
    find_customer as find_customer,
    get_customer as get_customer,
    get_customer_by_id as get_customer_by_id,
    get_customers_by_ids as get_customers_by_ids,
    lock_currency as lock_currency,
)
from lagoon.domain.customers import Customer, CustomerInput, CustomerMetadata
from lagoon.domain.organizations import Organization
from lagoon.services import organizations
from lagoon.services.catalog import taxes
from lagoon.services.contention import retried_on_conflict

CUSTOMER_SEQUENCE = "customer"
"""The organization's counter of customers (`sequential_id`): gapless, as Lago's."""


def _merge_metadata(existing: list[CustomerMetadata], sent: list[Any]) -> list[CustomerMetadata]:
    """Lago: items with a known id are updated, items without an id are added, the rest are removed."""
    by_id = {item.lago_id: item for item in existing}
    merged: list[CustomerMetadata] = []
    for item in sent:
        previous = by_id.get(item.id) if item.id else None
        merged.append(
            CustomerMetadata(
                lago_id=previous.lago_id if previous else str(uuid.uuid4()),
                key=item.key,
                value=item.value,
                display_in_invoice=item.display_in_invoice,
                created_at=previous.created_at if previous else entities.now_iso(),
            )
        )
    return merged


@retried_on_conflict("customer")
def upsert_customer(organization_id: str, data: CustomerInput) -> tuple[Customer, bool]:
    """Create the customer, or update the fields sent if external_id is known. Returns (customer, created).

    Racing requests for one external_id create it once: the others, retried, apply theirs as updates of it.
    The customer's `sequential_id` is taken in the creating transaction, so a lost race burns no number."""
    if data.tax_codes is not None:
        taxes.check_tax_codes(organization_id, data.tax_codes)
    organization = organizations.get_organization(organization_id)
    current = find_customer(organization_id, data.external_id)
    writes = entities.Writes()
    if current is None:
        sequential_id = writes.take_sequence(
            organization_id, CUSTOMER_SEQUENCE, entities.read_sequence(organization_id, CUSTOMER_SEQUENCE)
        )
        customer = _new_customer(organization, data, sequential_id)
    else:
        customer = _updated_customer(current, data)
    customer = Customer.model_validate(_with_nested_fields(customer, data).model_dump())
    if current is None:
        writes.put(
            organization_id, CUSTOMER, customer.lago_id, customer.model_dump(mode="json"), must_not_exist=True
        )
        writes.put(
            organization_id,
            CUSTOMER_BY_EXTERNAL_ID,
            customer.external_id,
            {"lago_id": customer.lago_id},
            must_not_exist=True,
        )
    else:
        stored = writes.put_revised(
            organization_id, CUSTOMER, customer.lago_id, customer.model_dump(mode="json")
        )
        customer = Customer.model_validate(stored)
    writes.message(
        entities.OutboxMessage(
            organization_id=organization_id,
            webhook_type="customer.created" if current is None else "customer.updated",
            object_type="customer",
            payload=render_customer(customer, organization),
        )
    )
    writes.commit()
    return customer, current is None


def _sent_fields(data: CustomerInput) -> dict[str, Any]:
    return data.model_dump(
        exclude_unset=True, exclude={"metadata", "billing_configuration", "shipping_address"}
    )


def _new_customer(organization: Organization, data: CustomerInput, sequential_id: int) -> Customer:
    now = entities.now_iso()
    return Customer(
        lago_id=str(uuid.uuid4()),
        organization_id=organization.lago_id,
        sequential_id=sequential_id,
        slug=f"{organization.document_number_prefix}-{sequential_id:03d}",
        created_at=now,
        updated_at=now,
        **{k: v for k, v in _sent_fields(data).items() if v is not None or k in ("currency",)},
    )


def _updated_customer(current: Customer, data: CustomerInput) -> Customer:
    sent = _sent_fields(data)
    if (
        "currency" in sent
        and current.locked_currency
        and current.currency
        and sent["currency"] != current.currency
    ):
        raise errors.ValidationFailed.field("currency", "currencies_does_not_match")
    updates = {k: v for k, v in sent.items() if k != "external_id"}
    for key in ("account_type", "finalize_zero_amount_invoice", "skip_invoice_custom_sections", "tax_codes"):
        if updates.get(key, "") is None:
            updates.pop(key)
    return current.model_copy(update={**updates, "updated_at": entities.now_iso()})


def _with_nested_fields(customer: Customer, data: CustomerInput) -> Customer:
    """The billing configuration (merged), shipping address and metadata (Lago's merge) sent."""
    if data.billing_configuration is not None:
        merged = customer.billing_configuration.model_dump()
        merged.update(data.billing_configuration.model_dump(exclude_unset=True))
        customer = customer.model_copy(
            update={"billing_configuration": type(customer.billing_configuration)(**merged)}
        )
    if data.shipping_address is not None:
        customer = customer.model_copy(update={"shipping_address": data.shipping_address})
    if data.metadata is not None:
        customer = customer.model_copy(update={"metadata": _merge_metadata(customer.metadata, data.metadata)})
    return customer


@dataclass(frozen=True)
class CustomerFilters:
    account_types: tuple[str, ...] = ()
    billing_entity_codes: tuple[str, ...] = ()
    search_term: str | None = None
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    zipcodes: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    has_tax_identification_number: bool | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    customer_type: str | None = None
    has_customer_type: bool | None = None

    def accepts(self, c: Customer) -> bool:
        checks = [
            not self.account_types or c.account_type in self.account_types,
            not self.billing_entity_codes or c.billing_entity_code in self.billing_entity_codes,
            not self.countries or c.country in self.countries,
            not self.states or c.state in self.states,
            not self.zipcodes or c.zipcode in self.zipcodes,
            not self.currencies or c.currency in self.currencies,
            self.has_tax_identification_number is None
            or bool(c.tax_identification_number) == self.has_tax_identification_number,
            self.customer_type is None or c.customer_type == self.customer_type,
            self.has_customer_type is None or (c.customer_type is not None) == self.has_customer_type,
            all(any(m.key == k and m.value == v for m in c.metadata) for k, v in self.metadata),
        ]
        if self.search_term:
            term = self.search_term.lower()
            haystack = [c.name, c.firstname, c.lastname, c.external_id, c.email, c.legal_name]
            checks.append(any(term in (h or "").lower() for h in haystack))
        return all(checks)


def list_customers(organization_id: str, filters: CustomerFilters) -> list[Customer]:
    """Active customers, newest first (Lago's order), filtered."""
    customers = [Customer.model_validate(doc) for doc in entities.query(organization_id, CUSTOMER)]
    active = [c for c in customers if c.deleted_at is None and filters.accepts(c)]
    return sorted(active, key=lambda c: (c.created_at, c.sequential_id), reverse=True)


def mark_customer_deleted(organization_id: str, customer: Customer) -> Customer:
    """The last step of a customer's deletion (lagoon.services.lifecycle.delete_customer ends its subscriptions,
    drafts and coupons first): the customer is deleted and its external_id is free again — on the condition
    that the customer did not change since the cascade read it (else ConflictRetry: the cascade runs again)."""
    now = entities.now_iso()
    deleted = customer.model_copy(update={"deleted_at": now, "updated_at": now})
    writes = entities.Writes()
    stored = writes.put_revised(organization_id, CUSTOMER, customer.lago_id, deleted.model_dump(mode="json"))
    writes.delete(organization_id, CUSTOMER_BY_EXTERNAL_ID, customer.external_id, must_exist=True)
    writes.commit()
    return Customer.model_validate(stored)
