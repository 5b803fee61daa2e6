"""Plans and their charges: create, read, update, delete — with their webhook messages in the same write.

A plan with subscriptions is deleted in steps: `delete_plan` marks it `pending_deletion`, then
`lagoon.services.lifecycle.delete_plan` ends its subscriptions and calls `finish_plan_deletion`.
"""

from __future__ import annotations

import uuid
from typing import Any

from lagoon import errors
from lagoon.contract.plans import render_plan
from lagoon.data import catalog, entities
from lagoon.data.catalog import PLAN
from lagoon.data.subscriptions import plan_has_subscriptions
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.plans import (
    ALL_FILTER_VALUES,
    USAGE_THRESHOLDS,
    Charge,
    ChargeFilter,
    ChargeFilterInput,
    ChargeInput,
    MinimumCommitment,
    Plan,
    PlanCreateInput,
    PlanUpdateInput,
)
from lagoon.engine.properties import ChargePropertiesError, dump_charge_properties, validate_charge_properties
from lagoon.services.catalog import taxes
from lagoon.services.contention import retried_on_conflict

# Lago `Charges::BuildDefaultPropertiesService`: a charge sent without properties gets these.
_DEFAULT_PROPERTIES: dict[str, dict[str, Any]] = {
    "standard": {"amount": "0"},
    "graduated": {
        "graduated_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "0", "flat_amount": "0"}]
    },
    "volume": {
        "volume_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "0", "flat_amount": "0"}]
    },
    "package": {"package_size": 1, "amount": "0", "free_units": 0},
    "percentage": {"rate": "0"},
    "graduated_percentage": {
        "graduated_percentage_ranges": [{"from_value": 0, "to_value": None, "rate": "0", "flat_amount": "0"}]
    },
    "dynamic": {},
}


_PLANS = catalog.PLANS
find_plan = _PLANS.find
get_plan = _PLANS.get
# Deleted plans too when asked, e.g. for subscriptions being terminated.
get_plan_by_id = _PLANS.get_by_id
# Live plans (including those pending deletion), newest first.
list_plans = _PLANS.live


# --- building charges -------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, field: str, code: str) -> None:
        codes = self.details.setdefault(field, [])
        if code not in codes:
            codes.append(code)

    def merge(self, details: dict[str, list[str]]) -> None:
        for field, codes in details.items():
            for code in codes:
                self.add(field, code)

    def raise_if_any(self) -> None:
        if self.details:
            raise errors.ValidationFailed(self.details)


def _properties(charge_model: str, sent: dict[str, Any] | None, found: _Errors) -> dict[str, Any]:
    """Validated properties as Lago stores them; Lago gives defaults when none are sent."""
    given = sent if sent else _DEFAULT_PROPERTIES[charge_model]
    try:
        return dump_charge_properties(validate_charge_properties(charge_model, given))
    except ChargePropertiesError as exc:
        found.merge(exc.details)
        return {}


def _charge_filters(
    sent: list[ChargeFilterInput],
    charge_model: str,
    metric: BillableMetric,
    previous: list[ChargeFilter],
    found: _Errors,
) -> list[ChargeFilter]:
    """Filters keyed by their values; a filter whose values match an existing one keeps its id (Lago)."""
    by_values = {_values_key(f.values): f for f in previous}
    built: list[ChargeFilter] = []
    for item in sent:
        values = {key: list(dict.fromkeys(vals)) for key, vals in item.values.items()}
        if not values:
            found.add("values", "value_is_mandatory")
        for key, vals in values.items():
            allowed = metric.filter_values(key)
            if (
                allowed is None
                or not vals
                or (vals != [ALL_FILTER_VALUES] and any(v not in allowed for v in vals))
            ):
                found.add("values", "value_is_invalid")
        same = by_values.get(_values_key(values))
        built.append(
            ChargeFilter(
                lago_id=same.lago_id if same else str(uuid.uuid4()),
                invoice_display_name=item.invoice_display_name,
                properties=_properties(charge_model, item.properties or {}, found),
                values=values,
            )
        )
    return built


def _values_key(values: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((k, tuple(sorted(v))) for k, v in values.items()))


