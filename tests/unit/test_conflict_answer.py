"""A lost write race that escapes a use case is a retryable 503 in Lago's error shape, never a 500."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from lagoon import errors
from lagoon.api.resolver import build_resolver


def test_a_conflict_that_escapes_a_use_case_answers_503_service_unavailable():
    router = APIGatewayRouter()

    @router.post("/customers")
    def lost_every_race() -> dict:
        raise errors.ConflictRetry("a concurrent change won")

    app = build_resolver(router)
    event = {
        "resource": "/api/v1/customers",
        "path": "/api/v1/customers",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"stage": "local", "authorizer": {"organization_id": "org"}},
        "body": "{}",
        "isBase64Encoded": False,
    }
    answer = app.resolve(event, None)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"]) == {
        "status": 503,
        "error": "Service Unavailable",
        "code": "service_unavailable",
        "error_details": {"message": "a concurrent change won, retry the request"},
    }
