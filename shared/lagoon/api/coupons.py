"""Routes of the coupons group: /coupons, /applied_coupons and a customer's applied coupons."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.catalog_codes import taken_code_check
from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id, with_refused_body_check
from lagoon.contract.coupons import render_applied_coupon, render_coupon
from lagoon.domain.coupons import AppliedCouponInput, CouponCreateInput, CouponUpdateInput
from lagoon.models import LagoonModel
from lagoon.services import customers
from lagoon.services.catalog import coupons
from lagoon.services.catalog.codes import COUPON

router = APIGatewayRouter()

StatusParam = Annotated[Literal["active", "terminated"] | None, Query()]
CouponCodesParam = Annotated[list[str] | None, Query(alias="coupon_code[]")]


class CouponCreateBody(LagoonModel):
    coupon: CouponCreateInput


class CouponUpdateBody(LagoonModel):
    coupon: CouponUpdateInput


class AppliedCouponBody(LagoonModel):
    applied_coupon: AppliedCouponInput


@router.post("/coupons")
@with_refused_body_check(taken_code_check("coupon", COUPON))
def create_coupon(body: Annotated[CouponCreateBody, Body()]) -> dict[str, Any]:
    return {"coupon": render_coupon(coupons.create_coupon(organization_id(router), body.coupon))}


@router.get("/coupons/<code>")
def get_coupon(code: str) -> dict[str, Any]:
    return {"coupon": render_coupon(coupons.get_coupon(organization_id(router), code))}


@router.put("/coupons/<code>")
@with_refused_body_check(taken_code_check("coupon", COUPON))
def update_coupon(code: str, body: Annotated[CouponUpdateBody, Body()]) -> dict[str, Any]:
    updated = coupons.update_coupon(organization_id(router), code, body.coupon)
    return {"coupon": render_coupon(updated)}


@router.delete("/coupons/<code>")
def delete_coupon(code: str) -> dict[str, Any]:
    return {"coupon": render_coupon(coupons.delete_coupon(organization_id(router), code))}


@router.get("/coupons")
def list_coupons(page: PageParam = 1, per_page: PerPageParam = 100) -> dict[str, Any]:
    found = coupons.list_coupons(organization_id(router))
    return list_body("coupons", found, Page.of(page, per_page), render_coupon)


@router.post("/applied_coupons")
def apply_coupon(body: Annotated[AppliedCouponBody, Body()]) -> dict[str, Any]:
    applied = coupons.apply_coupon(organization_id(router), body.applied_coupon)
    return {"applied_coupon": render_applied_coupon(applied)}


def _applied_list(filters: coupons.AppliedCouponFilters, page: int, per_page: int) -> dict[str, Any]:
    found = coupons.list_applied_coupons(organization_id(router), filters)
    return list_body(
        "applied_coupons",
        found,
        Page.of(page, per_page),
        lambda a: render_applied_coupon(a, with_credits=True),
    )


@router.get("/applied_coupons")
def list_applied_coupons(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    status: StatusParam = None,
    external_customer_id: Annotated[str | None, Query()] = None,
    coupon_code: CouponCodesParam = None,
) -> dict[str, Any]:
    filters = coupons.AppliedCouponFilters(status, external_customer_id, tuple(coupon_code or ()))
    return _applied_list(filters, page, per_page)


@router.get("/customers/<external_customer_id>/applied_coupons")
def list_customer_applied_coupons(
    external_customer_id: str,
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    status: StatusParam = None,
    coupon_code: CouponCodesParam = None,
) -> dict[str, Any]:
    customers.get_customer(organization_id(router), external_customer_id)
    filters = coupons.AppliedCouponFilters(status, external_customer_id, tuple(coupon_code or ()))
    return _applied_list(filters, page, per_page)


@router.delete("/customers/<external_customer_id>/applied_coupons/<applied_coupon_id>")
def terminate_applied_coupon(external_customer_id: str, applied_coupon_id: str) -> dict[str, Any]:
    terminated = coupons.terminate_applied_coupon(
        organization_id(router), external_customer_id, applied_coupon_id
    )
    return {"applied_coupon": render_applied_coupon(terminated)}
