"""Money: ISO 4217 exponents and half-up rounding (issue 4 "Money and numbers"; checklist §0.7)."""

from decimal import Decimal

import pytest
from lagoon.engine.money import (
    UnknownCurrencyError,
    cents_to_amount,
    currency_exponent,
    round_cents,
    round_half_up,
    to_cents,
)
from lagoon.reference_data import currencies


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("XOF", 0), ("BHD", 3), ("KWD", 3), ("CLF", 4)],
)
def test_currency_exponents(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_every_currency_lago_accepts_has_an_exponent() -> None:
    for currency in currencies():
        currency_exponent(currency)


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrencyError):
        currency_exponent("XXX")


@pytest.mark.parametrize(
    ("value", "exponent", "expected"),
    [
        ("2.345", 2, "2.35"),  # checklist §3.5 suggested vector
        ("2.344", 2, "2.34"),
        ("0.125", 2, "0.13"),  # half-up, not banker's (which gives 0.12)
        ("-2.345", 2, "-2.35"),
        ("1234", -1, "1230"),  # checklist §3.5 suggested vector
        ("1250", -2, "1300"),
    ],
)
def test_round_half_up(value: str, exponent: int, expected: str) -> None:
    assert round_half_up(Decimal(value), exponent) == Decimal(expected)


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        ("12.345", "EUR", 1235),
        ("12.344", "EUR", 1234),
        ("0.005", "USD", 1),
        ("12.5", "JPY", 13),
        ("1.0005", "BHD", 1001),
    ],
)
def test_to_cents_rounds_half_up_at_the_currency_exponent(amount: str, currency: str, cents: int) -> None:
    assert to_cents(Decimal(amount), currency) == cents


def test_cents_round_trip() -> None:
    assert cents_to_amount(1235, "EUR") == Decimal("12.35")
    assert cents_to_amount(500, "JPY") == Decimal(500)
    assert round_cents(Decimal("12.5")) == 13
    assert round_cents(Decimal("-12.5")) == -13
