"""Coupons and applied coupons: request bodies and the stored objects invoicing deducts from.

A coupon is the catalog entry; an applied coupon is that coupon given to one customer, possibly with its
amount, rate or frequency overridden. Invoicing consumes applied coupons in the order they were applied.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_serializer
from pydantic_core import PydanticCustomError

from lagoon.domain.bounds import CatalogCode, NonEmptyText, NonNegativeInt
from lagoon.domain.organizations import Currency
from lagoon.domain.times import iso, parse_input_datetime
from lagoon.engine.properties import parse_decimal
from lagoon.models import LagoonModel

CouponType = Literal["fixed_amount", "percentage"]
Frequency = Literal["once", "recurring", "forever"]
Expiration = Literal["no_expiration", "time_limit"]
Status = Literal["active", "terminated"]


def _parse_rate(value: Any) -> Decimal | None:
    if value is None:
        return None
    parsed = parse_decimal(value)
    if parsed is None or parsed < 0:
        raise PydanticCustomError("value_is_invalid", "not a non-negative decimal rate")
    return parsed


def _parse_datetime(value: Any) -> str | None:
    """An ISO 8601 date or date-time, kept as UTC text (`2022-08-08T23:59:59Z`); a date means its end."""
    if value is None:
        return None
    try:
        parsed = parse_input_datetime(value)
    except ValueError:
        raise PydanticCustomError("invalid_date", "not an ISO 8601 date") from None
    if len(value) == 10:  # a bare date: the coupon is valid through that whole day
        parsed = parsed.replace(hour=23, minute=59, second=59)
    return iso(parsed)


Rate = Annotated[Decimal | None, BeforeValidator(_parse_rate)]
DateTimeText = Annotated[str | None, BeforeValidator(_parse_datetime)]


class AppliesTo(LagoonModel):
    model_config = ConfigDict(extra="ignore")

    plan_codes: list[str] | None = None
    billable_metric_codes: list[str] | None = None


class CouponCreateInput(LagoonModel):
    """`coupon` of `POST /coupons`."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText
    code: CatalogCode
    coupon_type: CouponType
    frequency: Frequency
    expiration: Expiration
    description: str | None = None
    amount_cents: NonNegativeInt | None = None
    amount_currency: Currency = None
    percentage_rate: Rate = None
    reusable: bool | None = None
    frequency_duration: NonNegativeInt | None = None
    expiration_at: DateTimeText = None
    applies_to: AppliesTo | None = None


class CouponUpdateInput(LagoonModel):
    """`coupon` of `PUT /coupons/{code}`: only the fields sent change."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText | None = None
    code: CatalogCode | None = None
    coupon_type: CouponType | None = None
    frequency: Frequency | None = None
    expiration: Expiration | None = None
    description: str | None = None
    amount_cents: NonNegativeInt | None = None
    amount_currency: Currency = None
    percentage_rate: Rate = None
    reusable: bool | None = None
    frequency_duration: NonNegativeInt | None = None
    expiration_at: DateTimeText = None
    applies_to: AppliesTo | None = None


class AppliedCouponInput(LagoonModel):
    """`applied_coupon` of `POST /applied_coupons`: the coupon's values may be overridden."""

    model_config = ConfigDict(extra="ignore")

    external_customer_id: NonEmptyText
    coupon_code: NonEmptyText
    amount_cents: NonNegativeInt | None = None
    amount_currency: Currency = None
    percentage_rate: Rate = None
    frequency: Frequency | None = None
    frequency_duration: NonNegativeInt | None = None


class _Stored(LagoonModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""

    @field_serializer("percentage_rate", check_fields=False)
    def _rate_text(self, value: Decimal | None) -> str | None:
        return None if value is None else format(value, "f")


class Coupon(_Stored):
    """A stored coupon (kind `coupon`, key `lago_id`). Limits name plans / metrics by `lago_id`."""

    lago_id: str
    organization_id: str
    name: str
    code: str
    description: str | None = None
    coupon_type: CouponType
    amount_cents: int | None = None
    amount_currency: str | None = None
    percentage_rate: Decimal | None = None
    frequency: Frequency
    frequency_duration: int | None = None
    reusable: bool = True
    expiration: Expiration
    expiration_at: str | None = None
    plan_ids: list[str] = Field(default_factory=list)
    billable_metric_ids: list[str] = Field(default_factory=list)
    status: Status = "active"
    terminated_at: str | None = None
    created_at: str
    updated_at: str
    deleted_at: str | None = None

    @property
    def limited_plans(self) -> bool:
        return bool(self.plan_ids)

    @property
    def limited_billable_metrics(self) -> bool:
        return bool(self.billable_metric_ids)


class AppliedCoupon(_Stored):
    """A coupon applied to a customer (kind `applied_coupon`, key `lago_id`).

    Invoicing decrements `amount_cents_remaining` (fixed amount, `once`) and `frequency_duration_remaining`
    (`recurring`), and terminates the applied coupon when it is used up (`status`, `terminated_at`).
    """

    lago_id: str
    organization_id: str
    coupon_id: str
    coupon_code: str
    customer_id: str
    external_customer_id: str
    status: Status = "active"
    amount_cents: int | None = None
    amount_cents_remaining: int | None = None
    amount_currency: str | None = None
    percentage_rate: Decimal | None = None
    frequency: Frequency
    frequency_duration: int | None = None
    frequency_duration_remaining: int | None = None
    created_at: str
    terminated_at: str | None = None
