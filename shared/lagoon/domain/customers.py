"""Customers: the input of `POST /customers` (upsert) and the stored customer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from lagoon.domain.bounds import CustomerMetadataValue, CustomerName, MetadataKey
from lagoon.domain.organizations import (
    Country,
    Currency,
    DocumentLocale,
    Emails,
    NonNegative,
    Organization,
    Timezone,
)
from lagoon.models import LagoonModel

# The external id is a DynamoDB sort key (the customer's alias), and those hold at most 1,024 bytes.
MAX_EXTERNAL_ID_BYTES = 1024


def check_external_id(value: str) -> str:
    """Blank (empty or only spaces) is Lago's `value_is_mandatory`; longer than a key can hold, `value_is_too_long`."""
    if not value.strip():
        raise PydanticCustomError("value_is_mandatory", "external_id must not be blank")
    if len(value.encode()) > MAX_EXTERNAL_ID_BYTES:
        raise PydanticCustomError("value_is_too_long", "external_id is at most 1024 bytes (UTF-8)")
    return value


class Address(LagoonModel):
    model_config = ConfigDict(extra="ignore")

    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    zipcode: str | None = None
    state: str | None = None
    country: Country = None


class CustomerBillingConfiguration(LagoonModel):
    """Payment-provider fields are stored as sent; no provider is ever called (DEVELOPERS brief)."""

    model_config = ConfigDict(extra="ignore")

    invoice_grace_period: NonNegative = None
    subscription_invoice_issuing_date_anchor: Literal["current_period_end", "next_period_start"] | None = None
    subscription_invoice_issuing_date_adjustment: (
        Literal["align_with_finalization_date", "keep_anchor"] | None
    ) = None
    payment_provider: Literal["stripe", "adyen", "gocardless"] | None = None
    payment_provider_code: str | None = None
    provider_customer_id: str | None = None
    sync: bool | None = None
    sync_with_provider: bool | None = None
    document_locale: DocumentLocale = None
    provider_payment_methods: list[str] | None = None


class MetadataInput(LagoonModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    key: MetadataKey
    value: CustomerMetadataValue
    display_in_invoice: bool


class CustomerInput(LagoonModel):
    """The `customer` object of CustomerCreateInput."""

    model_config = ConfigDict(extra="ignore")

    external_id: Annotated[str, AfterValidator(check_external_id)]
    billing_entity_code: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    country: Country = None
    currency: Currency = None
    email: Emails = None
    legal_name: str | None = None
    legal_number: str | None = None
    logo_url: str | None = None
    name: CustomerName | None = None
    firstname: str | None = None
    lastname: str | None = None
    account_type: Literal["customer", "partner"] | None = None
    customer_type: Literal["company", "individual"] | None = None
    phone: str | None = None
    state: str | None = None
    tax_codes: list[str] | None = None
    tax_identification_number: str | None = None
    timezone: Timezone = None
    url: str | None = None
    zipcode: str | None = None
    net_payment_term: NonNegative = None
    finalize_zero_amount_invoice: Literal["inherit", "skip", "finalize"] | None = None
    billing_configuration: CustomerBillingConfiguration | None = None
    shipping_address: Address | None = None
    metadata: list[MetadataInput] | None = None
    skip_invoice_custom_sections: bool | None = None


class CustomerMetadata(LagoonModel):
    lago_id: str
    key: str
    value: str
    display_in_invoice: bool
    created_at: str


class Customer(LagoonModel):
    """A stored customer. `locked_currency` is set once a subscription, coupon or invoice is attached."""

    model_config = ConfigDict(extra="ignore")

    lago_id: str
    organization_id: str
    sequential_id: int
    slug: str
    external_id: str
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    billing_entity_code: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    country: str | None = None
    currency: str | None = None
    email: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    logo_url: str | None = None
    name: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    account_type: Literal["customer", "partner"] = "customer"
    customer_type: Literal["company", "individual"] | None = None
    phone: str | None = None
    state: str | None = None
    tax_codes: list[str] = Field(default_factory=list)
    tax_identification_number: str | None = None
    timezone: str | None = None
    url: str | None = None
    zipcode: str | None = None
    net_payment_term: int | None = None
    finalize_zero_amount_invoice: Literal["inherit", "skip", "finalize"] = "inherit"
    skip_invoice_custom_sections: bool = False
    billing_configuration: CustomerBillingConfiguration = Field(default_factory=CustomerBillingConfiguration)
    shipping_address: Address = Field(default_factory=Address)
    metadata: list[CustomerMetadata] = Field(default_factory=list)
    locked_currency: bool = False
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""


def billing_timezone(customer: Customer, organization: Organization) -> str:
    """The timezone a customer is billed in: its own, else its organization's, else UTC (Lago's
    `applicable_timezone`)."""
    return customer.timezone or organization.timezone or "UTC"
