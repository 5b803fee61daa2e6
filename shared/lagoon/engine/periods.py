"""Billing periods, invoice boundaries and subscription-fee proration (checklist §4.1, §5, §8.1).

Periods are computed on local dates of the billing timezone (the customer's, else the organization's:
lago-docs/02-changelog.md "Timezones"), and each boundary is a local midnight converted to UTC, so periods stay
right across DST changes. Periods are half-open: [from_datetime, to_datetime); Lago prints the inclusive end
(`inclusive_to_datetime`, e.g. 2024-01-31T23:59:59Z).

Rules followed:
- calendar periods: weeks run Monday to Sunday, months from the 1st, quarters from January/April/July/October,
  half-years from January/July, years from January 1st (checklist §4.1);
- anniversary periods start on the subscription's local start date: "a monthly plan assigned on August 10th
  ... is billed every 10th of the month" (lago-docs/02-changelog.md "Anniversary dates"); a start on the 31st
  renews on the last day of shorter months;
- proration counts whole local days and a started day counts: "if 15 days are left in the plan, we multiply
  the price by 15/31" (lago-docs/24-resources.md, checklist §3.3);
- in advance, the subscription fee of a period is invoiced at its start; in arrears at its end; charges are
  always invoiced at the end of their period (checklist §4.1);
- with a trial, the subscription fee starts when the trial ends and an in-advance plan issues its first
  invoice then (lago-docs/30-product-updates.md "Improved trial period");
- `bill_charges_monthly` on a yearly plan invoices charges monthly, the yearly fee as usual (checklist §4.1);
- termination closes the current period at once (DECISIONS.md "Billing"): charges and an in-arrears fee up to
  the termination are invoiced; unused in-advance time is not credited (`on_termination_credit_note=skip`);
- plan change: a yearly-normalised amount >= the current one is an upgrade, effective immediately; otherwise a
  downgrade, effective at the end of the current period (DECISIONS.md "Billing").
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from lagoon.engine.money import round_cents

INTERVALS: tuple[str, ...] = ("weekly", "monthly", "quarterly", "semiannual", "yearly")
BILLING_TIMES: tuple[str, ...] = ("calendar", "anniversary")
_MONTHS_PER_INTERVAL = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}
_PERIODS_PER_YEAR = {"weekly": 52, "monthly": 12, "quarterly": 4, "semiannual": 2, "yearly": 1}
_ONE_SECOND = timedelta(seconds=1)
_TINY = timedelta(microseconds=1)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class SubscriptionTerms:
    """What decides a subscription's periods. `started_at` and `terminated_at` are aware datetimes."""

    interval: str
    started_at: datetime
    billing_time: str = "calendar"
    timezone: str = "UTC"
    trial_period_days: int = 0
    pay_in_advance: bool = False
    bill_charges_monthly: bool = False
    terminated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.interval not in INTERVALS:
            raise ValueError(f"unsupported interval {self.interval!r}")
        if self.billing_time not in BILLING_TIMES:
            raise ValueError(f"unsupported billing_time {self.billing_time!r}")
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")

    @property
    def anniversary_date(self) -> date:
        """The local date the subscription started: anniversary periods start on it."""
        return self.started_at.astimezone(_zone(self.timezone)).date()

    @property
    def trial_ends_at(self) -> datetime | None:
        """When the free trial ends (None without a trial)."""
        if not self.trial_period_days:
            return None
        return self.started_at + timedelta(days=self.trial_period_days)

    @property
    def charges_interval(self) -> str:
        """The interval charges are billed on: monthly for a yearly plan with `bill_charges_monthly`."""
        return "monthly" if self.bill_charges_monthly and self.interval == "yearly" else self.interval


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """One billing period in UTC. `from_datetime`/`to_datetime` are clipped to the subscription's life;
    `full_from_datetime`/`full_to_datetime` are the whole interval (the proration denominator). The charges
    period differs for a yearly plan billing charges monthly."""

    from_datetime: datetime
    to_datetime: datetime
    charges_from_datetime: datetime
    charges_to_datetime: datetime
    full_from_datetime: datetime
    full_to_datetime: datetime

    @property
    def inclusive_to_datetime(self) -> datetime:
        """The period end as Lago prints it (one second before the next period)."""
        return self.to_datetime - _ONE_SECOND


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant of `day`'s local midnight in `timezone`."""
    return datetime.combine(day, time(), tzinfo=_zone(timezone)).astimezone(UTC)


