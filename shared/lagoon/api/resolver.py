"""One factory for every function's resolver: Lago's error bodies, 404/405, and validation → Lago codes.

This is the only module that turns errors into HTTP bodies (STYLE.md practice 6).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.router import Router

from lagoon import errors
from lagoon.api.request_text import LagoonProxyEvent, read_body
from lagoon.auth import bearer_token
from lagoon.data import organizations
from lagoon.domain.validators import lago_code
from lagoon.observability import logger

API_PREFIX = "/api/v1"


def error_body(status: int, code: str | None = None, **extra: Any) -> dict[str, Any]:
    """Lago's error JSON: {"status", "error" (the reason phrase), "code"?, ...}."""
    body: dict[str, Any] = {"status": status, "error": HTTPStatus(status).phrase}
    if code:
        body["code"] = code
    body.update(extra)
    return body


def error_response(status: int, code: str | None = None, **extra: Any) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(status, code, **extra),
    )


def validation_response(details: dict[str, list[str]]) -> Response:
    return error_response(422, "validation_errors", error_details=details)


def _field_name(loc: tuple[Any, ...]) -> str:
    named = [str(part) for part in loc if isinstance(part, str)]
    return named[-1] if named else "base"


def map_request_validation(
    errs: list[dict[str, Any]], more: Callable[[], dict[str, list[str]]] | None = None
) -> Response:
    """Powertools validation errors → 400 (malformed JSON / missing root key) or Lago's 422, with the errors
    `more()` adds (`with_refused_body_check`)."""
    details: dict[str, list[str]] = {}
    for err in errs:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            return error_response(400, error="BadRequest: malformed JSON body")
        if (
            loc
            and loc[0] == "body"
            and len(loc) <= 2
            and err.get("type") in ("missing", "model_attributes_type")
        ):
            key = loc[1] if len(loc) == 2 else "body"
            return error_response(400, error=f"BadRequest: param is missing or the value is empty: {key}")
        codes = details.setdefault(_field_name(loc[1:] if loc else loc), [])
        code = lago_code(str(err.get("type", "")))
        if code not in codes:
            codes.append(code)
    for field, extra in (more() if more else {}).items():
        codes = details.setdefault(field, [])
        codes.extend(code for code in extra if code not in codes)
    return validation_response(details)


RefusedBodyCheck = Callable[[str, Any, Mapping[str, str]], dict[str, list[str]]]
"""(organization id, the request's JSON body, the route's path parameters) → more Lago field errors."""

_REFUSED_BODY_CHECK = "lagoon_refused_body_check"
_Route = TypeVar("_Route", bound=Callable[..., Any])


def with_refused_body_check(check: RefusedBodyCheck) -> Callable[[_Route], _Route]:
    """Mark a route (under its `@router.<method>`): when its body fails validation, `check` adds the errors
    Lago reports together with the field errors — a catalog code already taken, as Rails runs every model
    validation before answering 422 (`lagoon.api.catalog_codes`)."""

    def mark(route: _Route) -> _Route:
        setattr(route, _REFUSED_BODY_CHECK, check)
        return route

    return mark


def _refused_body_errors(app: APIGatewayRestResolver) -> dict[str, list[str]]:
    """What the refused route's check adds (nothing without a check, a caller or a JSON object body)."""
    route = app.context.get("_route")
    check = getattr(getattr(route, "func", None), _REFUSED_BODY_CHECK, None)
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    if check is None or not context.get("organization_id"):
        return {}
    try:
        body = app.current_event.json_body
    except ValueError:
        return {}
    found: dict[str, list[str]] = check(
        str(context["organization_id"]), body, app.context.get("_route_args") or {}
    )
    return found


class LagoonRestResolver(APIGatewayRestResolver):
    """Route parameters decoded as API Gateway REST decodes `pathParameters` (`a%20b` → `a b`, `a%2Fb` → `a/b`):
    Powertools reads parameters from the raw `path`, which keeps the percent-encoding. Bodies and query values
    are read as Lago reads them (`lagoon.api.request_text`)."""

    def _to_proxy_event(self, event: dict[str, Any]) -> LagoonProxyEvent:
        return LagoonProxyEvent(event, self._json_body_deserializer)

    def _convert_matches_into_route_keys(self, match: typing.Match[str]) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}


def _not_implemented(exc: errors.NotImplementedYet) -> Response:
    return error_response(405, "not_implemented", error_details={"message": str(exc)})


def _unprocessable(exc: errors.UnprocessableError) -> Response:
    extra = {"error_details": {"message": exc.message}} if exc.message else {}
    return error_response(422, exc.code, **extra)


