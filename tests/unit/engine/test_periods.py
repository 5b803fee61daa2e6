"""Billing periods and proration (checklist §4.1, §5.1, §4.3; lago-docs/02-changelog.md, 24-resources.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from lagoon.engine.periods import (
    SubscriptionTerms,
    billing_period_containing,
    days_between,
    invoice_contents_at,
    is_upgrade,
    next_billing_date,
    plan_change_effective_at,
    subscription_fee_for_period,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def terms(interval: str, started_at: datetime, **kwargs: Any) -> SubscriptionTerms:
    return SubscriptionTerms(interval=interval, started_at=started_at, **kwargs)


PERIOD_CASES = [
    pytest.param(
        "monthly",
        "calendar",
        utc(2024, 1, 1),
        utc(2024, 3, 15),
        utc(2024, 3, 1),
        utc(2024, 4, 1),
        id="monthly-calendar",
    ),
    pytest.param(
        "monthly",
        "anniversary",
        utc(2022, 8, 10, 14),
        utc(2022, 9, 20),
        utc(2022, 9, 10),
        utc(2022, 10, 10),
        id="monthly-anniversary-changelog-billed-every-10th",
    ),
    pytest.param(
        "monthly",
        "anniversary",
        utc(2024, 1, 31),
        utc(2024, 2, 15),
        utc(2024, 1, 31),
        utc(2024, 2, 29),
        id="anniversary-31st-renews-on-last-day-of-february",
    ),
    pytest.param(
        "monthly",
        "anniversary",
        utc(2024, 1, 31),
        utc(2024, 3, 5),
        utc(2024, 2, 29),
        utc(2024, 3, 31),
        id="anniversary-31st-back-to-31st",
    ),
    pytest.param(
        "weekly",
        "calendar",
        utc(2024, 1, 3),
        utc(2024, 1, 10),
        utc(2024, 1, 8),
        utc(2024, 1, 15),
        id="weekly-monday-to-sunday",
    ),
    pytest.param(
        "weekly",
        "anniversary",
        utc(2024, 1, 3),
        utc(2024, 1, 12),
        utc(2024, 1, 10),
        utc(2024, 1, 17),
        id="weekly-anniversary-wednesday",
    ),
    pytest.param(
        "quarterly",
        "calendar",
        utc(2024, 1, 1),
        utc(2024, 5, 20),
        utc(2024, 4, 1),
        utc(2024, 7, 1),
        id="quarterly-calendar",
    ),
    pytest.param(
        "quarterly",
        "anniversary",
        utc(2024, 2, 15),
        utc(2024, 6, 1),
        utc(2024, 5, 15),
        utc(2024, 8, 15),
        id="quarterly-anniversary",
    ),
    pytest.param(
        "semiannual",
        "calendar",
        utc(2024, 1, 1),
        utc(2024, 8, 1),
        utc(2024, 7, 1),
        utc(2025, 1, 1),
        id="semiannual-calendar",
    ),
    pytest.param(
        "yearly",
        "calendar",
        utc(2024, 1, 1),
        utc(2025, 6, 1),
        utc(2025, 1, 1),
        utc(2026, 1, 1),
        id="yearly-calendar",
    ),
    pytest.param(
        "yearly",
        "anniversary",
        utc(2024, 2, 29),
        utc(2025, 3, 1),
        utc(2025, 2, 28),
        utc(2026, 2, 28),
        id="yearly-leap-day",
    ),
]


@pytest.mark.parametrize(("interval", "billing_time", "started", "at", "start", "end"), PERIOD_CASES)
def test_period_boundaries(
    interval: str, billing_time: str, started: datetime, at: datetime, start: datetime, end: datetime
) -> None:
    period = billing_period_containing(terms(interval, started, billing_time=billing_time), at)
    assert (period.from_datetime, period.to_datetime) == (start, end)


def test_periods_are_local_midnights_across_dst() -> None:
    # Europe/Paris switches to summer time on March 31st 2024: March starts at 23:00 UTC, April at 22:00 UTC.
    subscription = terms("monthly", utc(2024, 1, 1), timezone="Europe/Paris")
    period = billing_period_containing(subscription, utc(2024, 3, 15))
    assert (period.from_datetime, period.to_datetime) == (utc(2024, 2, 29, 23), utc(2024, 3, 31, 22))
    assert period.inclusive_to_datetime == utc(2024, 3, 31, 21, 59, 59)
    assert days_between(period.from_datetime, period.to_datetime, "Europe/Paris") == 31


def test_started_mid_period_is_prorated_by_started_days() -> None:
    # 24-resources.md: "if 15 days are left in the plan, we multiply the price by 15/31".
    subscription = terms("monthly", utc(2024, 1, 17, 15))
    period = billing_period_containing(subscription, utc(2024, 1, 20))
    assert period.from_datetime == utc(2024, 1, 17)
    assert subscription_fee_for_period(3100, subscription, period) == 1500


def test_termination_mid_period_prorates_up_to_the_started_termination_day() -> None:
    subscription = terms("monthly", utc(2023, 1, 1), terminated_at=utc(2024, 1, 10, 12))
    period = billing_period_containing(subscription, utc(2024, 1, 5))
    assert period.to_datetime == utc(2024, 1, 10, 12)
    assert subscription_fee_for_period(3100, subscription, period) == 1000


def test_prorated_fee_rounds_half_up() -> None:
    subscription = terms("monthly", utc(2024, 2, 15))  # 15 of 29 days of 1000 cents = 517.24
    period = billing_period_containing(subscription, utc(2024, 2, 20))
    assert subscription_fee_for_period(1000, subscription, period) == 517


def test_trial_days_are_not_billed() -> None:
    # trial_period 5 (lago-docs/25-subscriptions.md example): started Jan 1st, trial ends Jan 6th → 26/31.
    subscription = terms("monthly", utc(2024, 1, 1), trial_period_days=5)
    period = billing_period_containing(subscription, utc(2024, 1, 2))
    assert subscription_fee_for_period(3100, subscription, period) == 2600


def test_in_advance_plan_with_trial_is_first_invoiced_at_trial_end() -> None:
    # lago-docs/30-product-updates.md "Improved trial period".
    subscription = terms("monthly", utc(2024, 1, 1), trial_period_days=5, pay_in_advance=True)
    start_invoice = invoice_contents_at(subscription, utc(2024, 1, 1))
    assert start_invoice.subscription_fee_period is None
    trial_end = next_billing_date(subscription, utc(2024, 1, 1))
    assert trial_end == utc(2024, 1, 6)
    contents = invoice_contents_at(subscription, trial_end)
    assert contents.subscription_fee_period is not None
    assert subscription_fee_for_period(3100, subscription, contents.subscription_fee_period) == 2600


def test_in_advance_invoices_the_coming_period_and_past_charges() -> None:
    subscription = terms("monthly", utc(2024, 1, 1), pay_in_advance=True)
    at_start = invoice_contents_at(subscription, utc(2024, 1, 1))
    assert at_start.subscription_fee_period is not None and at_start.charges_period is None
    boundary = next_billing_date(subscription, utc(2024, 1, 1))
    assert boundary == utc(2024, 2, 1)
    contents = invoice_contents_at(subscription, boundary)
    assert contents.subscription_fee_period.from_datetime == utc(2024, 2, 1)  # type: ignore[union-attr]
    assert contents.charges_period.from_datetime == utc(2024, 1, 1)  # type: ignore[union-attr]


def test_in_arrears_invoices_the_closed_period() -> None:
    subscription = terms("monthly", utc(2024, 1, 1))
    assert invoice_contents_at(subscription, utc(2024, 1, 1)).subscription_fee_period is None
    contents = invoice_contents_at(subscription, utc(2024, 2, 1))
    assert contents.subscription_fee_period.from_datetime == utc(2024, 1, 1)  # type: ignore[union-attr]
    assert contents.charges_period.to_datetime == utc(2024, 2, 1)  # type: ignore[union-attr]


def test_yearly_plan_billing_charges_monthly() -> None:
    # Checklist §4.1: yearly fee, monthly charges; the last invoice gathers both.
    subscription = terms("yearly", utc(2024, 1, 1), bill_charges_monthly=True)
    assert next_billing_date(subscription, utc(2024, 1, 1)) == utc(2024, 2, 1)
    february = invoice_contents_at(subscription, utc(2024, 2, 1))
    assert february.subscription_fee_period is None
    assert (february.charges_period.charges_from_datetime, february.charges_period.charges_to_datetime) == (  # type: ignore[union-attr]
        utc(2024, 1, 1),
        utc(2024, 2, 1),
    )
    year_end = invoice_contents_at(subscription, utc(2025, 1, 1))
    assert year_end.subscription_fee_period.from_datetime == utc(2024, 1, 1)  # type: ignore[union-attr]
    assert year_end.charges_period.charges_from_datetime == utc(2024, 12, 1)  # type: ignore[union-attr]


def test_termination_invoice() -> None:
    arrears = terms("monthly", utc(2024, 1, 1), terminated_at=utc(2024, 1, 20, 8))
    assert next_billing_date(arrears, utc(2024, 1, 10)) == utc(2024, 1, 20, 8)
    contents = invoice_contents_at(arrears, utc(2024, 1, 20, 8))
    assert contents.subscription_fee_period is not None and contents.charges_period is not None
    assert next_billing_date(arrears, utc(2024, 1, 20, 8)) is None
    advance = terms("monthly", utc(2024, 1, 1), pay_in_advance=True, terminated_at=utc(2024, 1, 20))
    assert invoice_contents_at(advance, utc(2024, 1, 20)).subscription_fee_period is None  # already paid


def test_upgrade_and_downgrade() -> None:
    assert is_upgrade(1000, "monthly", 12000, "yearly")  # equal yearly amounts count as an upgrade
    assert not is_upgrade(1000, "monthly", 11000, "yearly")
    subscription = terms("monthly", utc(2024, 1, 1))
    assert plan_change_effective_at(subscription, utc(2024, 1, 10, 9), upgrade=True) == utc(2024, 1, 10, 9)
    assert plan_change_effective_at(subscription, utc(2024, 1, 10, 9), upgrade=False) == utc(2024, 2, 1)


def test_terms_are_checked() -> None:
    with pytest.raises(ValueError):
        terms("daily", utc(2024, 1, 1))
    with pytest.raises(ValueError):
        terms("monthly", datetime(2024, 1, 1))