def local_date(moment: datetime, timezone: str) -> date:
    """The local date of an aware instant."""
    return moment.astimezone(_zone(timezone)).date()


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _anniversary_in_month(month_index: int, anchor_day: int) -> date:
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _interval_bounds(interval: str, billing_time: str, anchor: date, day: date) -> tuple[date, date]:
    """Local start and next start of the interval containing `day`."""
    if interval == "weekly":
        weekday = 0 if billing_time == "calendar" else anchor.weekday()
        start = day - timedelta(days=(day.weekday() - weekday) % 7)
        return start, start + timedelta(days=7)
    step = _MONTHS_PER_INTERVAL[interval]
    if billing_time == "calendar":
        start_index = _month_index(day) - (_month_index(day) % step)
        return _anniversary_in_month(start_index, 1), _anniversary_in_month(start_index + step, 1)
    anchor_index = _month_index(anchor)
    count = (_month_index(day) - anchor_index) // step
    start = _anniversary_in_month(anchor_index + count * step, anchor.day)
    if start > day:
        count -= 1
        start = _anniversary_in_month(anchor_index + count * step, anchor.day)
    return start, _anniversary_in_month(anchor_index + (count + 1) * step, anchor.day)


def interval_containing(
    terms: SubscriptionTerms, at: datetime, interval: str | None = None
) -> tuple[datetime, datetime]:
    """The whole (unclipped) interval [start, next start) containing `at`, in UTC."""
    chosen = interval or terms.interval
    start, end = _interval_bounds(
        chosen, terms.billing_time, terms.anniversary_date, local_date(at, terms.timezone)
    )
    return local_midnight(start, terms.timezone), local_midnight(end, terms.timezone)


def _subscription_start(terms: SubscriptionTerms) -> datetime:
    # A subscription's first period starts at the beginning of its local start day.
    return local_midnight(terms.anniversary_date, terms.timezone)


def billing_period_containing(terms: SubscriptionTerms, at: datetime) -> BillingPeriod:
    """The billing period of `terms` containing the instant `at`, clipped to the subscription's start day
    and to its termination."""
    full_from, full_to = interval_containing(terms, at)
    charges_full_from, charges_full_to = interval_containing(terms, at, terms.charges_interval)
    start = _subscription_start(terms)
    end = terms.terminated_at
    return BillingPeriod(
        from_datetime=max(full_from, start),
        to_datetime=min(full_to, end) if end is not None else full_to,
        charges_from_datetime=max(charges_full_from, start),
        charges_to_datetime=min(charges_full_to, end) if end is not None else charges_full_to,
        full_from_datetime=full_from,
        full_to_datetime=full_to,
    )


def days_between(from_datetime: datetime, to_datetime: datetime, timezone: str) -> int:
    """Local days touched by [from_datetime, to_datetime): a started day counts."""
    if to_datetime <= from_datetime:
        return 0
    return (local_date(to_datetime - _TINY, timezone) - local_date(from_datetime, timezone)).days + 1


def charges_period_days(terms: SubscriptionTerms, at: datetime) -> int:
    """Days of the whole charges interval containing `at`: what prorated charges divide by, in a first or a
    terminated period too (lago-api `charges_duration`: the days of the period, whatever the subscription's
    own days in it; a month for a yearly plan billing its charges monthly)."""
    start, end = interval_containing(terms, at, terms.charges_interval)
    return days_between(start, end, terms.timezone)


def prorated_subscription_fee(
    amount_cents: int, period: BillingPeriod, active_from: datetime, active_to: datetime, timezone: str
) -> int:
    """`amount_cents` * active days / days of the full period, rounded half-up to cents.

    Lago: "if 15 days are left in the plan, we multiply the price by 15/31" (lago-docs/24-resources.md).
    """
    full_days = days_between(period.full_from_datetime, period.full_to_datetime, timezone)
    active_days = days_between(
        max(active_from, period.full_from_datetime), min(active_to, period.full_to_datetime), timezone
    )
    if active_days >= full_days:
        return amount_cents
    return round_cents(Decimal(amount_cents) * active_days / full_days)


