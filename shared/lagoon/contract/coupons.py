"""CouponObject and AppliedCouponObject: coupons and the coupons applied to customers, as the API renders them."""

from __future__ import annotations

from typing import Any

from lagoon import errors
from lagoon.data import catalog
from lagoon.domain.coupons import AppliedCoupon, Coupon


def _rate(value: Any) -> str | None:
    return None if value is None else format(value, "f")


def _plan_codes(organization_id: str, plan_ids: list[str]) -> list[str]:
    """Codes of the live plans among these ids, in their order."""
    codes = []
    for plan_id in plan_ids:
        try:
            codes.append(catalog.PLANS.get_by_id(organization_id, plan_id).code)
        except errors.NotFound:
            continue
    return codes


def render_coupon(coupon: Coupon) -> dict[str, Any]:
    """CouponObject of the contract."""
    org = coupon.organization_id
    metrics = catalog.get_billable_metrics_by_ids(org, coupon.billable_metric_ids)
    return {
        "lago_id": coupon.lago_id,
        "name": coupon.name,
        "code": coupon.code,
        "description": coupon.description,
        "coupon_type": coupon.coupon_type,
        "amount_cents": coupon.amount_cents,
        "amount_currency": coupon.amount_currency,
        "percentage_rate": _rate(coupon.percentage_rate),
        "frequency": coupon.frequency,
        "frequency_duration": coupon.frequency_duration,
        "reusable": coupon.reusable,
        "limited_plans": coupon.limited_plans,
        "limited_billable_metrics": coupon.limited_billable_metrics,
        "plan_codes": _plan_codes(org, coupon.plan_ids),
        "billable_metric_codes": [m.code for m in metrics.values()],
        "created_at": coupon.created_at,
        "expiration": coupon.expiration,
        "expiration_at": coupon.expiration_at,
        "terminated_at": coupon.terminated_at,
    }


def render_applied_coupon(applied: AppliedCoupon, *, with_credits: bool = False) -> dict[str, Any]:
    """AppliedCouponObject of the contract (AppliedCouponObjectExtended with `credits` in lists)."""
    # Deleted coupons too: applied coupons outlive their coupon.
    coupon = catalog.COUPONS.get_by_id(applied.organization_id, applied.coupon_id, include_deleted=True)
    remaining = applied.amount_cents_remaining
    if applied.frequency != "once" or coupon.coupon_type == "percentage":
        remaining = None  # Lago V1::AppliedCouponSerializer#amount_cents_remaining
    body: dict[str, Any] = {
        "lago_id": applied.lago_id,
        "lago_coupon_id": coupon.lago_id,
        "coupon_code": coupon.code,
        "coupon_name": coupon.name,
        "lago_customer_id": applied.customer_id,
        "external_customer_id": applied.external_customer_id,
        "status": applied.status,
        "amount_cents": applied.amount_cents,
        "amount_cents_remaining": remaining,
        "amount_currency": applied.amount_currency,
        "percentage_rate": _rate(applied.percentage_rate),
        "frequency": applied.frequency,
        "frequency_duration": applied.frequency_duration,
        "frequency_duration_remaining": applied.frequency_duration_remaining,
        "expiration_at": coupon.expiration_at,
        "created_at": applied.created_at,
        "terminated_at": applied.terminated_at,
    }
    if with_credits:
        body["credits"] = []  # credits are recorded by invoicing; none are rendered yet
    return body
