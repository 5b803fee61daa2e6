"""Typed domain errors. They are mapped to Lago's HTTP error bodies in exactly one place: lagoon.api.resolver."""

from __future__ import annotations


class LagoonError(Exception):
    """Base of every error Lagoon raises on purpose."""


class ValidationFailed(LagoonError):
    """422 validation_errors: `details` maps a field name to Lago error codes, e.g. {"name": ["value_is_mandatory"]}."""

    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__(f"validation failed: {details}")
        self.details = details

    @classmethod
    def field(cls, field: str, code: str) -> ValidationFailed:
        return cls({field: [code]})


class AmountOutOfRange(ValidationFailed):
    """422 `{"amount_cents": ["value_is_out_of_range"]}`: an amount computed from bounded inputs (units x
    prices, a sum of fees, their taxes) does not fit the signed 64-bit integer every amount in cents is (Lago's
    bigint columns). Nothing holding it is written (docs/decisions.md "Input bounds")."""

    def __init__(self, field: str = "amount_cents") -> None:
        super().__init__({field: ["value_is_out_of_range"]})


class UnprocessableError(LagoonError):
    """422 with a specific Lago code and no field details (e.g. `plan_overlapping`)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message


class NotFound(LagoonError):
    """404 `<resource>_not_found`."""

    def __init__(self, resource: str) -> None:
        super().__init__(f"{resource} not found")
        self.code = f"{resource}_not_found"


class BadRequest(LagoonError):
    """400 with Lago's `BadRequest: <message>` error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PayloadTooLarge(LagoonError):
    """413: the request, or what it would store, is larger than Lagoon keeps (docs/decisions.md "Input bounds").
    Permanent: sending it again cannot succeed, unlike `TransientFailure`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(LagoonError):
    """401: missing, unknown or revoked API key."""


class Forbidden(LagoonError):
    """403 with a Lago code such as `feature_unavailable`."""

    def __init__(self, code: str = "feature_unavailable", message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message


class MethodNotAllowed(LagoonError):
    """405 with a Lago code such as `not_allowed` or `invoiced_fee`."""

    def __init__(self, code: str = "not_allowed", message: str | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message


class NotImplementedYet(LagoonError):
    """A Lago feature Lagoon has deferred (DECISIONS.md): answered 405 `not_implemented` with a clear message."""

    def __init__(self, feature: str) -> None:
        super().__init__(f"{feature} is not implemented in this version of Lagoon")
        self.feature = feature


class ProviderNotConfigured(LagoonError):
    """A paid integration (payment provider, CRM, tax provider) that cannot work here: 422 with a clear code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConflictRetry(LagoonError):
    """A concurrent write won a race; the caller may retry (mapped to 409-free retry inside services)."""


class TransientFailure(LagoonError):
    """A dependency (Kinesis, DynamoDB throttling) failed transiently: 503, the client should retry."""


UNBILLABLE = (AmountOutOfRange, PayloadTooLarge)
"""What keeps one invoice from being written for good (its amounts or its document beyond what Lagoon
stores): the billing run logs it as a failure and goes on with the other customers, never writing it."""
