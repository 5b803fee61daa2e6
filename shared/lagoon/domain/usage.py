"""Usage: what the engine computed for a subscription's charges over a period (lagoon.services.usage), and
the request bodies of the usage endpoints.

`ChargeUsageResult` is one priced bucket — (charge, filter, group) — exactly what invoicing turns into one
usage fee at period close; `SubscriptionUsage` adds the period and the totals (taxes through
`lagoon.engine.invoice_math`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.bounds import Cents
from lagoon.domain.events import numeric_id_as_text, parse_timestamp, scalar_properties
from lagoon.domain.plans import Charge, ChargeFilter
from lagoon.models import LagoonModel


@dataclass(frozen=True, slots=True)
class ChargeUsageResult:
    """One priced bucket of a charge over a period: the charge's default price or one of its filters, and
    one group of its `pricing_group_keys` (`grouped_by` None: the charge is not grouped).

    `amount_cents` is the fee rounded half-up (Lago's fee amount); `precise_amount` and `unit_amount` are in
    currency units, unrounded; `amount_details` is Lago's `FeeAmountDetails` (decimal strings).
    `min_amount_cents` true-ups are not applied here: invoicing does that over all buckets of a charge
    (`lagoon.engine.charges.true_up_amount_cents`).
    """

    charge: Charge
    billable_metric: BillableMetric
    charge_filter: ChargeFilter | None
    grouped_by: dict[str, str | None] | None
    units: Decimal
    total_aggregated_units: Decimal
    prorated_units: Decimal | None
    events_count: int
    amount_cents: int
    precise_amount: Decimal
    unit_amount: Decimal
    amount_details: dict[str, Any] = field(default_factory=dict)

    @property
    def charge_filter_id(self) -> str | None:
        return None if self.charge_filter is None else self.charge_filter.lago_id

    @property
    def key(self) -> str:
        """A stable key of the bucket within the period (charge, filter, group)."""
        group = "" if self.grouped_by is None else repr(sorted(self.grouped_by.items()))
        return f"{self.charge.lago_id}#{self.charge_filter_id or '-'}#{group}"


@dataclass(frozen=True, slots=True)
class SubscriptionUsage:
    """A subscription's usage over one charges period, priced: Lago's `customer_usage` before rendering.

    `from_datetime`/`to_datetime` are the charges period [from, to) in UTC (`to_datetime` exclusive);
    `issuing_date` the local date the period's invoice is issued.
    """

    organization_id: str
    subscription_id: str
    external_subscription_id: str
    external_customer_id: str
    currency: str
    from_datetime: datetime
    to_datetime: datetime
    issuing_date: date
    charges: tuple[ChargeUsageResult, ...]
    amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int


def _estimate_timestamp(value: Any) -> Decimal | None:
    """Seconds since the epoch as `POST /events` reads them; blank → now. Lago's estimate answers
    `invalid_format` for anything else (Events::ValidateCreationService)."""
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise PydanticCustomError("invalid_format", "timestamp must be seconds since the epoch") from None


class EstimateEventInput(LagoonModel):
    """`event` of `POST /events/estimate_fees`, read as `POST /events` reads an event — explicit nulls are
    absent (lago-python-client sends every unset field as null), properties are scalars — except that no field
    is required: as Lago, a blank subscription or code is the estimate's 404 (`estimate_fees`)."""

    model_config = ConfigDict(extra="ignore")

    code: Annotated[str | None, BeforeValidator(numeric_id_as_text)] = None
    external_subscription_id: Annotated[str | None, BeforeValidator(numeric_id_as_text)] = None
    transaction_id: Annotated[str | None, BeforeValidator(numeric_id_as_text)] = None
    timestamp: Annotated[Decimal | None, BeforeValidator(_estimate_timestamp)] = None
    properties: Annotated[dict[str, Any] | None, AfterValidator(scalar_properties)] = None


class EstimateFeesBody(LagoonModel):
    event: EstimateEventInput


class LifetimeUsageInput(LagoonModel):
    model_config = ConfigDict(extra="ignore")

    external_historical_usage_amount_cents: Cents


class LifetimeUsageBody(LagoonModel):
    lifetime_usage: LifetimeUsageInput
