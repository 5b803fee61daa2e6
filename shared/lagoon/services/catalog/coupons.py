"""Coupons and applied coupons (Lago Coupons::* and AppliedCoupons::* services).

Deleting a customer terminates its applied coupons, as Lago does: `lagoon.services.lifecycle.delete_customer`
calls `terminate_customer_coupons`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from lagoon import errors
from lagoon.data import catalog, customers, entities, memberships
from lagoon.data.catalog import COUPON
from lagoon.domain.coupons import (
    AppliedCoupon,
    AppliedCouponInput,
    AppliesTo,
    Coupon,
    CouponCreateInput,
    CouponUpdateInput,
)
from lagoon.domain.customers import Customer
from lagoon.services.catalog import billable_metrics, plans
from lagoon.services.contention import retried_on_conflict

APPLIED_COUPON = "applied_coupon"
# One item per (customer, non-reusable coupon): makes "applied at most once" hold under concurrency.
APPLIED_ONCE = "applied_coupon_once"


_COUPONS = catalog.COUPONS
find_coupon = _COUPONS.find
get_coupon = _COUPONS.get
list_coupons = _COUPONS.live


def get_coupon_by_id(organization_id: str, lago_id: str) -> Coupon:
    """The coupon by `lago_id`, deleted or not (applied coupons outlive their coupon)."""
    return _COUPONS.get_by_id(organization_id, lago_id, include_deleted=True)


def is_redeemable(coupon: Coupon, now: str | None = None) -> bool:
    """Active and not past its `expiration_at` (Lago terminates expired coupons in a job)."""
    if coupon.status != "active" or coupon.deleted_at is not None:
        return False
    if coupon.expiration == "time_limit" and coupon.expiration_at:
        return (now or entities.now_iso()) <= coupon.expiration_at
    return True


def _value_errors(coupon: Coupon) -> dict[str, list[str]]:
    """Lago's `Coupon` validations, reported with the code's uniqueness (`catalog.raise_field_errors`)."""
    details: dict[str, list[str]] = {}
    if coupon.coupon_type == "fixed_amount":
        if coupon.amount_cents is None:
            details["amount_cents"] = ["value_is_mandatory"]
        elif coupon.amount_cents <= 0:
            details["amount_cents"] = ["value_is_out_of_range"]
        if coupon.amount_currency is None:
            details["amount_currency"] = ["value_is_mandatory"]
    elif coupon.percentage_rate is None:
        details["percentage_rate"] = ["value_is_mandatory"]
    if coupon.frequency == "recurring" and not coupon.frequency_duration:
        details["frequency_duration"] = ["value_is_mandatory"]
    return details


def _check_expiration_at(expiration_at: str | None) -> None:
    """Lago Coupons::ValidateService: `expiration_at` cannot be before today."""
    if expiration_at and expiration_at[:10] < entities.now_iso()[:10]:
        raise errors.ValidationFailed.field("expiration_at", "invalid_date")


def _limits(organization_id: str, applies_to: AppliesTo) -> tuple[list[str] | None, list[str] | None]:
    """Plan ids and metric ids named by codes (None: that limit was not sent)."""
    plan_ids: list[str] | None = None
    metric_ids: list[str] | None = None
    if applies_to.plan_codes is not None:
        plan_ids = []
        for code in dict.fromkeys(applies_to.plan_codes):
            plan = plans.find_plan(organization_id, code)
            if plan is None:
                raise errors.NotFound("plans")
            plan_ids.append(plan.lago_id)
    if applies_to.billable_metric_codes is not None:
        metric_ids = []
        for code in dict.fromkeys(applies_to.billable_metric_codes):
            metric = billable_metrics.find_billable_metric(organization_id, code)
            if metric is None:
                raise errors.NotFound("billable_metrics")
            metric_ids.append(metric.lago_id)
    if plan_ids and metric_ids:
        raise errors.MethodNotAllowed("only_one_limitation_type_per_coupon_allowed")
    return plan_ids, metric_ids


@retried_on_conflict("coupon")
def create_coupon(organization_id: str, data: CouponCreateInput) -> Coupon:
    """`POST /coupons`."""
    # lago-api Coupons::CreateService: the expiration date, then the limits (404), then the model.
    _check_expiration_at(data.expiration_at)
    plan_ids, metric_ids = _limits(organization_id, data.applies_to or AppliesTo())
    now = entities.now_iso()
    coupon = Coupon(
        lago_id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=data.name,
        code=data.code,
        description=data.description,
        coupon_type=data.coupon_type,
        amount_cents=data.amount_cents,
        amount_currency=data.amount_currency,
        percentage_rate=data.percentage_rate,
        frequency=data.frequency,
        frequency_duration=data.frequency_duration,
        reusable=True if data.reusable is None else data.reusable,
        expiration=data.expiration,
        expiration_at=data.expiration_at,
        plan_ids=plan_ids or [],
        billable_metric_ids=metric_ids or [],
        created_at=now,
        updated_at=now,
    )
    catalog.raise_field_errors(_value_errors(coupon), organization_id, COUPON, coupon.code)
    writes = entities.Writes()
    catalog.put_new(writes, organization_id, COUPON, coupon)
    catalog.claim_code(writes, organization_id, COUPON, coupon.code, coupon.lago_id)
    writes.commit()
    return coupon


def _applied_coupons(organization_id: str) -> list[AppliedCoupon]:
    return [AppliedCoupon.model_validate(doc) for doc in entities.query(organization_id, APPLIED_COUPON)]


def _customer_applied_coupons(organization_id: str, customer_id: str) -> list[AppliedCoupon]:
    """One customer's applied coupons (any status): its index entries and their documents."""
    ids = memberships.members(organization_id, memberships.APPLIED_COUPONS, customer_id)
    documents = entities.get_many(organization_id, APPLIED_COUPON, ids) if ids else {}
    return [AppliedCoupon.model_validate(documents[i]) for i in ids if i in documents]


