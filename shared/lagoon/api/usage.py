"""Routes of the usage group: current and past usage of a customer's subscription, a subscription's
lifetime usage, and fee estimates of an event on pay-in-advance charges."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.pagination import Page, PageParam, PerPageParam, paginate
from lagoon.api.resolver import organization_id
from lagoon.contract.usage import render_customer_usage
from lagoon.domain.usage import EstimateFeesBody, LifetimeUsageBody
from lagoon.services.usage import current, lifetime, past

router = APIGatewayRouter()


@router.get("/customers/<external_customer_id>/current_usage")
def current_usage(
    external_customer_id: str,
    external_subscription_id: Annotated[str, Query()],
    apply_taxes: Annotated[bool, Query()] = True,
) -> dict[str, Any]:
    found = current.current_usage(
        organization_id(router), external_customer_id, external_subscription_id, apply_taxes=apply_taxes
    )
    return {"customer_usage": render_customer_usage(found)}


@router.get("/customers/<external_customer_id>/past_usage")
def past_usage(
    external_customer_id: str,
    external_subscription_id: Annotated[str, Query()],
    billable_metric_code: Annotated[str | None, Query()] = None,
    periods_count: Annotated[int | None, Query(ge=1)] = None,
    page: PageParam = 1,
    per_page: PerPageParam = 100,
) -> dict[str, Any]:
    found = past.past_usage(
        organization_id(router),
        external_customer_id,
        external_subscription_id,
        billable_metric_code=billable_metric_code,
        periods_count=periods_count,
    )
    chunk, meta = paginate(found, Page.of(page, per_page))
    return {"usage_periods": [render_customer_usage(u) for u in chunk], "meta": meta}


@router.get("/subscriptions/<external_id>/lifetime_usage")
def get_lifetime_usage(external_id: str) -> dict[str, Any]:
    return {"lifetime_usage": lifetime.lifetime_usage(organization_id(router), external_id)}


@router.put("/subscriptions/<external_id>/lifetime_usage")
def update_lifetime_usage(external_id: str, body: Annotated[LifetimeUsageBody, Body()]) -> dict[str, Any]:
    amount = body.lifetime_usage.external_historical_usage_amount_cents
    return {"lifetime_usage": lifetime.set_historical_usage(organization_id(router), external_id, amount)}


@router.post("/events/estimate_fees")
def estimate_fees(body: Annotated[EstimateFeesBody, Body()]) -> dict[str, Any]:
    from lagoon.services.invoicing import in_advance_fees  # cold start: loaded at the first estimate

    return {"fees": in_advance_fees.estimate_fees(organization_id(router), body.event)}
