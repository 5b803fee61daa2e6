"""Routes of the customers group: POST/GET /customers, GET/DELETE /customers/{external_customer_id}."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id
from lagoon.contract.customers import render_customer
from lagoon.domain.customers import CustomerInput
from lagoon.models import LagoonModel
from lagoon.services import customers, lifecycle, organizations

router = APIGatewayRouter()


class CustomerCreateBody(LagoonModel):
    customer: CustomerInput


def _render(org_id: str) -> Any:
    organization = organizations.get_organization(org_id)
    return lambda customer: render_customer(customer, organization)


@router.post("/customers")
def create_customer(body: Annotated[CustomerCreateBody, Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    customer, _ = customers.upsert_customer(org_id, body.customer)
    return {"customer": _render(org_id)(customer)}


@router.get("/customers/<external_customer_id>")
def get_customer(external_customer_id: str) -> dict[str, Any]:
    org_id = organization_id(router)
    return {"customer": _render(org_id)(customers.get_customer(org_id, external_customer_id))}


@router.delete("/customers/<external_customer_id>")
def delete_customer(external_customer_id: str) -> dict[str, Any]:
    org_id = organization_id(router)
    return {"customer": _render(org_id)(lifecycle.delete_customer(org_id, external_customer_id))}


@router.get("/customers")
def list_customers(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    account_type: Annotated[list[str] | None, Query(alias="account_type[]")] = None,
    billing_entity_codes: Annotated[list[str] | None, Query(alias="billing_entity_codes[]")] = None,
    search_term: Annotated[str | None, Query()] = None,
    countries: Annotated[list[str] | None, Query(alias="countries[]")] = None,
    states: Annotated[list[str] | None, Query(alias="states[]")] = None,
    zipcodes: Annotated[list[str] | None, Query(alias="zipcodes[]")] = None,
    currencies: Annotated[list[str] | None, Query(alias="currencies[]")] = None,
    has_tax_identification_number: Annotated[bool | None, Query()] = None,
    customer_type: Annotated[str | None, Query()] = None,
    has_customer_type: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    query = router.current_event.query_string_parameters or {}
    metadata = tuple((k[len("metadata[") : -1], v) for k, v in query.items() if k.startswith("metadata["))
    filters = customers.CustomerFilters(
        account_types=tuple(account_type or ()),
        billing_entity_codes=tuple(billing_entity_codes or ()),
        search_term=search_term,
        countries=tuple(countries or ()),
        states=tuple(states or ()),
        zipcodes=tuple(zipcodes or ()),
        currencies=tuple(currencies or ()),
        has_tax_identification_number=has_tax_identification_number,
        metadata=metadata,
        customer_type=customer_type,
        has_customer_type=has_customer_type,
    )
    found = customers.list_customers(org_id, filters)
    return list_body("customers", found, Page.of(page, per_page), _render(org_id))
