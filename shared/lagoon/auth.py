"""The Lambda REQUEST authorizer's logic: Bearer API key → organization, as an IAM policy with context."""

from __future__ import annotations

from typing import Any

from lagoon.data import organizations


def bearer_token(headers: dict[str, str] | None) -> str | None:
    """The key of `Authorization: Bearer <key>` (header names are case-insensitive; clients vary)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value:
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def api_wide_resource(method_arn: str) -> str:
    """`arn:…:apiId/stage/*/*` so a cached decision applies to every route of the API."""
    parts = method_arn.split("/")
    return "/".join(parts[:2]) + "/*/*" if len(parts) >= 2 else method_arn


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    """Allow policy with `organization_id` in the context, or raise Unauthorized (API Gateway answers 401)."""
    token = bearer_token(event.get("headers"))
    organization_id = organizations.organization_for_api_key(token) if token else None
    if organization_id is None:
        # The exact message "Unauthorized" makes API Gateway answer with the UNAUTHORIZED gateway response.
        raise PermissionError("Unauthorized")
    return {
        "principalId": organization_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": api_wide_resource(str(event.get("methodArn", "*"))),
                }
            ],
        },
        "context": {"organization_id": organization_id},
    }
