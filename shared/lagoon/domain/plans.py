"""Plans and their charges: the request bodies of `/plans` and the stored plan other modules bill from.

A plan document holds its charges (each with its own `lago_id`), their filters and the minimum commitment,
so one read gives everything needed to price a subscription. Charge `properties` are stored as Lago
returns them (decimal strings); `Charge.pricing()` parses them into the engine's typed models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from lagoon.domain.bounds import CatalogCode, NonEmptyText, NonNegativeInt
from lagoon.domain.organizations import Currency, RequiredCurrency
from lagoon.engine.properties import ChargeProperties, validate_charge_properties
from lagoon.models import LagoonModel

Interval = Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"]
ChargeModel = Literal[
    "standard", "graduated", "volume", "package", "percentage", "graduated_percentage", "dynamic"
]
"""Same values as `lagoon.engine.properties.CHARGE_MODELS`."""

ALL_FILTER_VALUES = "__ALL_FILTER_VALUES__"
"""Lago's wildcard in a charge filter: every value of the key (`ChargeFilterValue::ALL_FILTER_VALUES`)."""

TrialPeriod = Annotated[float, Field(ge=0, le=36_500, allow_inf_nan=False)]
"""Days of trial, at most 100 years: 1e308 days overflowed the subscription dates (a 500 on subscribe)."""
UsageThresholds = list[dict[str, Any]] | None
"""`usage_thresholds` of a plan or a subscription (progressive billing). Lagoon has no progressive billing
yet: a list with a threshold is refused (405 `not_implemented`, `USAGE_THRESHOLDS`), never stored and then
silently not billed; an empty list or null asks for none (docs/decisions.md "Usage thresholds")."""
USAGE_THRESHOLDS = "usage thresholds (progressive billing)"
"""The deferred feature a plan or subscription with usage thresholds is refused for."""


class ChargeFilterInput(LagoonModel):
    """`ChargeFilterInput`: the price of the events whose properties match `values`."""

    model_config = ConfigDict(extra="ignore")

    invoice_display_name: str | None = None
    properties: dict[str, Any] | None = None
    values: dict[str, list[str]]


class ChargeInput(LagoonModel):
    """One item of `plan.charges` (create and update; an update sends the `id` of a charge it keeps)."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    billable_metric_id: NonEmptyText
    charge_model: ChargeModel
    invoice_display_name: str | None = None
    pay_in_advance: bool | None = None
    invoiceable: bool | None = None
    regroup_paid_fees: Literal["invoice"] | None = None
    prorated: bool | None = None
    min_amount_cents: NonNegativeInt | None = None
    properties: dict[str, Any] | None = None
    filters: list[ChargeFilterInput] | None = None
    tax_codes: list[str] | None = None
    applied_pricing_unit: dict[str, Any] | None = None
    """Lagoon has no pricing units (none can be created): a charge that sets one is refused, never billed in
    the plan's currency as if it were not there."""


class MinimumCommitmentInput(LagoonModel):
    """`MinimumCommitmentInput`."""

    model_config = ConfigDict(extra="ignore")

    amount_cents: NonNegativeInt
    invoice_display_name: str | None = None
    tax_codes: list[str] | None = None


class MinimumCommitmentUpdateInput(LagoonModel):
    """`minimum_commitment` of an update: the fields sent change; an empty object removes the commitment."""

    model_config = ConfigDict(extra="ignore")

    amount_cents: NonNegativeInt | None = None
    invoice_display_name: str | None = None
    tax_codes: list[str] | None = None