def _terms_changes(organization_id: str, data: CouponUpdateInput, sent: dict[str, Any]) -> dict[str, Any]:
    """The changes a coupon not yet applied also takes: its code, type, amounts, frequency and limits."""
    changes: dict[str, Any] = {}
    for key in ("code", "coupon_type", "frequency", "reusable"):
        if sent.get(key) is not None:
            changes[key] = sent[key]
    for key in ("amount_cents", "amount_currency", "percentage_rate", "frequency_duration"):
        if key in sent:
            changes[key] = getattr(data, key)
    if data.applies_to is not None:
        plan_ids, metric_ids = _limits(organization_id, data.applies_to)
        # Lago: sending one kind of limit replaces the other kind.
        if plan_ids is not None or metric_ids:
            changes["plan_ids"] = plan_ids or []
        if metric_ids is not None or plan_ids:
            changes["billable_metric_ids"] = metric_ids or []
    return changes


@retried_on_conflict("coupon")
def update_coupon(organization_id: str, code: str, data: CouponUpdateInput) -> Coupon:
    """`PUT /coupons/{code}` (Lago Coupons::UpdateService): once applied, only name, description and the
    expiration change; the other fields sent are ignored."""
    current = get_coupon(organization_id, code)
    sent = data.model_dump(exclude_unset=True)
    _check_expiration_at(data.expiration_at)
    changes: dict[str, Any] = {}
    for key in ("name", "expiration"):
        if sent.get(key) is not None:
            changes[key] = sent[key]
    for key in ("description", "expiration_at"):
        if key in sent:
            changes[key] = sent[key]
    if not any(a.coupon_id == current.lago_id for a in _applied_coupons(organization_id)):
        changes.update(_terms_changes(organization_id, data, sent))
    coupon = current.model_copy(update={**changes, "updated_at": entities.now_iso()})
    coupon = Coupon.model_validate(coupon.model_dump())
    catalog.raise_field_errors(_value_errors(coupon), organization_id, COUPON, coupon.code, current.code)
    writes = entities.Writes()
    coupon = catalog.put_changed(writes, organization_id, COUPON, coupon)
    catalog.change_code(writes, organization_id, COUPON, current.code, coupon.code, coupon.lago_id)
    writes.commit()
    return coupon


