"""Taxes: the request bodies of `/taxes` and the stored tax rate.

Objects name their taxes by code (`tax_codes` on the organization, customers, plans, charges, minimum
commitments and add-ons); `lagoon.services.catalog.taxes` resolves the codes to `Tax` objects.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, field_serializer
from pydantic_core import PydanticCustomError

from lagoon.domain.bounds import CatalogCode, NonEmptyText
from lagoon.engine.properties import parse_decimal
from lagoon.models import LagoonModel


def _parse_rate(value: Any) -> Decimal | None:
    """A percentage given as a decimal string ("20.0", the spec) or a number (20.00, the docs' samples)."""
    if value is None:
        return None
    parsed = parse_decimal(value)
    if parsed is None or parsed < 0:
        raise PydanticCustomError("value_is_invalid", "not a non-negative decimal rate")
    return parsed


Rate = Annotated[Decimal | None, BeforeValidator(_parse_rate)]


class TaxCreateInput(LagoonModel):
    """`tax` of `POST /taxes` (name, code and rate are required)."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText
    code: CatalogCode
    rate: Rate
    description: str | None = None
    applied_to_organization: bool | None = None


class TaxUpdateInput(LagoonModel):
    """`tax` of `PUT /taxes/{code}`: only the fields sent change."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText | None = None
    code: CatalogCode | None = None
    rate: Rate = None
    description: str | None = None
    applied_to_organization: bool | None = None


class Tax(LagoonModel):
    """A stored tax rate (kind `tax`, key `lago_id`): `rate` is a percentage (20 means 20 %).

    Whether it applies to the whole organization is not stored here: the organization's `tax_codes` say so.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    organization_id: str
    name: str
    code: str
    rate: Decimal
    description: str | None = None
    created_at: str
    updated_at: str
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""

    @field_serializer("rate")
    def _rate_text(self, value: Decimal) -> str:
        return format(value, "f")
