"""API Gateway (REST, v1) emulated in-process: routes, REQUEST authorizer with caching, proxy events,
GatewayResponses — all read from template.yaml. Used by the local HTTP server and by the tests.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from lagoon.local.template import LOCAL_ACCOUNT, Route, Template

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and Lagoon read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 29
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _deadline: float = field(default_factory=lambda: time.monotonic() + 29)

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


@dataclass
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class AuthorizerFailure(Exception):
    """The authorizer failed (not a deny): API Gateway answers 500 and caches nothing."""


class FunctionRegistry:
    """Imports the real handler of each template function once, by its dotted module path."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()

    def handler(self, logical_id: str) -> Handler:
        with self._lock:
            if logical_id not in self._handlers:
                module = importlib.import_module(self.template.function_module(logical_id))
                self._handlers[logical_id] = getattr(module, self.template.function_handler_name(logical_id))
            return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        name = self.template.physical_name(logical_id)
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=f"arn:aws:lambda:{self.template.region}:{LOCAL_ACCOUNT}:function:{name}",
            log_group_name=f"/aws/lambda/{name}",
        )
        return self.handler(logical_id)(event, context)


class Gateway:
    """One REST API: match a route, authorize, build the proxy event, call the function, shape the answer."""

    def __init__(
        self,
        template: Template,
        functions: FunctionRegistry | None = None,
        stage: str = "local",
        *,
        one_at_a_time: bool = False,
    ) -> None:
        self.template = template
        self.functions = functions or FunctionRegistry(template)
        self.stage = stage
        self.routes = template.routes()
        self.gateway_responses = template.gateway_responses()
        self.authorizer = template.authorizer()
        self._auth_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._auth_lock = threading.Lock()
        # `one_at_a_time` (the local stack's HTTP server): one API invocation at a time, as one Lambda container
        # serves one request at a time. Powertools' resolvers keep the current request in class attributes
        # (`BaseRouter.current_event`, shared by every router of every function in this process), so two requests
        # served at once could read each other's event, organization included. The pollers and the scheduler call
        # functions without a resolver. The in-process tests' race harness schedules its threads itself.
        self._invoke_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if one_at_a_time else contextlib.nullcontext()
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route in API Gateway's precedence (`Template.routes`) whose path and method both match."""
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in ("ANY", method):
                return route, found.groupdict()
        return None

    def _gateway_error(self, kind: str, default_status: int) -> GatewayResponse:
        status, body = self.gateway_responses.get(kind, (None, ""))
        if not body:  # no response of its own: the DEFAULT_4XX/5XX one, with the status the template gives it
            fallback_status, body = self.gateway_responses.get(
                "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX", (None, "")
            )
            status = status or fallback_status
        body = body or json.dumps({"status": default_status, "error": "Error"})
        return GatewayResponse(status or default_status, {"Content-Type": "application/json"}, body.encode())

    def _authorize(self, route: Route, event: dict[str, Any]) -> dict[str, Any] | None:
        """The authorizer's context, or None when denied. Cached on the Authorization header like API Gateway."""
        assert self.authorizer is not None
        logical_id, ttl = self.authorizer
        token = next((v for k, v in event["headers"].items() if k.lower() == "authorization"), None)
        if not token:
            return None
        now = time.monotonic()
        with self._auth_lock:
            cached = self._auth_cache.get(token)
            if cached and cached[0] > now:
                return cached[1]
        auth_event = {
            "type": "REQUEST",
            "methodArn": (
                f"arn:aws:execute-api:{self.template.region}:{LOCAL_ACCOUNT}:local/{self.stage}/"
                f"{event['httpMethod']}{event['path']}"
            ),
            "resource": route.path,
            "path": event["path"],
            "httpMethod": event["httpMethod"],
            "headers": event["headers"],
            "multiValueHeaders": event["multiValueHeaders"],
            "queryStringParameters": event["queryStringParameters"],
            "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
            "pathParameters": event["pathParameters"],
            "stageVariables": None,
            "requestContext": event["requestContext"],
        }
        try:
            result = self.functions.invoke(logical_id, auth_event)
        except Exception as exc:
            if str(exc) != "Unauthorized":
                # Any other error is an authorizer failure (500 AUTHORIZER_FAILURE), never cached as a deny.
                raise AuthorizerFailure() from exc
            context = None  # "Unauthorized": API Gateway answers 401 and caches the denial
        else:
            allowed = any(s.get("Effect") == "Allow" for s in result["policyDocument"]["Statement"])
            context = (
                {**(result.get("context") or {}), "principalId": result.get("principalId")}
                if allowed
                else None
            )
        with self._auth_lock:
            self._auth_cache[token] = (now + ttl, context)
        return context

    def build_event(
        self,
        route: Route,
        method: str,
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        query: str,
        body: bytes | None,
        source_ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        pairs = parse_qsl(query, keep_blank_values=True)
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for key, value in pairs:
            single[key] = value
            multi.setdefault(key, []).append(value)
        text: str | None = None
        is_base64 = False
        if body:
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text, is_base64 = base64.b64encode(body).decode(), True
        request_id = str(uuid.uuid4())
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers),
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": single or None,
            "multiValueQueryStringParameters": multi or None,
            # API Gateway REST decodes path parameters and keeps `path` as sent.
            "pathParameters": {name: unquote(value) for name, value in params.items()} or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": request_id,
                "extendedRequestId": request_id,
                "accountId": LOCAL_ACCOUNT,
                "apiId": "local",
                "protocol": "HTTP/1.1",
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", "")},
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }

    def handle(
        self, method: str, path: str, headers: dict[str, str], query: str = "", body: bytes | None = None
    ) -> GatewayResponse:
        method = method.upper()
        found = self.match(method, path)
        if found is None:
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", 403)
        route, params = found
        event = self.build_event(route, method, path, params, headers, query, body)
        if route.authorized and self.authorizer:
            try:
                context = self._authorize(route, event)
            except AuthorizerFailure:
                return self._gateway_error("AUTHORIZER_FAILURE", 500)
            if context is None:
                return self._gateway_error("UNAUTHORIZED", 401)
            event["requestContext"]["authorizer"] = context
        try:
            with self._invoke_lock:
                result = self.functions.invoke(route.function, event)
        except Exception:
            return self._gateway_error("DEFAULT_5XX", 502)
        return self._proxy_response(result)

    @staticmethod
    def _proxy_response(result: dict[str, Any]) -> GatewayResponse:
        headers: dict[str, str] = {}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers[key] = ", ".join(values)
        headers.update(result.get("headers") or {})
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        return GatewayResponse(int(result.get("statusCode", 200)), headers, body)
