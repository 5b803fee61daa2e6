"""Add-ons: one-off fees (setup fee, consulting…) billed on one-off invoices, with their default taxes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field

from lagoon.domain.bounds import CatalogCode, NonEmptyText
from lagoon.domain.organizations import Currency, RequiredCurrency
from lagoon.domain.validators import BIGINT_MAX, check_above_zero
from lagoon.models import LagoonModel

AddOnAmount = Annotated[int, Field(le=BIGINT_MAX), AfterValidator(check_above_zero)]
"""Above 0 (lago-api `AddOn`: `numericality: {greater_than: 0}` → `value_is_out_of_range`)."""


class AddOnCreateInput(LagoonModel):
    """`add_on` of `POST /add_ons` (name, code, amount_cents and amount_currency are required)."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText
    code: CatalogCode
    amount_cents: AddOnAmount
    amount_currency: RequiredCurrency = None
    invoice_display_name: str | None = None
    description: str | None = None
    tax_codes: list[str] | None = None


class AddOnUpdateInput(LagoonModel):
    """`add_on` of `PUT /add_ons/{code}`: only the fields sent change."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText | None = None
    code: CatalogCode | None = None
    amount_cents: AddOnAmount | None = None
    amount_currency: Currency = None
    invoice_display_name: str | None = None
    description: str | None = None
    tax_codes: list[str] | None = None


class AddOn(LagoonModel):
    """A stored add-on (kind `add_on`, key `lago_id`). Its `tax_codes` are the default taxes of its fees
    (else the customer's, else the organization's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    organization_id: str
    name: str
    code: str
    amount_cents: int
    amount_currency: str
    invoice_display_name: str | None = None
    description: str | None = None
    tax_codes: list[str] = Field(default_factory=list)
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""
