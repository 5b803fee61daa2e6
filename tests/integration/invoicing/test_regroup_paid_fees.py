"""`regroup_paid_fees: invoice`: the paid fees of a pay-in-advance, non-invoiceable charge are regrouped on an
invoice of their own (`advance_charges`) at the end of their period, as lago-api's
`Invoices::AdvanceChargesService`. Fees are paid through `PUT /fees/{lago_id}` (its `succeeded_at` is the
moment of the request), so these tests live in the current month and bill at its end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.contract import assert_matches_contract
from tests.integration.invoicing.conftest import (
    charge,
    create_metric,
    create_plan,
    event,
    invoice,
    invoices_of,
    outbox,
    run_billing,
    run_documents,
)
from tests.integration.usage.conftest import send


def _month_ends(moment: datetime, months: int = 1) -> str:
    """The first instant of the month `months` after the month of `moment` (a calendar monthly boundary)."""
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _world(api: Any, stream: Any, regroup: str | None = "invoice") -> dict[str, str]:
    """A customer on a $100 plan in arrears with a 20% VAT and a $1/GB charge paid in advance, not invoiceable,
    since today; three events priced 6, 8 and 2 GB. Returns the fee ids by transaction id."""
    assert api.post("/customers", {"customer": {"external_id": "cus_1"}}).status == 200
    assert api.post("/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}}).status == 200
    metric = create_metric(api, "storage")
    fields = {"pay_in_advance": True, "invoiceable": False, "regroup_paid_fees": regroup}
    create_plan(api, "startup", charges=[charge(metric, **fields)], tax_codes=["vat"])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Started at midnight: a termination within the second of the request still closes a period.
    body = {
        "external_customer_id": "cus_1",
        "plan_code": "startup",
        "external_id": "sub_1",
        "subscription_at": f"{now[:10]}T00:00:00Z",
    }
    assert api.post("/subscriptions", {"subscription": body}).status == 200
    send(api, stream, event("tx_1", at=now, gb=6), event("tx_2", at=now, gb=8), event("tx_3", at=now, gb=2))
    fees = api.get("/fees", query={"fee_type": "charge"}).json["fees"]
    return {fee["event_transaction_id"]: fee["lago_id"] for fee in fees}


def _pay(api: Any, fee_id: str, status: str = "succeeded") -> dict[str, Any]:
    response = api.put(f"/fees/{fee_id}", {"fee": {"payment_status": status}})
    assert response.status == 200, response.body
    return response.json["fee"]  # type: ignore[no-any-return]


def _advance_charges(api: Any) -> list[dict[str, Any]]:
    found = [invoice(api, i["lago_id"]) for i in invoices_of(api) if i["invoice_type"] == "advance_charges"]
    return sorted(found, key=lambda i: i["sequential_id"])


def test_paid_fees_are_regrouped_on_their_own_invoice_at_the_period_end(api, gateway, stream):
    # Given three fees of the month: two paid, one paid then refunded as failed
    fees = _world(api, stream)
    paid_at = _pay(api, fees["tx_1"])["succeeded_at"]
    _pay(api, fees["tx_2"])
    _pay(api, fees["tx_3"])
    _pay(api, fees["tx_3"], "failed")

    # When the month ends (twice: a rerun changes nothing)
    boundary = _month_ends(datetime.now(UTC))
    run_billing(gateway, boundary)
    run_billing(gateway, boundary)

    # Then besides the period's invoice, one advance_charges invoice holds the two paid fees, with their taxes
    (regrouped,) = _advance_charges(api)
    assert sorted(f["lago_id"] for f in regrouped["fees"]) == sorted([fees["tx_1"], fees["tx_2"]])
    assert (regrouped["fees_amount_cents"], regrouped["taxes_amount_cents"]) == (1400, 280)
    assert (
        regrouped["total_amount_cents"] == 1680
        and regrouped["sub_total_excluding_taxes_amount_cents"] == 1400
    )
    assert (regrouped["status"], regrouped["payment_status"]) == ("finalized", "succeeded")
    assert regrouped["total_due_amount_cents"] == 0 and regrouped["issuing_date"] == boundary[:10]
    assert [
        (t["tax_code"], t["amount_cents"], t["fees_amount_cents"]) for t in regrouped["applied_taxes"]
    ] == [("vat", 280, 1400)]
    (period,) = regrouped["billing_periods"]
    assert period["invoicing_reason"] == "in_advance_charge_periodic"
    assert period["charges_to_datetime"][:10] < boundary[:10]
    (period_invoice,) = [i for i in invoices_of(api) if i["invoice_type"] == "subscription"]
    assert regrouped["sequential_id"] == period_invoice["sequential_id"] + 1
    created = [m["payload"]["lago_id"] for m in outbox("invoice.created")]
    assert created.count(regrouped["lago_id"]) == 1
    # The contract's InvoiceObject enum lacks `advance_charges` (its invoice_type filter has it, and Lago sends
    # it): every other field must match.
    assert_matches_contract(
        "/invoices/{lago_id}", "get", 200, {"invoice": {**regrouped, "invoice_type": "one_off"}}
    )

    # And the fees are attached to it, keep the time they were paid, and can no longer change
    fee = api.get(f"/fees/{fees['tx_1']}").json["fee"]
    assert (fee["lago_invoice_id"], fee["payment_status"], fee["succeeded_at"]) == (
        regrouped["lago_id"],
        "succeeded",
        paid_at,
    )
    # Its PDF renders like any invoice's (with the period invoice's)
    assert run_documents(gateway, boundary.replace("T00:00:00", "T00:01:00")) == {"rendered": 2}
    assert api.post(f"/invoices/{regrouped['lago_id']}/download").status == 200

    refused = api.put(f"/fees/{fees['tx_1']}", {"fee": {"payment_status": "failed"}})
    assert refused.status == 405 and refused.json["code"] == "invoiced_fee"
    assert api.get(f"/fees/{fees['tx_3']}").json["fee"]["lago_invoice_id"] is None

    # When the last fee is paid, the next month's end regroups it alone
    _pay(api, fees["tx_3"])
    run_billing(gateway, _month_ends(datetime.now(UTC), 2))
    first, second = _advance_charges(api)
    assert first["lago_id"] == regrouped["lago_id"]
    assert [f["lago_id"] for f in second["fees"]] == [fees["tx_3"]]
    assert (second["fees_amount_cents"], second["taxes_amount_cents"]) == (200, 40)


def test_without_regroup_paid_fees_are_never_invoiced(api, gateway, stream):
    fees = _world(api, stream, regroup=None)
    _pay(api, fees["tx_1"])
    run_billing(gateway, _month_ends(datetime.now(UTC)))
    assert [i["invoice_type"] for i in invoices_of(api)] == ["subscription"]
    assert api.get(f"/fees/{fees['tx_1']}").json["fee"]["lago_invoice_id"] is None


def test_a_termination_regroups_what_is_paid_at_once(api, stream):
    # Given a paid fee of the current period
    fees = _world(api, stream)
    _pay(api, fees["tx_2"])

    # When the subscription is terminated
    assert api.delete("/subscriptions/sub_1").status == 200

    # Then the paid fee is regrouped with the termination (no period end to wait for)
    (regrouped,) = _advance_charges(api)
    assert [f["lago_id"] for f in regrouped["fees"]] == [fees["tx_2"]]
    assert regrouped["total_amount_cents"] == 960


def test_regrouping_interrupted_is_finished_by_the_next_run(api, gateway, stream, monkeypatch):
    from lagoon import errors
    from lagoon.services.invoicing import paid_fees

    # Given a paid fee, and a run that fails to regroup it after the period invoice was committed
    fees = _world(api, stream)
    _pay(api, fees["tx_1"])
    boundary = _month_ends(datetime.now(UTC))

    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise errors.TransientFailure("storage unavailable")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="incomplete"):
        patched.setattr(paid_fees, "regroup_paid_fees", unavailable)
        run_billing(gateway, boundary)  # the run reports its failure, so the schedule retries it
    assert _advance_charges(api) == []
    assert len([i for i in invoices_of(api) if i["invoice_type"] == "subscription"]) == 1

    # When the next hourly run comes
    run_billing(gateway, boundary.replace("T00:", "T01:"))

    # Then the paid fee is regrouped, once
    (regrouped,) = _advance_charges(api)
    assert [f["lago_id"] for f in regrouped["fees"]] == [fees["tx_1"]]
    assert [m["payload"]["lago_id"] for m in outbox("invoice.created")].count(regrouped["lago_id"]) == 1


def test_more_fees_than_one_invoice_holds_make_several(api, gateway, stream, monkeypatch):
    from lagoon.services.invoicing import paid_fees

    monkeypatch.setattr(paid_fees, "MAX_FEES", 2)
    fees = _world(api, stream)
    for fee_id in fees.values():
        _pay(api, fee_id)
    run_billing(gateway, _month_ends(datetime.now(UTC)))
    first, second = _advance_charges(api)
    assert [len(first["fees"]), len(second["fees"])] == [2, 1]
    assert first["fees_amount_cents"] + second["fees_amount_cents"] == 1600
    assert second["sequential_id"] == first["sequential_id"] + 1


def test_a_payment_undone_while_it_is_being_regrouped_is_left_out(api, gateway, stream, monkeypatch):
    from lagoon.services.invoicing import paid_fees

    # Given two paid fees, and a PUT /fees that marks one failed while the run is regrouping them
    fees = _world(api, stream)
    _pay(api, fees["tx_1"])
    _pay(api, fees["tx_2"])
    real = paid_fees._build
    builds: list[int] = []

    def build_while_a_payment_is_undone(*args: Any, **kwargs: Any) -> Any:
        if not builds:
            _pay(api, fees["tx_2"], "failed")
        builds.append(len(args[4]))
        return real(*args, **kwargs)

    monkeypatch.setattr(paid_fees, "_build", build_while_a_payment_is_undone)
    run_billing(gateway, _month_ends(datetime.now(UTC)))

    # Then the run's first attempt loses to the request, and its second regroups only the fee still paid
    assert builds == [2, 1]
    (regrouped,) = _advance_charges(api)
    assert [f["lago_id"] for f in regrouped["fees"]] == [fees["tx_1"]]
    undone = api.get(f"/fees/{fees['tx_2']}").json["fee"]
    assert (undone["payment_status"], undone["lago_invoice_id"]) == ("failed", None)
