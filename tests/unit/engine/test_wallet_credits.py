"""Prepaid credits: conversions (lago-rules-wave2 §1.4) and the wallets' allocation over an invoice (§1.6)."""

from decimal import Decimal as D

import pytest
from lagoon.engine.wallet_credits import (
    FeeShare,
    WalletCredit,
    WalletSpending,
    allocate_prepaid_credits,
    credit_buckets,
    credit_from_amount_cents,
    credits_to_cents,
    floor_credits,
    invoiceable_credit,
    round_credits,
    rounds_to_zero,
    voided_credit,
)


@pytest.mark.parametrize(
    ("credits", "rate", "currency", "cents"),
    [
        (D("10.5"), D("1.5"), "EUR", 1575),
        (D("1.111"), D("3"), "EUR", 333),
        (D("0.005"), D("1"), "EUR", 1),  # half away from zero
        (D("3"), D("7"), "JPY", 21),  # no minor unit
        (D("1.0005"), D("1"), "JPY", 1),
    ],
)
def test_credits_are_worth_their_amount_rounded_to_the_currency(
    credits: D, rate: D, currency: str, cents: int
) -> None:
    assert credits_to_cents(credits, rate, currency) == cents


def test_a_top_up_keeps_only_the_credits_whole_cents_buy() -> None:
    assert invoiceable_credit(D("1.111"), D("3"), "EUR") == WalletCredit(D("1.11000"), 333)
    assert invoiceable_credit(D("0.333333"), D("1"), "EUR") == WalletCredit(D("0.33000"), 33)
    # 0.10 / 0.3 = 0.3333…: stored with 5 decimals
    assert invoiceable_credit(D("0.33"), D("0.3"), "EUR") == WalletCredit(D("0.33333"), 10)


def test_a_void_keeps_its_credits_while_its_cents_round() -> None:
    assert voided_credit(D("0.33333"), D("1"), "EUR") == WalletCredit(D("0.33333"), 33)


def test_credits_are_floored_to_five_decimals_and_stored_half_away_from_zero() -> None:
    assert floor_credits(D("1.123456789")) == D("1.12345")
    assert round_credits(D(2) / D(3)) == D("0.66667")
    assert round_credits(D(1) / D(3)) == D("0.33333")


@pytest.mark.parametrize(
    ("credits", "expected"),
    [(D("0.001"), True), (D("0.004999"), True), (D("0.005"), False), (D("0"), False), (D("-1"), False)],
)
def test_an_amount_worth_zero_cents_rounds_to_zero(credits: D, expected: bool) -> None:
    assert rounds_to_zero(credits, D("1"), "EUR") is expected


def test_consumed_credits_come_from_rounded_cents_and_move_whole_cents() -> None:
    assert credit_from_amount_cents(1234, D("2"), "EUR") == WalletCredit(D("6.17000"), 1234)
    assert credit_from_amount_cents(D("1234.6"), D("2"), "EUR") == WalletCredit(D("6.17500"), 1234)


def test_buckets_are_per_fee_type_and_metric_largest_first() -> None:
    fees = [
        FeeShare("charge", "m2", 300, D("60")),
        FeeShare("subscription", None, 1000, D("200")),
        FeeShare("charge", "m1", 500, D("100")),
        FeeShare("charge", "m1", 100, D("20"), credit_notes_precise_cents=D("20")),
        FeeShare("add_on", None, 0, D("0")),  # a 0 subtotal takes nothing
        FeeShare("commitment", None, 50, D("0"), credit_notes_precise_cents=D("50")),  # nothing left
    ]
    buckets = credit_buckets(fees, 2260)
    assert list(buckets.items()) == [
        (("subscription", None), D("1200")),
        (("charge", "m1"), D("700")),
        (("charge", "m2"), D("360")),
    ]


def test_tax_rounding_of_at_most_a_cent_per_bucket_goes_to_the_largest() -> None:
    fees = [FeeShare("charge", "m1", 100, D("0.4")), FeeShare("subscription", None, 200, D("0.4"))]
    assert credit_buckets(fees, 302) == {("subscription", None): D("201.6"), ("charge", "m1"): D("100.4")}
    # more than a cent per bucket is not rounding: left as it is
    assert credit_buckets(fees, 303) == {("subscription", None): D("200.4"), ("charge", "m1"): D("100.4")}


def test_wallets_pay_in_order_within_their_limits() -> None:
    fees = [
        FeeShare("subscription", None, 1000, D("200")),
        FeeShare("charge", "m1", 500, D("100")),
        FeeShare("charge", "m2", 300, D("60")),
    ]
    wallets = [
        WalletSpending("metric-only", 10_000, billable_metric_ids=frozenset({"m1"})),
        WalletSpending("subscriptions-only", 150, fee_types=frozenset({"subscription"})),
        WalletSpending("any", 1_000),
        WalletSpending("empty-handed", 5_000),
    ]
    shares = allocate_prepaid_credits(fees, 2160, wallets)
    # metric-only pays m1 (600); subscriptions-only 150 of the subscription (1,200); "any" 1,000 more of it
    # (its whole balance); the last wallet the subscription's last 50 and m2's 360.
    assert shares == {
        "metric-only": D("600"),
        "subscriptions-only": D("150"),
        "any": D("1000"),
        "empty-handed": D("410"),
    }


def test_wallets_never_pay_more_than_the_invoice_still_owes() -> None:
    fees = [FeeShare("charge", "m1", 500, D("100"))]
    assert allocate_prepaid_credits(fees, 450, [WalletSpending("w", 10_000)]) == {"w": D("450")}
    assert allocate_prepaid_credits(fees, 0, [WalletSpending("w", 10_000)]) == {}


def test_a_metric_target_only_pays_charges() -> None:
    fees = [FeeShare("subscription", "m1", 100)]
    assert (
        allocate_prepaid_credits(fees, 100, [WalletSpending("w", 500, billable_metric_ids=frozenset({"m1"}))])
        == {}
    )


def test_a_share_against_precise_taxes_keeps_its_fraction_of_a_cent() -> None:
    fees = [FeeShare("charge", "m1", 100, D("0.5")), FeeShare("add_on", None, 1000, D("0"))]
    shares = allocate_prepaid_credits(
        fees, 1101, [WalletSpending("w", 5_000, billable_metric_ids=frozenset({"m1"}))]
    )
    assert shares == {"w": D("100.5")}
    assert credit_from_amount_cents(shares["w"], D("1"), "EUR") == WalletCredit(D("1.01000"), 100)