# Each error type → its Lago answer (Powertools picks the handler of the nearest class in the error's MRO).
_ERROR_RESPONSES: dict[type[Exception], Callable[[Any], Response]] = {
    errors.ValidationFailed: lambda exc: validation_response(exc.details),
    errors.UnprocessableError: _unprocessable,
    errors.ProviderNotConfigured: lambda exc: error_response(
        422, exc.code, error_details={"message": exc.message}
    ),
    errors.NotFound: lambda exc: error_response(404, exc.code),
    errors.BadRequest: lambda exc: error_response(400, error=f"BadRequest: {exc.message}"),
    errors.PayloadTooLarge: lambda exc: error_response(
        413, "payload_too_large", error_details={"message": exc.message}
    ),
    errors.Unauthorized: lambda exc: error_response(401),
    errors.Forbidden: lambda exc: error_response(403, exc.code),
    errors.MethodNotAllowed: lambda exc: error_response(405, exc.code),
    errors.NotImplementedYet: _not_implemented,
    errors.TransientFailure: lambda exc: error_response(
        503, "service_unavailable", error_details={"message": str(exc)}
    ),
    # Use cases retry their lost races (lagoon.services.contention); one that escapes is contention all the
    # same, never a server fault: the client may send the request again.
    errors.ConflictRetry: lambda exc: error_response(
        503, "service_unavailable", error_details={"message": "a concurrent change won, retry the request"}
    ),
    RequestUnsupportedContentType: lambda exc: error_response(
        400, error="BadRequest: unsupported content type, send application/json"
    ),
}

Deferred = Callable[[str, str], tuple[str, bool] | None]


def _caller_known(app: APIGatewayRestResolver) -> bool:
    """Whether the request carries a valid API key: the authorizer's context where the route has one, else
    (the deferred paths' greedy route, which has none so that unknown paths stay the gateway's 404) the key
    itself, checked as the authorizer checks it."""
    event = app.current_event
    if ((event.raw_event.get("requestContext") or {}).get("authorizer") or {}).get("organization_id"):
        return True
    token = bearer_token(event.headers)
    return token is not None and organizations.organization_for_api_key(token) is not None


def _no_route(app: APIGatewayRestResolver, deferred: Deferred | None) -> Response:
    """No route matched: a deferred Lago feature (405 not_implemented, after the API's 401 without a valid
    key), a path this function serves with another method (405 not_allowed, as Lago answers), or an unknown
    route (404)."""
    event = app.current_event
    path = app._remove_prefix(event.path)
    method = event.http_method.upper()
    if deferred and (found := deferred(method, path)):
        if not _caller_known(app):
            return error_response(401)
        feature, method_allowed = found
        if method_allowed:
            return _not_implemented(errors.NotImplementedYet(feature))
        return error_response(405, "not_allowed")
    for route in app._static_routes + app._dynamic_routes:
        if route.method != method and route.rule.match(path):
            return error_response(405, "not_allowed")
    return error_response(404, "route_not_found")


def _unexpected(app: APIGatewayRestResolver, exc: Exception) -> Response:
    headers = app.current_event.headers or {}
    content_type = headers.get("content-type") or headers.get("Content-Type", "")
    if isinstance(exc, ValueError) and content_type.lower().startswith("multipart/"):
        # Powertools' form parser raises a bare ValueError on a multipart type without a boundary.
        return error_response(400, error="BadRequest: malformed multipart body, send application/json")
    logger.exception("unhandled error")
    return error_response(500, "internal_error")


def build_resolver(
    *routers: Router,
    enable_swagger: bool = False,
    deferred: Deferred | None = None,
) -> APIGatewayRestResolver:
    """The resolver of one endpoint group: routers under /api/v1 and Lago-shaped errors.

    `deferred(method, path)` names a deferred Lago feature for paths no router serves (answered 405
    `not_implemented`, DECISIONS.md).
    """
    app = LagoonRestResolver(enable_validation=True, strip_prefixes=[API_PREFIX])
    app.use([read_body])
    for router in routers:
        app.include_router(router)
    if enable_swagger:
        app.enable_swagger(path="/swagger")
    for error_type, answer in _ERROR_RESPONSES.items():
        app.exception_handler(error_type)(answer)
    app.exception_handler(RequestValidationError)(
        lambda exc: map_request_validation(list(exc.errors()), lambda: _refused_body_errors(app))
    )
    app.exception_handler(NotFoundError)(lambda exc: _no_route(app, deferred))
    app.exception_handler(Exception)(lambda exc: _unexpected(app, exc))
    return app


def organization_id(app: Any) -> str:
    """The caller's organization, set by the Lambda authorizer in the request context."""
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    org = context.get("organization_id")
    if not org:
        raise errors.Unauthorized()
    return str(org)
