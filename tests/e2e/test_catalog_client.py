"""The catalog over HTTP on the local stack, through lago-python-client — what a Lago user would run."""

from __future__ import annotations

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import (
    AddOn,
    AppliedCoupon,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    Coupon,
    Customer,
    Plan,
    Tax,
)
from lago_python_client.models.charge import Charges


def _missing(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(LagoApiError) as refused:
        call()
    return int(refused.value.status_code)


def test_billable_metric_and_plan_lifecycle(local_stack):
    client = local_stack.lago_client()
    metric = client.billable_metrics.create(
        BillableMetric(
            name="Storage",
            code="e2e_storage",
            aggregation_type="sum_agg",
            field_name="gb",
            recurring=False,
            filters=[BillableMetricFilter(key="region", values=["us", "eu"])],
        )
    )
    assert metric.code == "e2e_storage"
    assert client.billable_metrics.find("e2e_storage").lago_id == metric.lago_id
    assert client.billable_metrics.update(BillableMetric(name="Disk"), "e2e_storage").name == "Disk"

    charge = Charge(billable_metric_id=metric.lago_id, charge_model="standard", properties={"amount": "0.5"})
    plan = client.plans.create(
        Plan(
            name="Startup",
            code="e2e_startup",
            interval="monthly",
            amount_cents=10000,
            amount_currency="USD",
            pay_in_advance=True,
            charges=Charges(__root__=[charge]),
        )
    )
    assert plan.code == "e2e_startup"
    assert client.plans.find("e2e_startup").amount_cents == 10000
    assert client.plans.update(Plan(name="Startup v2"), "e2e_startup").name == "Startup v2"
    assert client.plans.destroy("e2e_startup").code == "e2e_startup"
    assert _missing(lambda: client.plans.find("e2e_startup")) == 404
    assert client.billable_metrics.destroy("e2e_storage").code == "e2e_storage"
    assert _missing(lambda: client.billable_metrics.find("e2e_storage")) == 404


def test_tax_and_add_on_lifecycle(local_stack):
    client = local_stack.lago_client()
    tax = client.taxes.create(Tax(name="TVA", code="e2e_vat", rate="20.0", applied_to_organization=False))
    assert tax.code == "e2e_vat"
    assert client.taxes.find("e2e_vat").rate == 20.0
    assert client.taxes.update(Tax(rate="5.5"), "e2e_vat").rate == 5.5
    add_on = client.add_ons.create(
        AddOn(
            name="Setup", code="e2e_setup", amount_cents=50000, amount_currency="USD", tax_codes=["e2e_vat"]
        )
    )
    assert add_on.code == "e2e_setup"
    assert client.add_ons.find("e2e_setup").amount_cents == 50000
    assert client.add_ons.update(AddOn(amount_cents=100), "e2e_setup").amount_cents == 100
    assert client.add_ons.destroy("e2e_setup").code == "e2e_setup"
    assert _missing(lambda: client.add_ons.find("e2e_setup")) == 404
    assert client.taxes.destroy("e2e_vat").code == "e2e_vat"
    assert _missing(lambda: client.taxes.find("e2e_vat")) == 404


def test_coupon_and_applied_coupon_lifecycle(local_stack):
    client = local_stack.lago_client()
    client.customers.create(Customer(external_id="e2e_coupon_customer"))
    coupon = client.coupons.create(
        Coupon(
            name="Startup Deal",
            code="e2e_deal",
            coupon_type="fixed_amount",
            amount_cents=5000,
            amount_currency="USD",
            frequency="once",
            expiration="no_expiration",
            reusable=False,
        )
    )
    assert coupon.code == "e2e_deal"
    assert client.coupons.find("e2e_deal").amount_cents == 5000
    assert client.coupons.update(Coupon(name="Deal"), "e2e_deal").name == "Deal"
    applied = client.applied_coupons.create(
        AppliedCoupon(external_customer_id="e2e_coupon_customer", coupon_code="e2e_deal", amount_cents=2500)
    )
    assert applied.amount_cents == 2500
    listed = client.applied_coupons.find_all({"external_customer_id": "e2e_coupon_customer"})
    assert [a.lago_id for a in listed["applied_coupons"]] == [applied.lago_id]
    removed = client.applied_coupons.destroy("e2e_coupon_customer", applied.lago_id)
    assert removed.status == "terminated"
    assert client.coupons.destroy("e2e_deal").code == "e2e_deal"
    assert _missing(lambda: client.coupons.find("e2e_deal")) == 404
