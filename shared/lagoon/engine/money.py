"""Money: ISO 4217 exponents, half-up rounding and cents, with `Decimal` only (never float).

Lago keeps every amount as integer cents of the currency (`amount_cents`) next to a precise, unrounded
amount (`precise_amount`), and rounds half-up to the currency's exponent (feature checklist §0.7).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from lagoon import errors
from lagoon.engine.numbers import EXACT

CENTS_MAX = 2**63 - 1
CENTS_MIN = -(2**63)
"""Every amount in cents is a signed 64-bit integer, as Lago's bigint columns hold them."""

# Currencies Lago accepts (lago-docs/24-resources.md "Currencies" and the spec's currency enum), with their ISO 4217 minor-unit
# exponents. Currencies with 3 decimals (BHD, IQD, JOD, KWD, LYD, OMR, TND) are not in Lago's list; they are
# kept here so the exponent table stays correct if the list grows.
_ZERO_DECIMAL = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV")
_ZERO_DECIMAL_FRANCS = ("XAF", "XOF", "XPF")
_THREE_DECIMALS = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_FOUR_DECIMALS = ("CLF",)
_TWO_DECIMALS = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BRL",
    "BSD",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHF",
    "CNY",
    "COP",
    "CRC",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ETB",
    "EUR",
    "FJD",
    "GHS",
    "FKP",
    "GBP",
    "GEL",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HRK",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRO",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SEK",
    "SGD",
    "SHP",
    "SLL",
    "SOS",
    "SRD",
    "STD",
    "SZL",
    "THB",
    "TJS",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "UYU",
    "UZS",
    "WST",
    "XCD",
    "YER",
    "ZAR",
    "ZMW",
]

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS, 2),
    **dict.fromkeys(_ZERO_DECIMAL + _ZERO_DECIMAL_FRANCS, 0),
    **dict.fromkeys(_THREE_DECIMALS, 3),
    **dict.fromkeys(_FOUR_DECIMALS, 4),
}
"""ISO 4217 exponent (number of decimals of the minor unit) per currency code."""

_QUANTUMS = {exponent: Decimal(1).scaleb(-exponent) for exponent in range(-12, 13)}


class UnknownCurrencyError(ValueError):
    """A currency code Lagoon has no exponent for."""


def currency_exponent(currency: str) -> int:
    """Number of decimals of `currency`'s minor unit (JPY 0, EUR 2, BHD 3, CLF 4)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrencyError(currency) from None


def round_half_up(value: Decimal, exponent: int) -> Decimal:
    """Round to `exponent` decimals, halves away from zero (2.345 → 2.35, -2.345 → -2.35).

    A negative exponent rounds to tens, hundreds… (1250 at -2 → 1300).
    """
    quantum = _QUANTUMS.get(exponent) or Decimal(1).scaleb(-exponent)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP, context=EXACT)
    if exponent < 0:
        # quantize keeps the exponent form (1.3E+3); normalise back to an integral Decimal.
        return Decimal(int(rounded))
    return rounded


def to_cents(amount: Decimal, currency: str) -> int:
    """Integer minor units of a precise amount in currency units, rounded half-up (12.345 EUR → 1235)."""
    exponent = currency_exponent(currency)
    return int(round_half_up(amount.scaleb(exponent, context=EXACT), 0))


def cents_to_amount(cents: int | Decimal, currency: str) -> Decimal:
    """Currency units of an amount in minor units (1235 EUR cents → 12.35; 500 JPY → 500)."""
    return Decimal(cents).scaleb(-currency_exponent(currency), context=EXACT)


def check_cents(*amounts: int) -> None:
    """Raise `errors.AmountOutOfRange` when an amount in cents does not fit a signed 64-bit integer."""
    if any(not CENTS_MIN <= amount <= CENTS_MAX for amount in amounts):
        raise errors.AmountOutOfRange()


def round_cents(precise_cents: Decimal) -> int:
    """Integer cents of a precise amount already expressed in cents, rounded half-up (12.5 → 13)."""
    return int(precise_cents.quantize(_QUANTUMS[0], rounding=ROUND_HALF_UP, context=EXACT))
