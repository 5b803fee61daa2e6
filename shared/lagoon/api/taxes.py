"""Routes of the taxes group: POST/GET /taxes, GET/PUT/DELETE /taxes/{code}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.catalog_codes import taken_code_check
from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id, with_refused_body_check
from lagoon.contract.taxes import render_tax
from lagoon.domain.taxes import Tax, TaxCreateInput, TaxUpdateInput
from lagoon.models import LagoonModel
from lagoon.services import organizations
from lagoon.services.catalog import taxes
from lagoon.services.catalog.codes import TAX

router = APIGatewayRouter()


class TaxCreateBody(LagoonModel):
    tax: TaxCreateInput


class TaxUpdateBody(LagoonModel):
    tax: TaxUpdateInput


def _body(result: tuple[Tax, bool]) -> dict[str, Any]:
    tax, applied = result
    return {"tax": render_tax(tax, applied_to_organization=applied)}


@router.post("/taxes")
@with_refused_body_check(taken_code_check("tax", TAX))
def create_tax(body: Annotated[TaxCreateBody, Body()]) -> dict[str, Any]:
    return _body(taxes.create_tax(organization_id(router), body.tax))


@router.get("/taxes/<code>")
def get_tax(code: str) -> dict[str, Any]:
    org_id = organization_id(router)
    tax = taxes.get_tax(org_id, code)
    return _body((tax, tax.code in organizations.get_organization(org_id).tax_codes))


@router.put("/taxes/<code>")
@with_refused_body_check(taken_code_check("tax", TAX))
def update_tax(code: str, body: Annotated[TaxUpdateBody, Body()]) -> dict[str, Any]:
    return _body(taxes.update_tax(organization_id(router), code, body.tax))


@router.delete("/taxes/<code>")
def delete_tax(code: str) -> dict[str, Any]:
    return _body(taxes.delete_tax(organization_id(router), code))


@router.get("/taxes")
def list_taxes(page: PageParam = 1, per_page: PerPageParam = 100) -> dict[str, Any]:
    org_id = organization_id(router)
    applied = set(organizations.get_organization(org_id).tax_codes)
    return list_body(
        "taxes",
        taxes.list_taxes(org_id),
        Page.of(page, per_page),
        lambda t: render_tax(t, applied_to_organization=t.code in applied),
    )
