"""Routes of the webhooks group: /webhook_endpoints (CRUD) and the public key that verifies JWT webhooks."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id
from lagoon.contract.webhook_endpoints import render_webhook_endpoint
from lagoon.domain.webhook_endpoints import WebhookEndpointInput
from lagoon.models import LagoonModel
from lagoon.services.webhooks import webhook_endpoints, webhook_keys

router = APIGatewayRouter()


class WebhookEndpointBody(LagoonModel):
    webhook_endpoint: WebhookEndpointInput


def _one(endpoint: Any) -> dict[str, Any]:
    return {"webhook_endpoint": render_webhook_endpoint(endpoint)}


@router.post("/webhook_endpoints")
def create_webhook_endpoint(body: Annotated[WebhookEndpointBody, Body()]) -> dict[str, Any]:
    return _one(webhook_endpoints.create_endpoint(organization_id(router), body.webhook_endpoint))


@router.get("/webhook_endpoints")
def list_webhook_endpoints(page: PageParam = 1, per_page: PerPageParam = 100) -> dict[str, Any]:
    found = webhook_endpoints.list_endpoints(organization_id(router))
    return list_body("webhook_endpoints", found, Page.of(page, per_page), render_webhook_endpoint)


@router.get("/webhook_endpoints/<lago_id>")
def get_webhook_endpoint(lago_id: str) -> dict[str, Any]:
    return _one(webhook_endpoints.get_endpoint(organization_id(router), lago_id))


@router.put("/webhook_endpoints/<lago_id>")
def update_webhook_endpoint(lago_id: str, body: Annotated[WebhookEndpointBody, Body()]) -> dict[str, Any]:
    return _one(webhook_endpoints.update_endpoint(organization_id(router), lago_id, body.webhook_endpoint))


@router.delete("/webhook_endpoints/<lago_id>")
def delete_webhook_endpoint(lago_id: str) -> dict[str, Any]:
    return _one(webhook_endpoints.delete_endpoint(organization_id(router), lago_id))


@router.get("/webhooks/public_key")
def get_public_key() -> Response[str]:
    """Deprecated in Lago's contract but still served: base64 of the PEM, as text/plain."""
    organization_id(router)
    return Response(
        status_code=200, content_type=content_types.TEXT_PLAIN, body=webhook_keys.public_key_base64()
    )


@router.get("/webhooks/json_public_key")
def get_json_public_key() -> dict[str, Any]:
    organization_id(router)
    return {"webhook": {"public_key": webhook_keys.public_key_base64()}}
