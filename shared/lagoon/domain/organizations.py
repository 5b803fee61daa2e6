"""The organization: billing defaults that every customer inherits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from lagoon.domain import validators as v
from lagoon.domain.bounds import InvoiceFooter
from lagoon.domain.webhook_endpoints import check_webhook_url
from lagoon.models import LagoonModel

Country = Annotated[str | None, AfterValidator(v.check_country)]
Currency = Annotated[str | None, AfterValidator(v.check_currency)]
RequiredCurrency = Annotated[
    str | None, Field(validate_default=True), AfterValidator(v.check_required_currency)
]
"""A plan's or add-on's currency: absent or null is `value_is_invalid`, as lago-api answers (declare it
`= None` so pydantic validates the absence instead of answering `value_is_mandatory`)."""
Timezone = Annotated[str | None, AfterValidator(v.check_timezone)]
DocumentLocale = Annotated[str | None, AfterValidator(v.check_document_locale)]
Emails = Annotated[str | None, AfterValidator(v.check_emails)]
# Days (net payment term, invoice grace period): whole numbers, never booleans or strings, at most ten years —
# Lago only requires >= 0; the bound keeps dates computable and rejects obvious mistakes.
MAX_DAYS = 3650
NonNegative = Annotated[int | None, Field(strict=True, ge=0, le=MAX_DAYS)]


def _legacy_webhook_url(value: str | None) -> str | None:
    """The legacy `webhook_url` is validated as a webhook endpoint's URL (null leaves the endpoints alone)."""
    return None if value is None else check_webhook_url(value)


class OrganizationBillingConfiguration(LagoonModel):
    model_config = ConfigDict(extra="ignore")

    invoice_footer: str | None = None
    invoice_grace_period: NonNegative = 0
    document_locale: DocumentLocale = "en"


class OrganizationBillingConfigurationInput(OrganizationBillingConfiguration):
    """`billing_configuration` of `PUT /organizations`: the footer within Lago's 600 characters (checked when
    written, so a stored organization always reads back)."""

    invoice_footer: InvoiceFooter | None = None


class Organization(LagoonModel):
    """Stored organization (the hmac_key never leaves the service layer except through the admin CLI)."""

    model_config = ConfigDict(extra="ignore")

    lago_id: str
    name: str
    created_at: str
    hmac_key: str
    webhook_url: str | None = None
    country: str | None = None
    default_currency: str = "USD"
    address_line1: str | None = None
    address_line2: str | None = None
    state: str | None = None
    zipcode: str | None = None
    email: str | None = None
    city: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    document_numbering: Literal["per_customer", "per_organization"] = "per_customer"
    document_number_prefix: str
    net_payment_term: int = 0
    tax_identification_number: str | None = None
    timezone: str = "UTC"
    email_settings: list[str] = Field(default_factory=list)
    billing_configuration: OrganizationBillingConfiguration = Field(
        default_factory=OrganizationBillingConfiguration
    )
    finalize_zero_amount_invoice: bool = True
    tax_codes: list[str] = Field(default_factory=list)
    # Whether its webhooks may go to private networks (lagoon.domain.webhook_addresses): set by an operator
    # (`python -m lagoon.admin webhook-private-networks`), never through the API, never rendered.
    webhook_private_networks: bool = False
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""


class OrganizationUpdate(LagoonModel):
    """`PUT /organizations` body (OrganizationUpdateInput): only fields sent are changed."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    webhook_url: Annotated[str | None, AfterValidator(_legacy_webhook_url)] = None
    country: Country = None
    default_currency: Currency = None
    address_line1: str | None = None
    address_line2: str | None = None
    state: str | None = None
    zipcode: str | None = None
    email: Emails = None
    city: str | None = None
    legal_name: str | None = None
    legal_number: str | None = None
    document_numbering: Literal["per_customer", "per_organization"] | None = None
    document_number_prefix: Annotated[str | None, Field(min_length=1, max_length=10)] = None
    net_payment_term: NonNegative = None
    tax_identification_number: str | None = None
    timezone: Timezone = None
    email_settings: list[Literal["invoice.finalized", "credit_note.created"]] | None = None
    billing_configuration: OrganizationBillingConfigurationInput | None = None
    finalize_zero_amount_invoice: bool | None = None
    tax_codes: list[str] | None = None
