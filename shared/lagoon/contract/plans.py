"""PlanObject and ChargeObject: a plan with its charges as the API, its webhooks and subscriptions render it."""

from __future__ import annotations

from typing import Any

from lagoon.contract.taxes import render_taxes
from lagoon.domain.plans import Charge, Plan


def _render_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """Lago echoes `grouped_by` and `pricing_group_keys` as one another (V1::ChargeSerializer)."""
    rendered = dict(properties)
    if rendered.get("grouped_by") and not rendered.get("pricing_group_keys"):
        rendered["pricing_group_keys"] = rendered["grouped_by"]
    if rendered.get("pricing_group_keys") and not rendered.get("grouped_by"):
        rendered["grouped_by"] = rendered["pricing_group_keys"]
    return rendered


def render_charge(organization_id: str, charge: Charge) -> dict[str, Any]:
    """ChargeObject of the contract."""
    return {
        "lago_id": charge.lago_id,
        "lago_billable_metric_id": charge.billable_metric_id,
        "billable_metric_code": charge.billable_metric_code,
        "invoice_display_name": charge.invoice_display_name,
        "created_at": charge.created_at,
        "charge_model": charge.charge_model,
        "invoiceable": charge.invoiceable,
        "regroup_paid_fees": charge.regroup_paid_fees,
        "pay_in_advance": charge.pay_in_advance,
        "prorated": charge.prorated,
        "min_amount_cents": charge.min_amount_cents,
        "properties": _render_properties(charge.properties),
        "filters": [
            {
                "invoice_display_name": f.invoice_display_name,
                "properties": _render_properties(f.properties),
                "values": f.values,
            }
            for f in charge.filters
        ],
        "taxes": render_taxes(organization_id, charge.tax_codes),
        "applied_pricing_unit": None,
    }


def _without_none(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Drop the optional keys the contract types as non-null strings/numbers when they have no value."""
    for key in keys:
        if body.get(key) is None:
            body.pop(key, None)
    return body


def render_plan(plan: Plan) -> dict[str, Any]:
    """PlanObject of the contract (with Lago's counters, `parent_id` and `pending_deletion`)."""
    org = plan.organization_id
    body: dict[str, Any] = {
        "lago_id": plan.lago_id,
        "name": plan.name,
        "invoice_display_name": plan.invoice_display_name,
        "created_at": plan.created_at,
        "code": plan.code,
        "interval": plan.interval,
        "description": plan.description,
        "amount_cents": plan.amount_cents,
        "amount_currency": plan.amount_currency,
        "trial_period": plan.trial_period,
        "pay_in_advance": plan.pay_in_advance,
        "bill_charges_monthly": plan.bill_charges_monthly,
        "bill_fixed_charges_monthly": None if plan.bill_charges_monthly is None else False,
        # Subscriptions and invoices are counted by later modules; Lago's own serializer sends 0 here.
        "customers_count": 0,
        "active_subscriptions_count": 0,
        "draft_invoices_count": 0,
        "parent_id": None,
        "pending_deletion": plan.pending_deletion,
        "charges": [render_charge(org, c) for c in plan.charges],
        "fixed_charges": [],
        "usage_thresholds": [],
        "taxes": render_taxes(org, plan.tax_codes),
    }
    commitment = plan.minimum_commitment
    if commitment is not None:
        body["minimum_commitment"] = _without_none(
            {
                "lago_id": commitment.lago_id,
                "plan_code": plan.code,
                "amount_cents": commitment.amount_cents,
                "invoice_display_name": commitment.invoice_display_name,
                "interval": plan.interval,
                "created_at": commitment.created_at,
                "updated_at": commitment.updated_at,
                "taxes": render_taxes(org, commitment.tax_codes),
            },
            "invoice_display_name",
        )
    return _without_none(body, "invoice_display_name", "description", "trial_period")
