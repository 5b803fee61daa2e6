"""Field validators that raise Lago's error codes (pydantic custom errors carry the code as their type)."""

from __future__ import annotations

import re
import typing
import uuid

from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType

from lagoon import reference_data

_PYDANTIC_ERROR_TYPES = frozenset(typing.get_args(ErrorType))
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


def lago_code(error_type: str) -> str:
    """A pydantic error type as Lago's error code. Custom errors (`PydanticCustomError`) already carry one;
    a missing field is `value_is_mandatory`, text too long Lago's `value_is_too_long` (its `too_long`), any
    other builtin error `value_is_invalid`."""
    if error_type == "missing":
        return "value_is_mandatory"
    if error_type == "string_too_long":
        return "value_is_too_long"
    if error_type in _PYDANTIC_ERROR_TYPES:
        return "value_is_invalid"
    return error_type


def check_country(value: str | None) -> str | None:
    if value is None:
        return None
    if value.upper() not in reference_data.countries():
        raise PydanticCustomError("country_code_invalid", "not an ISO 3166 alpha-2 country code")
    return value.upper()


def check_currency(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in reference_data.currencies():
        raise PydanticCustomError("value_is_invalid", "not a currency Lago accepts (ISO 4217)")
    return value


def check_required_currency(value: str | None) -> str:
    """A currency a plan or an add-on must have: lago-api validates only its inclusion in the accepted
    currencies, so a missing one is `value_is_invalid` as a wrong one (`Plan`, `AddOn` validations)."""
    if value is None:
        raise PydanticCustomError("value_is_invalid", "not a currency Lago accepts (ISO 4217)")
    return check_currency(value) or value


def check_above_zero(value: int) -> int:
    """lago-api's `numericality: {greater_than: 0}` (an add-on's amount): `value_is_out_of_range`."""
    if value <= 0:
        raise PydanticCustomError("value_is_out_of_range", "must be greater than 0")
    return value


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in reference_data.timezones():
        raise PydanticCustomError("invalid_timezone", "not a timezone Lago accepts (IANA)")
    return value


def check_document_locale(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in reference_data.document_locales():
        raise PydanticCustomError("invalid_document_locale", "not a document locale Lago accepts")
    return value


def check_emails(value: str | None) -> str | None:
    """Lago accepts a comma-separated list of addresses."""
    if value is None or value == "":
        return value
    for address in value.split(","):
        if not _EMAIL.match(address.strip()):
            raise PydanticCustomError("invalid_email_format", "not an email address")
    return value


CODE_MAX_LENGTH = 255
"""Longest catalog `code` accepted: codes are DynamoDB sort keys (1,024 bytes), 255 characters always fit."""

BIGINT_MAX = 2**63 - 1
"""Largest amount in cents (and count) accepted, Lago's bigint columns: 10**30 cents used to be stored."""


def is_uuid(value: str) -> bool:
    """Whether `value` is a UUID (a Lago id): anything else cannot name a stored object."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