@retried_on_conflict("coupon")
def delete_coupon(organization_id: str, code: str) -> Coupon:
    """`DELETE /coupons/{code}` (Lago Coupons::DestroyService): discarded, its active applied coupons
    terminated, its code free again."""
    coupon = get_coupon(organization_id, code)
    now = entities.now_iso()
    deleted = coupon.model_copy(update={"deleted_at": now, "updated_at": now})
    writes = entities.Writes()
    deleted = catalog.put_changed(writes, organization_id, COUPON, deleted)
    catalog.release_code(writes, organization_id, COUPON, coupon.code)
    for applied in _applied_coupons(organization_id):
        if applied.coupon_id == coupon.lago_id and applied.status == "active":
            put_applied_coupon(writes, _terminated(applied, now))
    writes.commit()
    return deleted


# --- applied coupons -----------------------------------------------------------------------------------


def _targets(organization_id: str, coupon: Coupon) -> tuple[set[str], set[str]]:
    """Plans and metrics a limited coupon reaches: its own targets, plus the metrics charged by its plans
    and the plans charging its metrics (Lago AppliedCoupons::CreateService#plan_limitation_overlapping?)."""
    plan_ids = set(coupon.plan_ids)
    metric_ids = set(coupon.billable_metric_ids)
    for plan in plans.list_plans(organization_id):
        charged = {c.billable_metric_id for c in plan.charges}
        if plan.lago_id in coupon.plan_ids:
            metric_ids |= charged
        if charged & set(coupon.billable_metric_ids):
            plan_ids.add(plan.lago_id)
    return plan_ids, metric_ids


def _overlaps(organization_id: str, coupon: Coupon, active: list[AppliedCoupon]) -> bool:
    if not (coupon.limited_plans or coupon.limited_billable_metrics):
        return False
    plan_ids, metric_ids = _targets(organization_id, coupon)
    for applied in active:
        other = get_coupon_by_id(organization_id, applied.coupon_id)
        if set(other.plan_ids) & plan_ids or set(other.billable_metric_ids) & metric_ids:
            return True
    return False


@retried_on_conflict("applied coupon")
def apply_coupon(organization_id: str, data: AppliedCouponInput) -> AppliedCoupon:
    """`POST /applied_coupons` (Lago AppliedCoupons::CreateService). Racing requests are decided again on what
    the winner applied (a non-reusable coupon: 422 `coupon_is_not_reusable`)."""
    customer = customers.get_customer(organization_id, data.external_customer_id)
    coupon = find_coupon(organization_id, data.coupon_code)
    if coupon is None or not is_redeemable(coupon):
        raise errors.NotFound("coupon")
    held = _customer_applied_coupons(organization_id, customer.lago_id)
    if _overlaps(organization_id, coupon, [a for a in held if a.status == "active"]):
        raise errors.MethodNotAllowed("plan_overlapping")
    if not coupon.reusable and any(a.coupon_id == coupon.lago_id for a in held):
        raise errors.ValidationFailed.field("coupon", "coupon_is_not_reusable")

    amount_cents = data.amount_cents if data.amount_cents is not None else coupon.amount_cents
    duration = data.frequency_duration if data.frequency_duration is not None else coupon.frequency_duration
    if (data.frequency or coupon.frequency) == "recurring" and not duration:
        # A recurring applied coupon without a duration would be deducted forever (Coupon's own rule).
        raise errors.ValidationFailed.field("frequency_duration", "value_is_mandatory")
    applied = AppliedCoupon(
        lago_id=str(uuid.uuid4()),
        organization_id=organization_id,
        coupon_id=coupon.lago_id,
        coupon_code=coupon.code,
        customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        amount_cents=amount_cents,
        amount_cents_remaining=amount_cents,
        amount_currency=data.amount_currency or coupon.amount_currency,
        percentage_rate=data.percentage_rate if data.percentage_rate is not None else coupon.percentage_rate,
        frequency=data.frequency or coupon.frequency,
        frequency_duration=duration,
        frequency_duration_remaining=duration,
        created_at=entities.now_iso(),
    )
    writes = entities.Writes()
    if coupon.coupon_type == "fixed_amount" and applied.amount_currency:
        # Lago ties the customer's currency to a fixed-amount coupon's (Customers::UpdateCurrencyService).
        customers.lock_currency(writes, customer, applied.amount_currency)
    put_applied_coupon(writes, applied, new=True)
    # Applied only if the coupon is still as read: not deleted (its applied coupons terminated) meanwhile.
    writes.require(organization_id, COUPON, coupon.lago_id, coupon.revision)
    memberships.add(writes, organization_id, memberships.APPLIED_COUPONS, customer.lago_id, applied.lago_id)
    if not coupon.reusable:
        key = f"{customer.lago_id}#{coupon.lago_id}"
        writes.put(organization_id, APPLIED_ONCE, key, {"lago_id": applied.lago_id}, must_not_exist=True)
    writes.commit()
    return applied


