"""Routes of the subscriptions group: /subscriptions, /subscriptions/{external_id},
/customers/{external_customer_id}/subscriptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id
from lagoon.domain.subscriptions import SubscriptionInput, SubscriptionUpdateInput
from lagoon.services import customers, lifecycle, subscriptions

router = APIGatewayRouter()

StatusFilter = Literal["active", "pending", "terminated", "canceled"]


class SubscriptionCreateBody(BaseModel):
    subscription: SubscriptionInput


class SubscriptionUpdateBody(BaseModel):
    subscription: SubscriptionUpdateInput
    status: Literal["active", "pending"] | None = None


@router.post("/subscriptions")
def create_subscription(body: Annotated[SubscriptionCreateBody, Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    subscription = lifecycle.create_subscription(org_id, body.subscription)
    return {"subscription": subscriptions.render_subscription_extended(subscription)}


@router.get("/subscriptions")
def list_subscriptions(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    external_customer_id: Annotated[str | None, Query()] = None,
    plan_code: Annotated[str | None, Query()] = None,
    status: Annotated[list[StatusFilter] | None, Query(alias="status[]")] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    filters = subscriptions.SubscriptionFilters(
        statuses=tuple(status or ("active",)), external_customer_id=external_customer_id, plan_code=plan_code
    )
    found = subscriptions.list_subscriptions(org_id, filters)
    return list_body("subscriptions", found, Page.of(page, per_page), subscriptions.render_subscription)


@router.get("/customers/<external_customer_id>/subscriptions")
def list_customer_subscriptions(
    external_customer_id: str,
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    plan_code: Annotated[str | None, Query()] = None,
    status: Annotated[list[StatusFilter] | None, Query(alias="status[]")] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    customers.get_customer(org_id, external_customer_id)
    filters = subscriptions.SubscriptionFilters(
        statuses=tuple(status or ("active",)), external_customer_id=external_customer_id, plan_code=plan_code
    )
    found = subscriptions.list_subscriptions(org_id, filters)
    return list_body("subscriptions", found, Page.of(page, per_page), subscriptions.render_subscription)


@router.get("/subscriptions/<external_id>")
def get_subscription(
    external_id: str, status: Annotated[StatusFilter | None, Query()] = None
) -> dict[str, Any]:
    subscription = subscriptions.get_subscription(organization_id(router), external_id, status)
    return {"subscription": subscriptions.render_subscription_extended(subscription)}


@router.put("/subscriptions/<external_id>")
def update_subscription(
    external_id: str,
    body: Annotated[SubscriptionUpdateBody, Body()],
    status: Annotated[Literal["active", "pending"] | None, Query()] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    updated = subscriptions.update_subscription(org_id, external_id, body.subscription, status or body.status)
    return {"subscription": subscriptions.render_subscription(updated)}


@router.delete("/subscriptions/<external_id>")
def terminate_subscription(external_id: str, status: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    ended = lifecycle.terminate_subscription(organization_id(router), external_id, status)
    return {"subscription": subscriptions.render_subscription(ended)}
