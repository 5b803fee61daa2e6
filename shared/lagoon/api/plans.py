"""Routes of the plans group: POST/GET /plans, GET/PUT/DELETE /plans/{code}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.catalog_codes import taken_code_check
from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id, with_refused_body_check
from lagoon.contract.plans import render_plan
from lagoon.domain.plans import PlanCreateInput, PlanUpdateInput
from lagoon.models import LagoonModel
from lagoon.services import lifecycle
from lagoon.services.catalog import plans
from lagoon.services.catalog.codes import PLAN

router = APIGatewayRouter()


class PlanCreateBody(LagoonModel):
    plan: PlanCreateInput


class PlanUpdateBody(LagoonModel):
    plan: PlanUpdateInput


@router.post("/plans")
@with_refused_body_check(taken_code_check("plan", PLAN))
def create_plan(body: Annotated[PlanCreateBody, Body()]) -> dict[str, Any]:
    return {"plan": render_plan(plans.create_plan(organization_id(router), body.plan))}


@router.get("/plans/<code>")
def get_plan(code: str) -> dict[str, Any]:
    return {"plan": render_plan(plans.get_plan(organization_id(router), code))}


@router.put("/plans/<code>")
@with_refused_body_check(taken_code_check("plan", PLAN))
def update_plan(code: str, body: Annotated[PlanUpdateBody, Body()]) -> dict[str, Any]:
    return {"plan": render_plan(plans.update_plan(organization_id(router), code, body.plan))}


@router.delete("/plans/<code>")
def delete_plan(code: str) -> dict[str, Any]:
    return {"plan": render_plan(lifecycle.delete_plan(organization_id(router), code))}


@router.get("/plans")
def list_plans(page: PageParam = 1, per_page: PerPageParam = 100) -> dict[str, Any]:
    found = plans.list_plans(organization_id(router))
    return list_body("plans", found, Page.of(page, per_page), render_plan)
