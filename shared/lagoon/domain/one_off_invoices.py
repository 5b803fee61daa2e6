"""Request bodies of one-off invoices (`POST /invoices`, the contract's InvoiceOneOffCreateInput)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from lagoon import errors
from lagoon.domain.bounds import Cents, Quantity
from lagoon.domain.organizations import Currency
from lagoon.domain.times import iso, parse_input_datetime
from lagoon.models import LagoonModel


class OneOffFeeInput(LagoonModel):
    """One add-on line. Unset fields come from the add-on (amount, description); units default to 1."""

    model_config = ConfigDict(extra="ignore")

    add_on_code: Annotated[str, Field(min_length=1)]
    invoice_display_name: str | None = None
    unit_amount_cents: Cents | None = None
    # The contract says a numeric string; Lago's clients also send numbers (2.5).
    units: Quantity | None = None
    description: str | None = None
    from_datetime: str | None = None
    to_datetime: str | None = None
    tax_codes: list[str] | None = None
    skip_psp: bool | None = None


class OneOffInvoiceInput(LagoonModel):
    """`invoice` of `POST /invoices`."""

    model_config = ConfigDict(extra="ignore")

    external_customer_id: Annotated[str, Field(min_length=1)]
    currency: Currency = None
    fees: list[OneOffFeeInput]


def fee_boundaries(fee: OneOffFeeInput) -> tuple[str | None, str | None]:
    """The fee's `from_datetime` and `to_datetime` as UTC text (`2024-01-01T00:00:00Z`), as Lago's
    `Fees::OneOffService#valid_boundaries?` takes them: both or neither, ISO 8601, from ≤ to — else 422
    `{"boundaries": ["values_are_invalid"]}`."""
    if fee.from_datetime is None and fee.to_datetime is None:
        return None, None
    try:
        start, end = parse_input_datetime(fee.from_datetime), parse_input_datetime(fee.to_datetime)
    except ValueError:
        raise errors.ValidationFailed.field("boundaries", "values_are_invalid") from None
    if start > end:
        raise errors.ValidationFailed.field("boundaries", "values_are_invalid")
    return iso(start), iso(end)
