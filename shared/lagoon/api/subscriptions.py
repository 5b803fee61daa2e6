"""Routes of the subscriptions group: /subscriptions, /subscriptions/{external_id},
/customers/{external_customer_id}/subscriptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id
from lagoon.contract.subscriptions import render_subscription, render_subscription_extended
from lagoon.data import subscriptions as stored_subscriptions
from lagoon.domain.subscriptions import Subscription, SubscriptionInput, SubscriptionUpdateInput
from lagoon.models import LagoonModel
from lagoon.services import customers, lifecycle
from lagoon.services.catalog import plans
from lagoon.services.subscriptions import changes, listing

router = APIGatewayRouter()

StatusFilter = Literal["active", "pending", "terminated", "canceled"]


class SubscriptionCreateBody(LagoonModel):
    subscription: SubscriptionInput


class SubscriptionUpdateBody(LagoonModel):
    subscription: SubscriptionUpdateInput
    status: Literal["active", "pending"] | None = None


def _extended(subscription: Subscription) -> dict[str, Any]:
    """SubscriptionObjectExtended, with its plan (deleted plans too)."""
    plan = plans.get_plan_by_id(subscription.organization_id, subscription.plan_id, include_deleted=True)
    return render_subscription_extended(subscription, plan)


@router.post("/subscriptions")
def create_subscription(body: Annotated[SubscriptionCreateBody, Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    subscription = lifecycle.create_subscription(org_id, body.subscription)
    return {"subscription": _extended(subscription)}


@router.get("/subscriptions")
def list_subscriptions(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    external_customer_id: Annotated[str | None, Query()] = None,
    plan_code: Annotated[str | None, Query()] = None,
    status: Annotated[list[StatusFilter] | None, Query(alias="status[]")] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    filters = listing.SubscriptionFilters(
        statuses=tuple(status or ("active",)), external_customer_id=external_customer_id, plan_code=plan_code
    )
    found = listing.list_subscriptions(org_id, filters)
    return list_body("subscriptions", found, Page.of(page, per_page), render_subscription)


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
    filters = listing.SubscriptionFilters(
        statuses=tuple(status or ("active",)), external_customer_id=external_customer_id, plan_code=plan_code
    )
    found = listing.list_subscriptions(org_id, filters)
    return list_body("subscriptions", found, Page.of(page, per_page), render_subscription)


@router.get("/subscriptions/<external_id>")
def get_subscription(
    external_id: str, status: Annotated[StatusFilter | None, Query()] = None
) -> dict[str, Any]:
    subscription = stored_subscriptions.get_subscription(organization_id(router), external_id, status)
    return {"subscription": _extended(subscription)}


@router.put("/subscriptions/<external_id>")
def update_subscription(
    external_id: str,
    body: Annotated[SubscriptionUpdateBody, Body()],
    status: Annotated[Literal["active", "pending"] | None, Query()] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    updated = changes.update_subscription(org_id, external_id, body.subscription, status or body.status)
    return {"subscription": render_subscription(updated)}


@router.delete("/subscriptions/<external_id>")
def terminate_subscription(external_id: str, status: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    ended = lifecycle.terminate_subscription(organization_id(router), external_id, status)
    return {"subscription": render_subscription(ended)}
