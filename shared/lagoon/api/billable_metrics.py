"""Routes of the billable metrics group: POST/GET /billable_metrics, GET/PUT/DELETE /billable_metrics/{code}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.catalog_codes import taken_code_check
from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id, with_refused_body_check
from lagoon.contract.billable_metrics import render_billable_metric
from lagoon.domain.billable_metrics import BillableMetricCreateInput, BillableMetricUpdateInput
from lagoon.models import LagoonModel
from lagoon.services.catalog import billable_metrics, plans
from lagoon.services.catalog.codes import BILLABLE_METRIC

router = APIGatewayRouter()


class BillableMetricCreateBody(LagoonModel):
    billable_metric: BillableMetricCreateInput


class BillableMetricUpdateBody(LagoonModel):
    billable_metric: BillableMetricUpdateInput


def _body(metric: Any) -> dict[str, Any]:
    return {"billable_metric": render_billable_metric(metric)}


@router.post("/billable_metrics")
@with_refused_body_check(taken_code_check("billable_metric", BILLABLE_METRIC))
def create_billable_metric(body: Annotated[BillableMetricCreateBody, Body()]) -> dict[str, Any]:
    return _body(billable_metrics.create_billable_metric(organization_id(router), body.billable_metric))


@router.get("/billable_metrics/<code>")
def get_billable_metric(code: str) -> dict[str, Any]:
    return _body(billable_metrics.get_billable_metric(organization_id(router), code))


@router.put("/billable_metrics/<code>")
@with_refused_body_check(taken_code_check("billable_metric", BILLABLE_METRIC))
def update_billable_metric(code: str, body: Annotated[BillableMetricUpdateBody, Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    return _body(billable_metrics.update_billable_metric(org_id, code, body.billable_metric))


@router.delete("/billable_metrics/<code>")
def delete_billable_metric(code: str) -> dict[str, Any]:
    deleted = billable_metrics.delete_billable_metric(organization_id(router), code)
    return {"billable_metric": render_billable_metric(deleted, plans_count=0)}


@router.get("/billable_metrics")
def list_billable_metrics(page: PageParam = 1, per_page: PerPageParam = 100) -> dict[str, Any]:
    org_id = organization_id(router)
    counts: dict[str, int] = {}
    for plan in plans.list_plans(org_id):
        for metric_id in {c.billable_metric_id for c in plan.charges}:
            counts[metric_id] = counts.get(metric_id, 0) + 1
    return list_body(
        "billable_metrics",
        billable_metrics.list_billable_metrics(org_id),
        Page.of(page, per_page),
        lambda m: render_billable_metric(m, plans_count=counts.get(m.lago_id, 0)),
    )
