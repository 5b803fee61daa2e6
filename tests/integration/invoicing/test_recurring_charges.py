"""Charges on recurring metrics across periods, through the real aggregator and billing handlers (issue 17):
prorated charges divided by the days of the whole period in a first, partial one (lago-api
`ProratedAggregations::*` over `charges_duration`), and pay-in-advance charges billed again at each renewal for
the units carried into the new period (lago-api `Invoices::CalculateFeesService`, `recurring_fees_spec`)."""

from __future__ import annotations

from typing import Any

from tests.contract import assert_matches_contract
from tests.integration.invoicing.conftest import (
    at,
    charge,
    create_metric,
    create_plan,
    event,
    invoice,
    invoices_of,
    run_billing,
    subscribe_at,
)


def _charge_fees(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in body["fees"] if f["item"]["type"] == "charge"]


def _event_fees(organization_id: str) -> list[dict[str, Any]]:
    from lagoon.data import entities

    fees = [f for f in entities.query(organization_id, "fee") if f["event_transaction_id"]]
    return sorted(fees, key=lambda f: f["event_transaction_id"])


# --- prorated charges in a first, partial period --------------------------------------------------------------


def test_a_prorated_charge_in_a_first_partial_period_divides_by_the_whole_month(api, org, gateway, stream):
    # Given a monthly calendar plan in arrears with a prorated charge of 31 per seat (a recurring sum),
    # subscribed on January 7th, one seat added on the 7th and one on the 15th
    metric = create_metric(api, "seats", field_name="seats", recurring=True)
    create_plan(api, "startup", charges=[charge(metric, prorated=True, properties={"amount": "31"})])
    subscription = subscribe_at(org.id, "2024-01-07T00:00:00Z", subscription_at=at("2024-01-07T00:00:00Z"))
    api.post("/events", {"event": event("t1", code="seats", at="2024-01-07T10:00:00Z", seats=1)})
    api.post("/events", {"event": event("t2", code="seats", at="2024-01-15T10:00:00Z", seats=1)})
    stream.drain()

    # When January is billed
    run_billing(gateway, "2024-02-01T00:00:00Z")

    # Then the seats cost 31 x (25 + 17) / 31 = 42.00 — January's 31 days, not the subscription's 25 (52.08)
    (listed,) = invoices_of(api)
    body = invoice(api, listed["lago_id"])
    [fee] = _charge_fees(body)
    assert (fee["units"], fee["amount_cents"], fee["events_count"]) == ("2", 4200, 2)
    assert fee["from_date"] == "2024-01-07T00:00:00Z" and fee["to_date"] == "2024-01-31T23:59:59Z"
    # And the usage shown during January said the same
    from lagoon.services.usage.current import subscription_usage

    usage = subscription_usage(org.id, subscription, at=at("2024-01-20T00:00:00Z"))
    assert [(c.units, c.amount_cents) for c in usage.charges] == [(2, 4200)]
    assert_matches_contract("/invoices/{lago_id}", "get", 200, {"invoice": body})


def test_a_prorated_pay_in_advance_charge_in_a_first_partial_period_counts_the_days_of_the_month(
    api, org, gateway, stream
):
    # Given the same plan with the charge paid in advance, subscribed on January 7th
    metric = create_metric(api, "seats", field_name="seats", recurring=True)
    create_plan(
        api,
        "startup",
        charges=[charge(metric, pay_in_advance=True, prorated=True, properties={"amount": "31"})],
    )
    subscribe_at(org.id, "2024-01-07T00:00:00Z", subscription_at=at("2024-01-07T00:00:00Z"))
    # When a seat is added on the 7th, then one on the 15th
    api.post("/events", {"event": event("t1", code="seats", at="2024-01-07T10:00:00Z", seats=1)})
    api.post("/events", {"event": event("t2", code="seats", at="2024-01-15T10:00:00Z", seats=1)})
    stream.drain()
    # Then they cost 31 x 25/31 = 25.00 and 31 x 17/31 = 17.00 (not 31.00 and 21.08)
    assert [(f["event_transaction_id"], f["amount_cents"]) for f in _event_fees(org.id)] == [
        ("t1", 2500),
        ("t2", 1700),
    ]
