"""Fees not invoiced yet under racing requests (issue 17): the lost race is decided again, never a 503."""

from __future__ import annotations

from tests.integration.documents.conftest import create_customer
from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe
from tests.integration.races.racing import race
from tests.integration.usage.conftest import send


def _pay_in_advance_fee(api, stream) -> str:
    create_customer(api, currency="USD")
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, pay_in_advance=True, invoiceable=False)])
    subscribe(api)
    send(api, stream, event("tx_1", gb=6))
    (fee,) = api.get("/fees", query={"event_transaction_id": "tx_1"}).json["fees"]
    return fee["lago_id"]  # type: ignore[no-any-return]


def test_racing_payment_statuses_of_one_fee_are_applied_one_after_the_other(api, stream, monkeypatch):
    lago_id = _pay_in_advance_fee(api, stream)
    answers = race(
        monkeypatch,
        lambda: api.put(f"/fees/{lago_id}", {"fee": {"payment_status": "succeeded"}}),
        lambda: api.put(f"/fees/{lago_id}", {"fee": {"payment_status": "failed"}}),
    )
    assert [a.status for a in answers] == [200, 200], [a.body for a in answers]
    stored = api.get(f"/fees/{lago_id}").json["fee"]
    assert stored["payment_status"] in ("succeeded", "failed")
    # whichever came last, its own timestamp alone (Lago keeps the current status's only)
    other = "failed" if stored["payment_status"] == "succeeded" else "succeeded"
    assert stored[f"{stored['payment_status']}_at"] is not None and stored[f"{other}_at"] is None


def test_a_payment_status_racing_the_deletion_is_404_once_the_fee_is_gone(api, stream, monkeypatch):
    lago_id = _pay_in_advance_fee(api, stream)
    paid, deleted = race(
        monkeypatch,
        lambda: api.put(f"/fees/{lago_id}", {"fee": {"payment_status": "succeeded"}}),
        lambda: api.delete(f"/fees/{lago_id}"),
    )
    assert deleted.status == 200, deleted.body
    if paid.status == 200:  # paid first, then deleted (the deletion answers the paid fee)
        assert deleted.json["fee"]["payment_status"] == "succeeded"
    else:
        assert paid.json == {"status": 404, "error": "Not Found", "code": "fee_not_found"}
    assert api.get(f"/fees/{lago_id}").status == 404