def subscription_fee_for_period(amount_cents: int, terms: SubscriptionTerms, period: BillingPeriod) -> int:
    """The subscription fee of `period`: prorated for a start or a termination inside it, and without the
    days still in the free trial (a day on which the trial ends counts as a paid day)."""
    active_from = period.from_datetime
    trial_end = terms.trial_ends_at
    if trial_end is not None and trial_end > active_from:
        if trial_end >= period.to_datetime:
            return 0
        active_from = local_midnight(local_date(trial_end, terms.timezone), terms.timezone)
    return prorated_subscription_fee(amount_cents, period, active_from, period.to_datetime, terms.timezone)


@dataclass(frozen=True, slots=True)
class InvoiceContents:
    """What an invoice issued at `issued_at` covers: a subscription fee period and/or a charges period."""

    issued_at: datetime
    subscription_fee_period: BillingPeriod | None
    charges_period: BillingPeriod | None


def next_billing_date(terms: SubscriptionTerms, after: datetime) -> datetime | None:
    """The next instant strictly after `after` at which an invoice is due: a period boundary (monthly for
    charges billed monthly), the end of the trial of an in-advance plan, or the termination. None once the
    subscription is terminated."""
    if terms.terminated_at is not None and after >= terms.terminated_at:
        return None
    candidates = [interval_containing(terms, after, terms.charges_interval)[1]]
    candidates.append(interval_containing(terms, after)[1])
    trial_end = terms.trial_ends_at
    if terms.pay_in_advance and trial_end is not None and trial_end > after:
        candidates.append(trial_end)
    if terms.terminated_at is not None:
        candidates.append(terms.terminated_at)
    return min(candidates)


def invoice_contents_at(terms: SubscriptionTerms, issued_at: datetime) -> InvoiceContents:
    """Which subscription fee and which charges an invoice issued at `issued_at` (the subscription start, a
    boundary from `next_billing_date`, the trial end or the termination) covers."""
    start = _subscription_start(terms)
    trial_end = terms.trial_ends_at
    terminated = terms.terminated_at is not None and issued_at >= terms.terminated_at
    fee_period: BillingPeriod | None = None
    charges_period: BillingPeriod | None = None

    if issued_at <= terms.started_at or issued_at <= start:
        # Subscription start: an in-advance plan pays its first period now, unless a trial defers it.
        if terms.pay_in_advance and trial_end is None:
            fee_period = billing_period_containing(terms, terms.started_at)
        return InvoiceContents(issued_at, fee_period, None)

    previous = billing_period_containing(terms, issued_at - _TINY)
    if terminated:
        charges_period = previous
        if not terms.pay_in_advance:
            fee_period = previous
        return InvoiceContents(issued_at, fee_period, charges_period)

    if terms.pay_in_advance and trial_end is not None and issued_at == trial_end:
        # "Improved trial period": the first in-advance invoice is issued when the trial ends.
        first_paid = billing_period_containing(terms, trial_end)
        if trial_end > first_paid.from_datetime:
            return InvoiceContents(issued_at, first_paid, None)

    at_interval_boundary = issued_at == interval_containing(terms, issued_at)[0]
    at_charges_boundary = issued_at == interval_containing(terms, issued_at, terms.charges_interval)[0]
    if at_charges_boundary:
        charges_period = previous
    if at_interval_boundary:
        if terms.pay_in_advance:
            upcoming = billing_period_containing(terms, issued_at)
            if upcoming.to_datetime > upcoming.from_datetime:
                fee_period = upcoming
        else:
            fee_period = previous
    return InvoiceContents(issued_at, fee_period, charges_period)


def yearly_amount_cents(amount_cents: int, interval: str) -> int:
    """A plan amount normalised to a year (weekly * 52, monthly * 12, quarterly * 4, semiannual * 2)."""
    return amount_cents * _PERIODS_PER_YEAR[interval]


def is_upgrade(
    current_amount_cents: int, current_interval: str, new_amount_cents: int, new_interval: str
) -> bool:
    """A plan change is an upgrade when the new yearly-normalised amount is >= the current one
    (DECISIONS.md "Billing")."""
    return yearly_amount_cents(new_amount_cents, new_interval) >= yearly_amount_cents(
        current_amount_cents, current_interval
    )


def plan_change_effective_at(terms: SubscriptionTerms, requested_at: datetime, upgrade: bool) -> datetime:
    """When a plan change takes effect: an upgrade at once, a downgrade at the end of the current period."""
    if upgrade:
        return requested_at
    return billing_period_containing(terms, requested_at).full_to_datetime
