"""Routes of the add-ons group: POST/GET /add_ons, GET/PUT/DELETE /add_ons/{code}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.catalog_codes import taken_code_check
from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id, with_refused_body_check
from lagoon.contract.add_ons import render_add_on
from lagoon.domain.add_ons import AddOnCreateInput, AddOnUpdateInput
from lagoon.models import LagoonModel
from lagoon.services.catalog import add_ons
from lagoon.services.catalog.codes import ADD_ON

router = APIGatewayRouter()


class AddOnCreateBody(LagoonModel):
    add_on: AddOnCreateInput


class AddOnUpdateBody(LagoonModel):
    add_on: AddOnUpdateInput


@router.post("/add_ons")
@with_refused_body_check(taken_code_check("add_on", ADD_ON))
def create_add_on(body: Annotated[AddOnCreateBody, Body()]) -> dict[str, Any]:
    return {"add_on": render_add_on(add_ons.create_add_on(organization_id(router), body.add_on))}


@router.get("/add_ons/<code>")
def get_add_on(code: str) -> dict[str, Any]:
    return {"add_on": render_add_on(add_ons.get_add_on(organization_id(router), code))}


@router.put("/add_ons/<code>")
@with_refused_body_check(taken_code_check("add_on", ADD_ON))
def update_add_on(code: str, body: Annotated[AddOnUpdateBody, Body()]) -> dict[str, Any]:
    updated = add_ons.update_add_on(organization_id(router), code, body.add_on)
    return {"add_on": render_add_on(updated)}


@router.delete("/add_ons/<code>")
def delete_add_on(code: str) -> dict[str, Any]:
    return {"add_on": render_add_on(add_ons.delete_add_on(organization_id(router), code))}


@router.get("/add_ons")
def list_add_ons(page: PageParam = 1, per_page: PerPageParam = 100) -> dict[str, Any]:
    found = add_ons.list_add_ons(organization_id(router))
    return list_body("add_ons", found, Page.of(page, per_page), render_add_on)