class PlanCreateInput(LagoonModel):
    """`plan` of `POST /plans` (PlanCreateInput)."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText
    code: CatalogCode
    interval: Interval
    amount_cents: NonNegativeInt
    amount_currency: RequiredCurrency = None
    pay_in_advance: bool
    invoice_display_name: str | None = None
    description: str | None = None
    trial_period: TrialPeriod | None = None
    bill_charges_monthly: bool | None = None
    tax_codes: list[str] | None = None
    minimum_commitment: MinimumCommitmentInput | None = None
    charges: list[ChargeInput] | None = None
    usage_thresholds: UsageThresholds = None


class PlanUpdateInput(LagoonModel):
    """`plan` of `PUT /plans/{code}` (PlanUpdateInput): only the fields sent change."""

    model_config = ConfigDict(extra="ignore")

    name: NonEmptyText | None = None
    code: CatalogCode | None = None
    interval: Interval | None = None
    amount_cents: NonNegativeInt | None = None
    amount_currency: Currency = None
    pay_in_advance: bool | None = None
    invoice_display_name: str | None = None
    description: str | None = None
    trial_period: TrialPeriod | None = None
    bill_charges_monthly: bool | None = None
    tax_codes: list[str] | None = None
    minimum_commitment: MinimumCommitmentUpdateInput | None = None
    charges: list[ChargeInput] | None = None
    usage_thresholds: UsageThresholds = None
    cascade_updates: bool | None = None


class ChargeFilter(LagoonModel):
    """A filtered price of a charge: events whose `properties[key]` is in `values[key]` for every key.

    A value list `["__ALL_FILTER_VALUES__"]` matches any value of that key.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    invoice_display_name: str | None = None
    properties: dict[str, Any]
    values: dict[str, list[str]]

    def matches(self, event_properties: dict[str, Any]) -> bool:
        """Whether an event's properties fall in this filter."""
        for key, allowed in self.values.items():
            if key not in event_properties:
                return False
            if allowed != [ALL_FILTER_VALUES] and str(event_properties[key]) not in allowed:
                return False
        return True


class Charge(LagoonModel):
    """A usage-based charge of a plan, on one billable metric."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    billable_metric_id: str
    billable_metric_code: str
    charge_model: ChargeModel
    invoice_display_name: str | None = None
    pay_in_advance: bool = False
    invoiceable: bool = True
    regroup_paid_fees: Literal["invoice"] | None = None
    prorated: bool = False
    min_amount_cents: int = 0
    properties: dict[str, Any]
    filters: list[ChargeFilter] = Field(default_factory=list)
    tax_codes: list[str] = Field(default_factory=list)
    created_at: str

    def pricing(self, charge_filter: ChargeFilter | None = None) -> ChargeProperties:
        """The typed properties of the charge (or of one of its filters), for the engine."""
        properties = charge_filter.properties if charge_filter else self.properties
        return validate_charge_properties(self.charge_model, properties)


class MinimumCommitment(LagoonModel):
    """The plan's minimum invoice amount per billing period (a true-up fee covers a shortfall)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    amount_cents: int
    invoice_display_name: str | None = None
    tax_codes: list[str] = Field(default_factory=list)
    created_at: str
    updated_at: str


class Plan(LagoonModel):
    """A stored plan (kind `plan`, key `lago_id`).

    `pending_deletion` is set when a plan with subscriptions is deleted; the subscriptions cascade finishes
    the deletion (`lagoon.services.catalog.plans.finish_plan_deletion`), which sets `deleted_at`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    organization_id: str
    name: str
    code: str
    interval: Interval
    amount_cents: int
    amount_currency: str
    pay_in_advance: bool
    invoice_display_name: str | None = None
    description: str | None = None
    trial_period: float | None = None
    bill_charges_monthly: bool | None = None
    tax_codes: list[str] = Field(default_factory=list)
    minimum_commitment: MinimumCommitment | None = None
    charges: list[Charge] = Field(default_factory=list)
    pending_deletion: bool = False
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""

    @property
    def yearly_amount_cents(self) -> int:
        """The subscription fee over a year, to compare plans (Lago `Plan#yearly_amount_cents`)."""
        factor = {"yearly": 1, "semiannual": 2, "quarterly": 4, "monthly": 12, "weekly": 52}[self.interval]
        return self.amount_cents * factor

    def charge(self, lago_id: str) -> Charge | None:
        return next((c for c in self.charges if c.lago_id == lago_id), None)

    def charges_for_metric(self, billable_metric_id: str) -> list[Charge]:
        return [c for c in self.charges if c.billable_metric_id == billable_metric_id]