def _check_charge_rules(charge: Charge, metric: BillableMetric, found: _Errors) -> None:
    """Lago's `Charge` model validations."""
    if charge.charge_model == "dynamic" and metric.aggregation_type != "sum_agg":
        found.add("charge_model", "invalid_aggregation_type_or_charge_model")
    if charge.pay_in_advance and (charge.charge_model == "volume" or not metric.payable_in_advance):
        found.add("pay_in_advance", "invalid_aggregation_type_or_charge_model")
    if charge.regroup_paid_fees is not None and not (charge.pay_in_advance and not charge.invoiceable):
        found.add("regroup_paid_fees", "only_compatible_with_pay_in_advance_and_non_invoiceable")
    if charge.pay_in_advance and charge.min_amount_cents > 0:
        found.add("min_amount_cents", "not_compatible_with_pay_in_advance")
    if not charge.pay_in_advance and not charge.invoiceable:
        found.add("invoiceable", "must_be_true_unless_pay_in_advance")
    if charge.prorated and not _may_prorate(charge, metric):
        found.add("prorated", "invalid_billable_metric_or_charge_model")


def _may_prorate(charge: Charge, metric: BillableMetric) -> bool:
    """Lago `validate_prorated`: recurring metrics only, standard in advance, standard/volume/graduated in arrears."""
    if metric.aggregation_type == "weighted_sum_agg" or not metric.recurring:
        return False
    if charge.pay_in_advance:
        return charge.charge_model == "standard"
    return charge.charge_model in ("standard", "volume", "graduated")


def _build_charge(
    data: ChargeInput,
    metric: BillableMetric,
    previous: Charge | None,
    locked: bool,
    found: _Errors,
) -> Charge:
    """A new charge, or `previous` updated as Lago's Charges::UpdateService does.

    `locked` (the plan has subscriptions): the model and the billing options stay; display name, properties,
    filters and taxes still change.
    """
    now = entities.now_iso()
    if previous is not None and locked:
        base = previous
        charge_model = previous.charge_model
    else:
        charge_model = data.charge_model
        base = Charge(
            lago_id=previous.lago_id if previous else str(uuid.uuid4()),
            billable_metric_id=metric.lago_id,
            billable_metric_code=metric.code,
            charge_model=charge_model,
            pay_in_advance=bool(data.pay_in_advance),
            invoiceable=True if data.invoiceable is None else data.invoiceable,
            regroup_paid_fees=data.regroup_paid_fees,
            prorated=bool(data.prorated),
            min_amount_cents=data.min_amount_cents or 0,
            properties={},
            created_at=previous.created_at if previous else now,
        )
    previous_filters = previous.filters if previous else []
    charge = base.model_copy(
        update={
            "invoice_display_name": data.invoice_display_name,
            "properties": _properties(charge_model, data.properties, found),
            "filters": _charge_filters(data.filters, charge_model, metric, previous_filters, found)
            if data.filters is not None
            else previous_filters,
            "tax_codes": list(dict.fromkeys(data.tax_codes))
            if data.tax_codes is not None
            else (previous.tax_codes if previous else []),
        }
    )
    _check_charge_rules(charge, metric, found)
    return charge


def _metrics_for(organization_id: str, charges: list[ChargeInput]) -> dict[str, BillableMetric]:
    ids = list(dict.fromkeys(c.billable_metric_id for c in charges))
    metrics = catalog.get_billable_metrics_by_ids(organization_id, ids)
    if len(metrics) != len(ids):
        # Lago Plans::ChargeablesValidationService: `not_found_failure!(resource: "billable_metrics")`.
        raise errors.NotFound("billable_metrics")
    return metrics


def _charge_metrics(organization_id: str, sent: list[ChargeInput]) -> dict[str, BillableMetric]:
    """The metrics of the charges sent, checked before the plan's own fields as lago-api does
    (Plans::ChargeablesValidationService, then the plan's validations)."""
    if any(item.applied_pricing_unit for item in sent):
        # Lagoon keeps no pricing units (docs/decisions.md): refused like the other features it lacks, never
        # priced in the plan's currency as if the field were not there.
        raise errors.NotImplementedYet("pricing units")
    return _metrics_for(organization_id, sent)


def _build_charges(
    organization_id: str,
    sent: list[ChargeInput],
    previous: list[Charge],
    locked: bool,
    metrics: dict[str, BillableMetric],
) -> list[Charge]:
    """Charges sent with the id of an existing charge update it, others are new; charges not sent are removed.
    `metrics` are the charges' (`_charge_metrics`)."""
    by_id = {c.lago_id: c for c in previous}
    found = _Errors()
    charges = [
        _build_charge(item, metrics[item.billable_metric_id], by_id.get(item.id or ""), locked, found)
        for item in sent
    ]
    found.raise_if_any()
    codes = [code for c in charges for code in c.tax_codes]
    taxes.check_tax_codes(organization_id, codes)
    return charges


