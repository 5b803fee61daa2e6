"""What a request carries as text is read as Lago's Rails stack reads it: a body or a query value that cannot be
read is a 400 on every route (never a 500), a body too large to keep is a 413, and nothing is written."""

from __future__ import annotations

import base64
import importlib
import json
import re

import pytest
from lagoon.local.template import Template

MALFORMED = "BadRequest: malformed JSON body"
BAD_REQUEST = {"status": 400, "error": MALFORMED}
DEEP = {"status": 400, "error": f"{MALFORMED}: nested deeper than 100 levels"}


def _body_routes() -> list[tuple[str, str]]:
    """Every (method, path) a function of template.yaml serves with POST or PUT, path parameters filled."""
    template = Template.load()
    found: list[tuple[str, str]] = []
    for route in template.routes():
        if "{proxy+}" in route.path:
            continue
        app = importlib.import_module(template.function_module(route.function)).app
        path = route.path.removeprefix("/api/v1")
        for served in app._static_routes + app._dynamic_routes:
            if served.method in ("POST", "PUT") and served.rule.match(path):
                found.append((served.method, re.sub(r"\{[^}]+\}", "unknown", path)))
    return sorted(set(found))


BODY_ROUTES = _body_routes()
ROUTE_IDS = [f"{method} {path}" for method, path in BODY_ROUTES]


def _entities_written() -> int:
    from lagoon.data.records import EntityRecord

    return sum(1 for _ in EntityRecord.scan())


def test_every_post_and_put_route_is_checked():
    # The parametrised tests below cover every route of the template that takes a body
    assert len(BODY_ROUTES) >= 30
    assert ("POST", "/events/batch") in BODY_ROUTES
    assert ("PUT", "/invoices/unknown/finalize") in BODY_ROUTES


UNREADABLE_BODIES = [
    # bytes that are not UTF-8 (API Gateway hands them over base64-encoded)
    (b'{"name": "\xff\xfe"}', 400, {"status": 400, "error": "BadRequest: the body is not valid UTF-8"}),
    # 100,000 levels used to raise RecursionError (a 500); 101 levels is already deeper than Ruby's JSON allows
    (b"[" * 100_000 + b"]" * 100_000, 400, DEEP),
    (b'{"a":' * 101 + b"1" + b"}" * 101, 400, DEEP),
    # JSON can escape half of a UTF-16 pair: that is not text, and no store can encode it
    (
        b'{"\\ud800": {"name": "x"}}',
        400,
        {"status": 400, "error": f"{MALFORMED}: a string is not valid Unicode text"},
    ),
    (
        b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
        413,
        {
            "status": 413,
            "error": "Request Entity Too Large",
            "code": "payload_too_large",
            "error_details": {"message": "the request body is larger than 1048576 bytes"},
        },
    ),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=ROUTE_IDS)
def test_a_body_lago_cannot_read_is_a_4xx_on_every_post_and_put_route(api, method, path):
    before = _entities_written()
    for raw, status, body in UNREADABLE_BODIES:
        # When a body that cannot be read is sent
        response = api.request(method, path, raw_body=raw)
        # Then it is refused before anything reads it, and nothing is written
        assert (response.status, response.json) == (status, body), raw[:40]
    assert _entities_written() == before


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/customers", "customer"),
        ("/plans", "plan"),
        ("/events", "event"),
        ("/events/batch", "events"),
        ("/invoices", "invoice"),
        ("/webhook_endpoints", "webhook_endpoint"),
    ],
)
def test_json_that_is_not_an_object_is_a_missing_root_key(api, path, root):
    # Rails keeps a non-object JSON body aside (`_json`): the controller then misses its root key
    for raw in (b"[]", b'"x"', b"1", b"null", b"[{}]"):
        response = api.post(path, raw_body=raw)
        assert response.json == {
            "status": 400,
            "error": f"BadRequest: param is missing or the value is empty: {root}",
        }, raw