def put_applied_coupon(writes: entities.Writes, applied: AppliedCoupon, *, new: bool = False) -> None:
    """Record an applied coupon in `writes`: a new one, or a change of the one read (invoicing saves what it
    consumed), on the condition that it did not change since — so a termination and a consumption racing
    never overwrite each other."""
    document = applied.model_dump(mode="json")
    if new:
        writes.put(applied.organization_id, APPLIED_COUPON, applied.lago_id, document, must_not_exist=True)
    else:
        writes.put_revised(applied.organization_id, APPLIED_COUPON, applied.lago_id, document)


def _terminated(applied: AppliedCoupon, now: str) -> AppliedCoupon:
    return applied.model_copy(update={"status": "terminated", "terminated_at": now})


@dataclass(frozen=True)
class AppliedCouponFilters:
    status: str | None = None
    external_customer_id: str | None = None
    coupon_codes: tuple[str, ...] = ()

    def accepts(self, applied: AppliedCoupon) -> bool:
        return (
            (self.status is None or applied.status == self.status)
            and (
                self.external_customer_id is None or applied.external_customer_id == self.external_customer_id
            )
            and (not self.coupon_codes or applied.coupon_code in self.coupon_codes)
        )


def list_applied_coupons(organization_id: str, filters: AppliedCouponFilters) -> list[AppliedCoupon]:
    """`GET /applied_coupons`: newest first, filtered."""
    found = [a for a in _applied_coupons(organization_id) if filters.accepts(a)]
    return sorted(found, key=lambda a: a.created_at, reverse=True)


def active_applied_coupons(organization_id: str, customer_id: str) -> list[AppliedCoupon]:
    """A customer's active applied coupons in the order they were applied (the order Lago deducts them)."""
    active = [a for a in _customer_applied_coupons(organization_id, customer_id) if a.status == "active"]
    return sorted(active, key=lambda a: a.created_at)


@retried_on_conflict("applied coupon")
def terminate_applied_coupon(
    organization_id: str, external_customer_id: str, applied_coupon_id: str
) -> AppliedCoupon:
    """`DELETE /customers/{external_customer_id}/applied_coupons/{applied_coupon_id}`."""
    customer = customers.get_customer(organization_id, external_customer_id)
    document = entities.get(organization_id, APPLIED_COUPON, applied_coupon_id)
    if document is None or document["customer_id"] != customer.lago_id:
        raise errors.NotFound("applied_coupon")
    applied = AppliedCoupon.model_validate(document)
    if applied.status == "terminated":
        return applied
    terminated = _terminated(applied, entities.now_iso())
    writes = entities.Writes()
    put_applied_coupon(writes, terminated)
    writes.commit()
    return terminated


@retried_on_conflict("applied coupon")
def terminate_customer_coupons(organization_id: str, customer: Customer) -> None:
    """Lago terminates the coupons of a deleted customer (called by lagoon.services.lifecycle)."""
    now = entities.now_iso()
    active = active_applied_coupons(organization_id, customer.lago_id)
    for start in range(0, len(active), 25):
        writes = entities.Writes()
        for applied in active[start : start + 25]:
            put_applied_coupon(writes, _terminated(applied, now))
        writes.commit()