# --- plan use cases ------------------------------------------------------------------------------------


def _bill_charges_monthly(interval: str, sent: bool | None) -> bool | None:
    """Lago keeps `bill_charges_monthly` only for yearly and semiannual plans (false when not sent)."""
    if interval not in ("yearly", "semiannual"):
        return None
    return bool(sent)


def _refuse_usage_thresholds(data: PlanCreateInput | PlanUpdateInput) -> None:
    """Lagoon has no progressive billing yet: thresholds are refused, never stored and then not billed
    (docs/decisions.md "Usage thresholds"); an empty list asks for none."""
    if data.usage_thresholds:
        raise errors.NotImplementedYet(USAGE_THRESHOLDS)


@retried_on_conflict("plan")
def create_plan(organization_id: str, data: PlanCreateInput) -> Plan:
    """`POST /plans`."""
    _refuse_usage_thresholds(data)
    metrics = _charge_metrics(organization_id, data.charges or [])
    catalog.raise_field_errors({}, organization_id, PLAN, data.code)
    charges = _build_charges(organization_id, data.charges or [], [], locked=False, metrics=metrics)
    taxes.check_tax_codes(organization_id, data.tax_codes or [])
    now = entities.now_iso()
    commitment = None
    if data.minimum_commitment is not None:
        taxes.check_tax_codes(organization_id, data.minimum_commitment.tax_codes or [])
        commitment = MinimumCommitment(
            lago_id=str(uuid.uuid4()),
            amount_cents=data.minimum_commitment.amount_cents,
            invoice_display_name=data.minimum_commitment.invoice_display_name,
            tax_codes=list(dict.fromkeys(data.minimum_commitment.tax_codes or [])),
            created_at=now,
            updated_at=now,
        )
    plan = Plan(
        lago_id=str(uuid.uuid4()),
        organization_id=organization_id,
        name=data.name,
        code=data.code,
        interval=data.interval,
        amount_cents=data.amount_cents,
        amount_currency=data.amount_currency,
        pay_in_advance=data.pay_in_advance,
        invoice_display_name=data.invoice_display_name,
        description=data.description,
        trial_period=data.trial_period,
        bill_charges_monthly=_bill_charges_monthly(data.interval, data.bill_charges_monthly),
        tax_codes=list(dict.fromkeys(data.tax_codes or [])),
        minimum_commitment=commitment,
        charges=charges,
        created_at=now,
        updated_at=now,
    )
    writes = entities.Writes()
    catalog.put_new(writes, organization_id, PLAN, plan)
    catalog.claim_code(writes, organization_id, PLAN, plan.code, plan.lago_id)
    writes.message(_message("plan.created", plan))
    writes.commit()
    return plan


@retried_on_conflict("plan")
def update_plan(organization_id: str, code: str, data: PlanUpdateInput) -> Plan:
    """`PUT /plans/{code}`: the fields sent change (Lago Plans::UpdateService).

    Once the plan has subscriptions only name, invoice_display_name, description and amount_cents change on
    the plan itself (other plan fields sent are ignored); taxes, minimum commitment and charges still do,
    charges keeping their model and billing options.
    """
    current = get_plan(organization_id, code)
    _refuse_usage_thresholds(data)
    locked = plan_has_subscriptions(organization_id, current)
    metrics = _charge_metrics(organization_id, data.charges) if data.charges is not None else {}
    sent = data.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for key in ("name", "amount_cents"):
        if sent.get(key) is not None:
            changes[key] = sent[key]
    for key in ("invoice_display_name", "description"):
        if key in sent:
            changes[key] = sent[key]
    if not locked:
        for key in ("code", "interval", "pay_in_advance", "amount_currency"):
            if sent.get(key) is not None:
                changes[key] = sent[key]
        if "trial_period" in sent:
            changes["trial_period"] = sent["trial_period"]
        interval = changes.get("interval", current.interval)
        monthly = sent.get("bill_charges_monthly", current.bill_charges_monthly)
        changes["bill_charges_monthly"] = _bill_charges_monthly(interval, monthly)
        # lago-api saves the plan (its code's uniqueness) before its taxes and charges.
        catalog.raise_field_errors({}, organization_id, PLAN, changes.get("code", current.code), current.code)
    if data.tax_codes is not None:
        taxes.check_tax_codes(organization_id, data.tax_codes)
        changes["tax_codes"] = list(dict.fromkeys(data.tax_codes))
    if data.charges is not None:
        changes["charges"] = _build_charges(organization_id, data.charges, current.charges, locked, metrics)
    if data.minimum_commitment is not None:
        changes["minimum_commitment"] = _updated_commitment(organization_id, current, data)

    plan = current.model_copy(update={**changes, "updated_at": entities.now_iso()})
    plan = Plan.model_validate(plan.model_dump())
    writes = entities.Writes()
    plan = catalog.put_changed(writes, organization_id, PLAN, plan)
    catalog.change_code(writes, organization_id, PLAN, current.code, plan.code, plan.lago_id)
    writes.message(_message("plan.updated", plan))
    writes.commit()
    catalog.bump_version(organization_id)
    return plan


