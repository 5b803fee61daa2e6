"""Customer storage: documents by lago_id, and the external_id alias of live customers."""

from __future__ import annotations

from lagoon import errors
from lagoon.data import entities
from lagoon.domain.customers import MAX_EXTERNAL_ID_BYTES, Customer

CUSTOMER = "customer"
CUSTOMER_BY_EXTERNAL_ID = "customer_external_id"


def find_customer(organization_id: str, external_id: str) -> Customer | None:
    if len(external_id.encode()) > MAX_EXTERNAL_ID_BYTES:
        return None  # no customer can have it (and DynamoDB refuses such a key)
    alias = entities.get(organization_id, CUSTOMER_BY_EXTERNAL_ID, external_id)
    if alias is None:
        return None
    document = entities.get(organization_id, CUSTOMER, alias["lago_id"])
    return Customer.model_validate(document) if document else None


def get_customer(organization_id: str, external_id: str) -> Customer:
    customer = find_customer(organization_id, external_id)
    if customer is None:
        raise errors.NotFound("customer")
    return customer


def get_customer_by_id(organization_id: str, lago_id: str) -> Customer:
    document = entities.get(organization_id, CUSTOMER, lago_id)
    if document is None:
        raise errors.NotFound("customer")
    return Customer.model_validate(document)


def get_customers_by_ids(organization_id: str, lago_ids: list[str]) -> dict[str, Customer]:
    """Customers by lago_id, in BatchGetItem requests; unknown ids are absent."""
    documents = entities.get_many(organization_id, CUSTOMER, lago_ids)
    return {key: Customer.model_validate(document) for key, document in documents.items()}


def lock_currency(writes: entities.Writes, customer: Customer, currency: str) -> Customer:
    """Attach an object in `currency`: sets the customer's currency if unset, else requires it to match."""
    if customer.currency and customer.currency != currency:
        raise errors.ValidationFailed.field("currency", "currencies_does_not_match")
    locked = customer.model_copy(update={"currency": currency, "locked_currency": True})
    stored = writes.put_revised(
        customer.organization_id, CUSTOMER, customer.lago_id, locked.model_dump(mode="json")
    )
    return Customer.model_validate(stored)