def test_a_route_without_a_body_still_refuses_one_it_cannot_read(api):
    # Rails parses every request's body: a finalize with a broken body is a 400 before the invoice is looked up
    response = api.put("/invoices/unknown/finalize", raw_body=b'{"a": ')
    assert response.json == BAD_REQUEST
    # A readable body is ignored as before
    assert api.put("/invoices/unknown/finalize", raw_body=b'{"a": 1}').json["code"] == "invoice_not_found"


@pytest.mark.parametrize(
    "number",
    [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"9" * 5000],
)
def test_numbers_no_float_or_int_holds_are_invalid_values(api, number):
    # Python's JSON reads NaN and Infinity, turns 1e400 into an infinite float and refuses to parse integers
    # of more than 4,300 digits (a ValueError, once a 500): all are numbers no field can take
    add_on = (
        b'{"add_on": {"name": "A", "code": "a", "amount_currency": "EUR", "amount_cents": ' + number + b"}}"
    )
    response = api.post("/add_ons", raw_body=add_on)
    assert (response.status, response.json["error_details"]) == (422, {"amount_cents": ["value_is_invalid"]})
    plan = (
        b'{"plan": {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0, "amount_currency": "EUR",'
        b' "pay_in_advance": false, "trial_period": ' + number + b"}}"
    )
    response = api.post("/plans", raw_body=plan)
    assert (response.status, response.json["error_details"]) == (422, {"trial_period": ["value_is_invalid"]})
    # An event property JSON cannot write back is refused rather than stored
    event = b'{"event": {"transaction_id": "t", "external_subscription_id": "s", "code": "c", "properties": {"v": '
    response = api.post("/events", raw_body=event + number + b"}}}")
    assert (response.status, response.json["error_details"]) == (422, {"properties": ["value_is_invalid"]})
    assert api.get("/add_ons").json["add_ons"] == [] and api.get("/plans").json["plans"] == []


def test_a_base64_body_that_does_not_decode_is_a_400(gateway, api):
    route, params = gateway.match("POST", "/api/v1/customers")
    event = gateway.build_event(
        route, "POST", "/api/v1/customers", params, {"Authorization": f"Bearer {api.api_key}"}, "", b"{}"
    )
    event["body"], event["isBase64Encoded"] = "not base64!", True
    event["requestContext"]["authorizer"] = gateway._authorize(route, event)
    result = gateway.functions.invoke(route.function, event)
    assert result["statusCode"] == 400
    assert result["body"] == '{"status":400,"error":"BadRequest: the body is not valid base64"}'
    # A valid base64 body of UTF-8 JSON is read as usual
    event["body"] = base64.b64encode(b'{"customer": {"external_id": "b64"}}').decode()
    assert gateway.functions.invoke(route.function, event)["statusCode"] == 200


def _get_routes() -> list[str]:
    template = Template.load()
    found: set[str] = set()
    for route in template.routes():
        if "{proxy+}" in route.path:
            continue
        app = importlib.import_module(template.function_module(route.function)).app
        path = route.path.removeprefix("/api/v1")
        if any(
            served.method == "GET" and served.rule.match(path)
            for served in app._static_routes + app._dynamic_routes
        ):
            found.add(re.sub(r"\{[^}]+\}", "unknown", path))
    return sorted(found)


def test_a_query_value_that_is_not_text_is_a_400_on_every_get_route(gateway, api):
    headers = {"Authorization": f"Bearer {api.api_key}"}
    paths = _get_routes()
    assert "/events" in paths and "/invoices" in paths
    for path in paths:
        for query in ("timestamp_from=\ud800", "external_customer_id=a\udfff", "\ud800=1"):
            # When a query value holds half of a UTF-16 pair (an API Gateway event can carry one)
            response = gateway.handle("GET", f"/api/v1{path}", headers, query)
            # Then it is refused as Rails refuses an invalid encoding, before any lookup
            assert response.status == 400, (path, query, response.body)
            assert json.loads(response.body) == {
                "status": 400,
                "error": "BadRequest: invalid encoding for a query string parameter",
            }