def _updated_commitment(
    organization_id: str, current: Plan, data: PlanUpdateInput
) -> MinimumCommitment | None:
    sent = data.minimum_commitment
    assert sent is not None
    fields = sent.model_dump(exclude_unset=True)
    if not fields:
        return None  # Lago: an empty minimum_commitment removes it
    if sent.tax_codes is not None:
        taxes.check_tax_codes(organization_id, sent.tax_codes)
    now = entities.now_iso()
    previous = current.minimum_commitment
    if previous is None:
        if sent.amount_cents is None:
            raise errors.ValidationFailed.field("amount_cents", "value_is_mandatory")
        previous = MinimumCommitment(
            lago_id=str(uuid.uuid4()), amount_cents=0, created_at=now, updated_at=now
        )
    updates: dict[str, Any] = {"updated_at": now}
    if sent.amount_cents is not None:
        updates["amount_cents"] = sent.amount_cents
    if "invoice_display_name" in fields:
        updates["invoice_display_name"] = sent.invoice_display_name
    if sent.tax_codes is not None:
        updates["tax_codes"] = list(dict.fromkeys(sent.tax_codes))
    return previous.model_copy(update=updates)


@retried_on_conflict("plan")
def delete_plan(organization_id: str, code: str) -> Plan:
    """`DELETE /plans/{code}` (Lago Plans::PrepareDestroyService + DestroyService).

    Without subscriptions the plan is deleted at once. With subscriptions it becomes `pending_deletion`,
    `lagoon.services.lifecycle.delete_plan` then runs the cascade (terminate, bill, finalize drafts) and
    `finish_plan_deletion` completes it. `plan.deleted` is sent now, as Lago sends it when the deletion is requested.
    """
    plan = get_plan(organization_id, code)
    if plan_has_subscriptions(organization_id, plan):
        pending = plan.model_copy(update={"pending_deletion": True, "updated_at": entities.now_iso()})
        writes = entities.Writes()
        pending = catalog.put_changed(writes, organization_id, PLAN, pending)
        writes.message(_message("plan.deleted", pending))
        writes.commit()
        catalog.bump_version(organization_id)
        return pending
    writes = entities.Writes()
    deleted = catalog.put_changed(writes, organization_id, PLAN, _mark_deleted(plan))
    catalog.release_code(writes, organization_id, PLAN, plan.code)
    writes.message(_message("plan.deleted", deleted))
    writes.commit()
    catalog.bump_version(organization_id)
    return deleted


@retried_on_conflict("plan")
def finish_plan_deletion(organization_id: str, plan_id: str) -> Plan:
    """End of the deletion cascade of a plan that had subscriptions: the plan is deleted, its code freed."""
    plan = get_plan_by_id(organization_id, plan_id, include_deleted=True)
    if plan.deleted_at is not None:
        return plan
    writes = entities.Writes()
    deleted = catalog.put_changed(writes, organization_id, PLAN, _mark_deleted(plan))
    catalog.release_code(writes, organization_id, PLAN, plan.code)
    writes.commit()
    catalog.bump_version(organization_id)
    return deleted


def _mark_deleted(plan: Plan) -> Plan:
    now = entities.now_iso()
    return plan.model_copy(update={"pending_deletion": False, "deleted_at": now, "updated_at": now})


# --- webhook messages -------------------------------------------------------------------------------------------


def _message(webhook_type: str, plan: Plan) -> entities.OutboxMessage:
    return entities.OutboxMessage(
        organization_id=plan.organization_id,
        webhook_type=webhook_type,
        object_type="plan",
        payload=render_plan(plan),
    )
