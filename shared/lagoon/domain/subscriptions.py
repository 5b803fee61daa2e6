"""Subscriptions: the request bodies of `/subscriptions` and the stored subscription.

Statuses follow Lago: `pending` (starts in the future, or a downgrade waiting for the period end), `active`,
`terminated`, `canceled` (stopped before it started). Several subscriptions may share an `external_id` over
time (a plan change terminates one and starts another); at most one is active and one pending.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from lagoon.domain.bounds import StoreKey
from lagoon.domain.customers import check_external_id
from lagoon.domain.plans import Plan, UsageThresholds
from lagoon.domain.times import parse_input_datetime, parse_iso
from lagoon.engine.periods import SubscriptionTerms
from lagoon.models import LagoonModel

BillingTime = Literal["calendar", "anniversary"]
Status = Literal["pending", "active", "terminated", "canceled"]


def _datetime(value: Any) -> Any:
    """ISO 8601 (a `Z` or an offset; naive means UTC), normalised to UTC (`times.parse_input_datetime`)."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value
    try:
        return parse_input_datetime(value)
    except ValueError:
        raise PydanticCustomError("invalid_date", "not an ISO 8601 date-time") from None


IsoDateTime = Annotated[datetime | None, BeforeValidator(_datetime)]


class SubscriptionInput(LagoonModel):
    """`subscription` of SubscriptionCreateInput."""

    model_config = ConfigDict(extra="ignore")

    external_customer_id: Annotated[str, AfterValidator(check_external_id)]
    plan_code: Annotated[str, Field(min_length=1)]
    external_id: StoreKey
    name: str | None = None
    billing_time: BillingTime | None = None
    subscription_at: IsoDateTime = None
    ending_at: IsoDateTime = None
    plan_overrides: dict[str, Any] | None = None
    usage_thresholds: UsageThresholds = None


class SubscriptionUpdateInput(LagoonModel):
    """`subscription` of SubscriptionUpdateInput (only the fields sent change)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    ending_at: IsoDateTime = None
    subscription_at: IsoDateTime = None
    plan_overrides: dict[str, Any] | None = None
    usage_thresholds: UsageThresholds = None


class Subscription(LagoonModel):
    """A stored subscription (kind `subscription`, key `lago_id`). Datetimes are ISO 8601 UTC strings."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lago_id: str
    organization_id: str
    external_id: str
    lago_customer_id: str
    external_customer_id: str
    plan_id: str
    plan_code: str
    name: str | None = None
    billing_time: BillingTime = "calendar"
    status: Status
    subscription_at: str
    started_at: str | None = None
    ending_at: str | None = None
    terminated_at: str | None = None
    canceled_at: str | None = None
    trial_ended_at: str | None = None
    previous_subscription_id: str | None = None
    previous_plan_code: str | None = None
    next_subscription_id: str | None = None
    next_plan_code: str | None = None
    downgrade_plan_date: str | None = None
    created_at: str
    updated_at: str
    # Wall-clock creation instant to the microsecond: orders subscriptions created within the same second
    # (created_at has Lago's seconds precision), so lists are newest first deterministically.
    created_order: str = ""
    # Keys of the clock timers this subscription has scheduled (lagoon.services.subscriptions.clock).
    timers: list[str] = Field(default_factory=list)
    revision: int = 1
    """The stored item's revision: every change is conditional on it (lagoon.data.entities.Writes.put_revised)."""


KIND = "subscription"
"""Entity kind of subscriptions (key: lago_id)."""
ALIAS_KIND = "subscription_external_id"
"""Entity kind of the alias external_id → {"subscriptions": [{"lago_id", "lago_customer_id"}, …]} (oldest first)."""


def terms_of(subscription: Subscription, plan: Plan, timezone: str) -> SubscriptionTerms | None:
    """The engine's terms of a started subscription (None while pending or canceled)."""
    started = parse_iso(subscription.started_at)
    if started is None:
        return None
    return SubscriptionTerms(
        interval=plan.interval,
        started_at=started,
        billing_time=subscription.billing_time,
        timezone=timezone,
        trial_period_days=int(plan.trial_period or 0),
        pay_in_advance=plan.pay_in_advance,
        bill_charges_monthly=bool(plan.bill_charges_monthly),
        terminated_at=parse_iso(subscription.terminated_at),
    )


ALERT_DAYS = (45, 15)
"""Days before a subscription's `ending_at` that Lago sends `subscription.termination_alert`."""


def future_timers(subscription: Subscription, plan: Plan, now: datetime) -> list[tuple[datetime, str]]:
    """The future transitions (due, action) of a subscription in its current state: its start (`activate`,
    or `downgrade` for a plan change), its end and the alerts before it, the end of its trial."""
    timers: list[tuple[datetime, str]] = []
    if subscription.status == "pending":
        start = parse_iso(subscription.subscription_at)
        action = "downgrade" if subscription.previous_subscription_id else "activate"
        timers.append((start, action))  # type: ignore[arg-type]
    if subscription.status not in ("pending", "active"):
        return timers
    ending = parse_iso(subscription.ending_at)
    if ending is not None:
        timers.append((ending, "terminate"))
        for days in ALERT_DAYS:
            alert = ending - timedelta(days=days)
            if alert > now:
                timers.append((alert, f"termination_alert_{days}"))
    started = parse_iso(subscription.started_at)
    if started is not None and plan.trial_period and subscription.trial_ended_at is None:
        trial_end = started + timedelta(days=float(plan.trial_period))
        timers.append((trial_end, "trial_end"))
    return timers
