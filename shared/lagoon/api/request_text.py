"""What a request carries as text, read as Lago's Rails stack reads it: anything it cannot read is a 400.

- The body is UTF-8 (an API Gateway event marks other bytes `isBase64Encoded`) and at most `MAX_BODY_BYTES`
  (else 413: a body that size cannot be stored anyway, a DynamoDB item holds 400 KB).
- It is JSON nested at most `MAX_NESTING` levels (Ruby's `JSON.parse` `max_nesting`), whose strings are
  Unicode text (a `\\ud800` escape alone is not).
- Numbers a float or an int cannot hold — `NaN` and `Infinity` (Python's JSON extensions), `1e400`, integers
  of more than 4,000 digits (Python refuses to parse 4,300) — are read as Decimals: the numeric field that
  gets one refuses it as out of bounds (422 `value_is_invalid`), and so does every other field, never
  storing a value that JSON cannot write back.
- A JSON body that is not an object (`[]`, `"x"`, `1`) is wrapped as Rails wraps it (`{"_json": …}`, which
  no route reads): the route then answers that its root key is missing, as Lago does.
- Query string values are Unicode text too.

Every route reads its body this way, whether it uses it or not (`read_body`): Rails parses the body of every
request, so a body Lago cannot read is a 400 on any route. Errors are raised as `lagoon.errors` types from
inside the route's call, so the resolver answers them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from decimal import Decimal
from functools import cached_property
from typing import Any

from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from lagoon import errors

MAX_BODY_BYTES = 1024 * 1024
"""Largest request body read (1 MiB): far above any Lago request; what a stored document holds is checked
where it is written, 400 KB (docs/decisions.md "Input bounds")."""
MAX_NESTING = 100
"""Ruby's `JSON.parse` default `max_nesting`: deeper bodies are a parse error in Lago (400)."""
_INT_DIGITS = 4000
"""Below Python's 4,300-digit limit on int parsing (`sys.get_int_max_str_digits`)."""

MALFORMED = "malformed JSON body"


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _INT_DIGITS else Decimal(text)


def _parse_float(text: str) -> float | Decimal:
    value = float(text)
    return value if math.isfinite(value) else Decimal(text)


def _is_text(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_parsed(value: Any) -> None:
    """Depth and text of a parsed body, iteratively (a recursive walk could itself run out of stack)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if not _is_text(item):
                raise errors.BadRequest(f"{MALFORMED}: a string is not valid Unicode text")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_NESTING:
            raise errors.BadRequest(f"{MALFORMED}: nested deeper than {MAX_NESTING} levels")
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        else:
            pending.extend((child, depth + 1) for child in item)


def parse_json_body(text: str) -> dict[str, Any]:
    """The body as a JSON object (see the module docstring); `json.JSONDecodeError` for text that is not JSON
    (Powertools answers it as `json_invalid`, the resolver as 400)."""
    try:
        try:
            value = json.loads(text, parse_float=_parse_float, parse_constant=Decimal)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer of more than 4,300 digits: parse again, reading long integers as Decimals.
            value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=Decimal)
    except RecursionError:
        raise errors.BadRequest(f"{MALFORMED}: nested deeper than {MAX_NESTING} levels") from None
    _check_parsed(value)
    return value if isinstance(value, dict) else {"_json": value}


def _check_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")


def _check_query_text(values: dict[str, Any]) -> None:
    for name, value in values.items():
        texts = value if isinstance(value, list) else [value]
        if not _is_text(name) or not all(_is_text(text) for text in texts if isinstance(text, str)):
            raise errors.BadRequest("invalid encoding for a query string parameter")


class LagoonProxyEvent(APIGatewayProxyEvent):
    """An API Gateway REST event whose body and query values are checked where Powertools reads them."""

    @cached_property
    def decoded_body(self) -> str | None:
        body: str | None = self.body
        if not body:
            return body
        if self.is_base64_encoded:
            _check_size(len(body) * 3 // 4)
            try:
                raw = base64.b64decode(body.encode(), validate=True)
            except (binascii.Error, ValueError):
                raise errors.BadRequest("the body is not valid base64") from None
            _check_size(len(raw))
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise errors.BadRequest("the body is not valid UTF-8") from None
        _check_size(len(body))  # characters: never more than its bytes
        try:
            _check_size(len(body.encode()))
        except UnicodeEncodeError:
            raise errors.BadRequest("the body is not valid UTF-8") from None
        return body

    @cached_property
    def json_body(self) -> Any:
        text = self.decoded_body
        return parse_json_body(text) if text else None

    @property
    def query_string_parameters(self) -> dict[str, str]:
        values = super().query_string_parameters
        _check_query_text(values)
        return values

    @property
    def multi_value_query_string_parameters(self) -> dict[str, list[str]]:
        values = super().multi_value_query_string_parameters
        _check_query_text(values)
        return values


def read_body(app: Any, next_middleware: NextMiddleware) -> Any:
    """Middleware: parse a JSON body before the route runs, also on routes that take none (Powertools parses
    only the bodies of routes that declare one)."""
    event = app.current_event
    content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").strip()
    if event.body and (not content_type or content_type.lower().startswith("application/json")):
        try:
            event.json_body  # noqa: B018 - parsed (and cached) for its errors
        except json.JSONDecodeError:
            raise errors.BadRequest(MALFORMED) from None
    return next_middleware(app)
