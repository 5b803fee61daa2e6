"""The bounds of the values a request gives, as types every request body shares (docs/decisions.md "Input
bounds"): what Lago's database refuses, or what Lagoon's stores cannot hold — a value beyond them is a 422,
never a 5xx and never a number no later total can hold.

- Codes: at most 255 characters (a code is a DynamoDB sort key of at most 1,024 bytes).
- Store keys (a subscription's `external_id`, an event's `transaction_id` and `external_subscription_id`): at
  most 512 UTF-8 bytes, as they are parts of the usage tables' composite sort keys (1,024 bytes).
- Cents and counts: integers of Lago's bigint columns, 0 to 2**63 - 1.
- Quantities (`units`) and decimal amounts: finite, non-negative, within the engine's bounded numbers
  (`lagoon.engine.numbers`: 20 integer digits, 26 decimals).
- Text Lago bounds in its models (`length: {maximum: …}`): customer names, metadata, the invoice footer.

Text too long answers Lago's `value_is_too_long`; a number out of bounds `value_is_invalid`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from lagoon.domain.validators import BIGINT_MAX, CODE_MAX_LENGTH
from lagoon.engine.numbers import in_bounds

STORE_KEY_MAX_BYTES = 512
"""Longest key of the usage stores: `<organization>#<external_subscription_id>#<stream position>` and the
other composite sort keys it enters stay below DynamoDB's 1,024 bytes."""


def check_store_key(value: str) -> str:
    if len(value.encode()) > STORE_KEY_MAX_BYTES:
        raise PydanticCustomError("value_is_too_long", "at most 512 bytes (UTF-8)")
    return value


def check_bounded_decimal(value: Decimal) -> Decimal:
    if not in_bounds(value):
        raise PydanticCustomError("value_is_invalid", "a number of at most 20 digits and 26 decimals")
    return value


NonEmptyText = Annotated[str, Field(min_length=1)]
CatalogCode = Annotated[str, Field(min_length=1, max_length=CODE_MAX_LENGTH)]
"""A code is a DynamoDB sort key (at most 1,024 bytes): 255 characters fit in any UTF-8 encoding."""
StoreKey = Annotated[str, Field(min_length=1), AfterValidator(check_store_key)]
NonNegativeInt = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
"""Cents and counts: Lago's bigint columns (10**30 cents used to be stored, and invoiced)."""
Cents = NonNegativeInt
Quantity = Annotated[Decimal, Field(ge=0, allow_inf_nan=False), AfterValidator(check_bounded_decimal)]
"""Units and other non-negative decimals (2**64 units of 2**63 cents made an invoice no bigint holds)."""


# Text Lago bounds in its models (`length: {maximum: …}`).
CustomerName = Annotated[str, Field(max_length=255)]
"""`Customer` validates `name, length: {maximum: 255}`."""
MetadataKey = Annotated[str, Field(min_length=1, max_length=20)]
"""Customer and invoice metadata keys: `length: {maximum: 20}`."""
CustomerMetadataValue = Annotated[str, Field(max_length=100)]
"""`Metadata::CustomerMetadata` validates `value, length: {maximum: 100}`."""
InvoiceMetadataValue = Annotated[str, Field(max_length=140)]
"""`Metadata::InvoiceMetadata` validates `value, length: {maximum: 140}`."""
InvoiceFooter = Annotated[str, Field(max_length=600)]
"""`Organization` validates `invoice_footer, length: {maximum: 600}`."""
