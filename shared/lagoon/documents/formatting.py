"""Locale formatting of money, quantities, rates and dates on documents, with `Decimal` only (never float).

Amounts arrive as integer cents (`*_amount_cents`) or as Lago's precise decimal strings (`amount_details`,
`precise_unit_amount`, in currency units). Money is shown with the currency's exponent (JPY 0 decimals, EUR 2,
BHD 3: `lagoon.engine.money`), rounded half-up as Lago rounds; unit prices keep the extra precision they have.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from lagoon.documents.locales import NBSP, Locale
from lagoon.domain.times import parse_iso
from lagoon.engine.money import cents_to_amount, currency_exponent, round_half_up

# Symbols for the currencies a reader recognises by symbol; every other currency is written with its ISO code.
# Kept unambiguous: `$` is the US dollar only. Every symbol must have a glyph in the document font (tested).
CURRENCY_SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "CN¥",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "SGD": "S$",
    "MXN": "MX$",
    "BRL": "R$",
    "INR": "₹",
    "PLN": "zł",
    "KRW": "₩",
    "NGN": "₦",
    "PHP": "₱",
    "UAH": "₴",
    "TRY": "₺",
    "VND": "₫",
}

MAX_UNIT_PRICE_DECIMALS = 6
"""Unit prices keep up to this many decimals (Lago's `precise_unit_amount` can be 0.000123)."""
MAX_QUANTITY_DECIMALS = 4


def plain_text(value: object) -> str:
    """A contract value as printed text: None is empty, surrounding whitespace is dropped."""
    return "" if value is None else str(value).strip()


def to_decimal(value: object) -> Decimal:
    """A Decimal from a contract value: decimal strings ("10.0"), integers, or numbers (`tax_rate`: 20.0).

    Floats only come from JSON numbers such as rates; they go through `str` so 5.5 stays 5.5.
    """
    if isinstance(value, Decimal):
        return value
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[index : index + 3] for index in range(head, len(digits), 3)]
    return separator.join(parts)


def format_decimal(value: Decimal, locale: Locale, *, min_decimals: int = 0, max_decimals: int = 6) -> str:
    """`value` with the locale's separators, rounded half-up to `max_decimals`, trailing zeros beyond
    `min_decimals` dropped: 1234.5 → "1,234.50" (en, min 2), "1.234,5" (de, min 0)."""
    rounded = round_half_up(value, max_decimals)
    text = format(abs(rounded), "f")
    integer, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0")
    if len(fraction) < min_decimals:
        fraction = fraction.ljust(min_decimals, "0")
    numbers = locale.numbers
    result = _group(integer, numbers.thousands_separator)
    if fraction:
        result += numbers.decimal_mark + fraction
    return ("-" if rounded < 0 else "") + result


def _with_currency(number: str, currency: str, locale: Locale) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    negative = number.startswith("-")
    number = number.removeprefix("-")
    sign = "-" if negative else ""
    if locale.numbers.symbol_before:
        # "$4,500.00", but "BHD 1,234.567" for a code.
        separator = "" if symbol != currency else NBSP
        return f"{sign}{symbol}{separator}{number}"
    return f"{sign}{number}{NBSP}{symbol}"


def format_money_cents(cents: int, currency: str, locale: Locale) -> str:
    """Integer minor units as money: 123456 EUR → "€1,234.56" (en), "1 234,56 €" (fr); 1500 JPY → "¥1,500"."""
    exponent = currency_exponent(currency)
    amount = cents_to_amount(int(cents), currency)
    return _with_currency(
        format_decimal(amount, locale, min_decimals=exponent, max_decimals=exponent), currency, locale
    )


def format_money(amount: Decimal, currency: str, locale: Locale) -> str:
    """A precise amount in currency units (Lago's decimal strings), rounded half-up to the currency's cents."""
    exponent = currency_exponent(currency)
    return _with_currency(
        format_decimal(amount, locale, min_decimals=exponent, max_decimals=exponent), currency, locale
    )


def format_unit_price(amount: Decimal, currency: str, locale: Locale) -> str:
    """A unit price: at least the currency's decimals, and the finer precision a usage price has (€0.0012)."""
    exponent = currency_exponent(currency)
    return _with_currency(
        format_decimal(
            amount, locale, min_decimals=exponent, max_decimals=max(exponent, MAX_UNIT_PRICE_DECIMALS)
        ),
        currency,
        locale,
    )


def format_quantity(value: Decimal, locale: Locale) -> str:
    """Units: 1200 → "1,200", 10.5 → "10,5" (fr); at most four decimals."""
    return format_decimal(value, locale, max_decimals=MAX_QUANTITY_DECIMALS)


def format_rate(rate: Decimal, locale: Locale) -> str:
    """A percentage: 20 → "20%" (en), 5.5 → "5,5 %" (fr)."""
    return locale.numbers.percent_format.format(rate=format_decimal(rate, locale, max_decimals=4))


def format_date(value: date, locale: Locale) -> str:
    """A date in the locale's long form: "Dec. 01, 2022" (en, Lago's format), "1 décembre 2022" (fr)."""
    formats = locale.dates
    return formats.template.format(
        day=value.day,
        day2=f"{value.day:02d}",
        month=formats.month_names[value.month - 1],
        mon=formats.abbr_month_names[value.month - 1],
        year=value.year,
    )


def parse_date(value: str) -> date:
    """A contract `date` ("2026-11-01")."""
    return date.fromisoformat(value[:10])


def parse_local_date(value: str, timezone: str | None) -> date:
    """The calendar date of a contract `date-time` in the customer's timezone (fee periods are UTC instants)."""
    instant = parse_iso(value)
    if timezone and instant.tzinfo is not None:
        with suppress(ValueError, KeyError):  # an unknown zone keeps UTC dates
            instant = instant.astimezone(ZoneInfo(timezone))
    return instant.date()
