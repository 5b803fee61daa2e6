"""Bounded, exact numbers: what counts as a number in events and charge properties, and the Decimal context
the engine computes money in.

- Event properties follow Lago's numeric test for aggregated properties (`^-?\\d+(\\.\\d+)?$` in its
  Postgres event store): ASCII digits only, an optional minus and decimal part. JSON numbers count too.
- Charge properties accept what Lago's `BigDecimal` parsing accepts (optional exponent), ASCII digits only.
- Both are bounded: at most `MAX_INTEGER_DIGITS` digits before the point and `MAX_SCALE` after it (Lago's
  ClickHouse store keeps 26 decimals). Anything else (NaN, Infinity, "1e400", "9" * 5000, "١٢٣", "1_000")
  is not a number: events are ignored as non-numeric, charge properties are refused.
- `EXACT` has 200 significant digits: sums, products and fee amounts of bounded values never round; only
  divisions (proration, unit amounts) are cut, far below a cent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import wraps
from typing import ParamSpec, TypeVar

MAX_INTEGER_DIGITS = 20
MAX_SCALE = 26
_MAX_TEXT_LENGTH = MAX_INTEGER_DIGITS + MAX_SCALE + 8
_LIMIT = 10**MAX_INTEGER_DIGITS
_SCALE_QUANTUM = Decimal(1).scaleb(-MAX_SCALE)

EXACT = Context(
    prec=200,
    rounding=ROUND_HALF_UP,
    Emax=10_000,
    Emin=-10_000,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""The engine's Decimal context (see the module docstring)."""

_SCALE_CHECK = Context(prec=200, traps=[Inexact, InvalidOperation])

_EVENT_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_PROPERTY_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")

P = ParamSpec("P")
R = TypeVar("R")


def exact(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` in the `EXACT` context."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(EXACT):
            return function(*args, **kwargs)

    return wrapper


def in_bounds(value: Decimal) -> bool:
    """True when `value` is finite, below 10**MAX_INTEGER_DIGITS and has at most MAX_SCALE decimals."""
    if not value.is_finite():
        return False
    if value.is_zero():
        return True
    if value.adjusted() >= MAX_INTEGER_DIGITS:
        return False
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_SCALE:
        try:
            value.quantize(_SCALE_QUANTUM, context=_SCALE_CHECK)
        except (Inexact, InvalidOperation):
            return False
    return True


def _from_number(value: object) -> Decimal | None:
    kind = type(value)
    if kind is int:
        return Decimal(value) if -_LIMIT < value < _LIMIT else None  # type: ignore[operator, arg-type]
    if kind is float:
        parsed = Decimal(repr(value))
        return parsed if in_bounds(parsed) else None
    if isinstance(value, Decimal):
        return value if in_bounds(value) else None
    return None


def event_number(value: object) -> Decimal | None:
    """The Decimal of an event property value, or None when it is missing, not a number or out of bounds."""
    if type(value) is str:
        if len(value) > _MAX_TEXT_LENGTH or not _EVENT_NUMBER.fullmatch(value):  # type: ignore[arg-type]
            return None
        parsed = Decimal(value)  # type: ignore[arg-type]
        return parsed if in_bounds(parsed) else None
    return _from_number(value)


def property_number(value: object) -> Decimal | None:
    """The Decimal of a charge property amount (string or JSON number), or None when it is not a bounded
    number. Booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT_LENGTH or not _PROPERTY_NUMBER.fullmatch(text):
            return None
        parsed = Decimal(text)
        return parsed if in_bounds(parsed) else None
    if isinstance(value, int):
        return Decimal(value) if -_LIMIT < value < _LIMIT else None
    return _from_number(value)


def decimal_text(value: Decimal) -> str:
    """A Decimal as Lago prints units (`"12.0"` style is not required: plain, no exponent)."""
    normalized = value.normalize() if value == value.to_integral_value() else value
    return format(normalized, "f")
