"""Money, quantities, rates and dates as each document locale writes them (Decimal only, currency exponents)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lagoon.documents.formatting import (
    format_date,
    format_money,
    format_money_cents,
    format_quantity,
    format_rate,
    format_unit_price,
    parse_local_date,
    to_decimal,
)
from lagoon.documents.locales import DE, EN, ES, FR, NARROW_NBSP, NBSP, Locale


@pytest.mark.parametrize(
    ("cents", "currency", "locale", "expected"),
    [
        (123456, "EUR", EN, "€1,234.56"),
        (123456, "EUR", FR, f"1{NARROW_NBSP}234,56{NBSP}€"),
        (123456, "EUR", DE, f"1.234,56{NBSP}€"),
        (123456, "EUR", ES, f"1.234,56{NBSP}€"),
        (-5000, "EUR", EN, "-€50.00"),
        (-5000, "EUR", DE, f"-50,00{NBSP}€"),
        (1500, "JPY", EN, "¥1,500"),  # JPY has no minor unit: 1500 "cents" are ¥1,500
        (1234567, "BHD", EN, f"BHD{NBSP}1,234.567"),  # three decimals, written with its code
        (1234567, "BHD", FR, f"1{NARROW_NBSP}234,567{NBSP}BHD"),
        (5, "USD", EN, "$0.05"),
        (0, "PLN", DE, f"0,00{NBSP}zł"),
        (123456789, "CHF", EN, f"CHF{NBSP}1,234,567.89"),
    ],
)
def test_money_from_cents(cents: int, currency: str, locale: Locale, expected: str) -> None:
    assert format_money_cents(cents, currency, locale) == expected


def test_precise_amounts_round_half_up_to_the_currencys_cents() -> None:
    assert format_money(Decimal("10.005"), "EUR", EN) == "€10.01"
    assert format_money(Decimal("-10.005"), "EUR", EN) == "-€10.01"
    assert format_money(Decimal("1499.5"), "JPY", EN) == "¥1,500"


def test_unit_prices_keep_the_precision_of_usage_prices() -> None:
    assert format_unit_price(Decimal("0.5"), "EUR", EN) == "€0.50"
    assert format_unit_price(Decimal("0.00152"), "EUR", EN) == "€0.00152"
    assert format_unit_price(Decimal("8.476190476190476"), "EUR", EN) == "€8.47619"  # six decimals at most
    assert format_unit_price(Decimal("0.0012"), "EUR", FR) == f"0,0012{NBSP}€"


def test_quantities_and_rates() -> None:
    assert format_quantity(Decimal("25000.0"), EN) == "25,000"
    assert format_quantity(Decimal("1250.50"), DE) == "1.250,5"
    assert format_quantity(Decimal("3.2258064516"), EN) == "3.2258"
    assert format_rate(Decimal("20.0"), EN) == "20%"
    assert format_rate(Decimal("5.5"), FR) == f"5,5{NBSP}%"


def test_contract_numbers_become_decimals_without_float_noise() -> None:
    assert to_decimal(5.5) == Decimal("5.5")
    assert to_decimal("0.1") + to_decimal("0.2") == Decimal("0.3")
    assert to_decimal(None) == 0
    with pytest.raises(ValueError):
        to_decimal("ten")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (EN, "Dec. 01, 2022"),
        (FR, "1 décembre 2022"),
        (DE, "1. Dezember 2022"),
        (ES, "1 de diciembre de 2022"),
    ],
)
def test_dates(locale: Locale, expected: str) -> None:
    assert format_date(date(2022, 12, 1), locale) == expected


def test_fee_periods_are_dated_in_the_customers_timezone() -> None:
    assert parse_local_date("2026-10-31T22:59:59Z", "Europe/Warsaw") == date(2026, 10, 31)
    assert parse_local_date("2026-10-31T23:30:00Z", "Europe/Warsaw") == date(2026, 11, 1)
    assert parse_local_date("2026-10-31T23:30:00Z", None) == date(2026, 10, 31)
    assert parse_local_date("2026-10-31T23:30:00Z", "Not/AZone") == date(2026, 10, 31)
