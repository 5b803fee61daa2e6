"""Invoices under racing requests (issue 17): racing one-off invoices of one customer are all numbered, each
once, without gap; racing changes of one invoice or fee are all applied or refused as Lago refuses them."""

from __future__ import annotations

from tests.integration.documents.conftest import create_add_on, create_customer, one_off, outbox
from tests.integration.races.racing import race


def test_racing_one_off_invoices_of_one_customer_are_all_numbered_without_gap(api, monkeypatch):
    # Given an add-on and a customer; When 8 one-off invoices are created for that customer at once, the
    # last of them losing the numbering race 7 times in a row
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    answers = race(
        monkeypatch,
        *[lambda: one_off(api, [{"add_on_code": "setup_fee"}]) for _ in range(8)],
        every_commit=True,
    )
    # Then every one is answered 200 (the numbering contention is retried inside, never a 503)
    assert [a.status for a in answers] == [200] * 8, [a.body for a in answers]
    # numbered 001 to 008, each number once, as the customer's invoices 1 to 8
    numbers = sorted(a.json["invoice"]["number"][-7:] for a in answers)
    assert numbers == [f"001-{n:03d}" for n in range(1, 9)]
    assert sorted(a.json["invoice"]["sequential_id"] for a in answers) == list(range(1, 9))
    listed = api.get("/invoices").json["invoices"]
    assert sorted(i["number"][-7:] for i in listed) == numbers
    assert len(outbox("invoice.one_off_created")) == 8


def test_racing_changes_of_one_invoice_are_all_applied(api, monkeypatch):
    # Given a finalized one-off invoice
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    lago_id = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]["lago_id"]
    # When its payment status and its metadata are changed at once
    paid, tagged = race(
        monkeypatch,
        lambda: api.put(f"/invoices/{lago_id}", {"invoice": {"payment_status": "succeeded"}}),
        lambda: api.put(f"/invoices/{lago_id}", {"invoice": {"metadata": [{"key": "po", "value": "42"}]}}),
    )
    # Then both are answered 200 and both changes stay
    assert (paid.status, tagged.status) == (200, 200), (paid.body, tagged.body)
    invoice = api.get(f"/invoices/{lago_id}").json["invoice"]
    assert invoice["payment_status"] == "succeeded"
    assert [(m["key"], m["value"]) for m in invoice["metadata"]] == [("po", "42")]
    assert len(outbox("invoice.payment_status_updated")) == 1


def test_a_void_racing_a_payment_is_decided_on_the_payment(api, monkeypatch):
    create_add_on(api, "setup_fee", 1000)
    create_customer(api)
    lago_id = one_off(api, [{"add_on_code": "setup_fee"}]).json["invoice"]["lago_id"]
    paid, voided = race(
        monkeypatch,
        lambda: api.put(f"/invoices/{lago_id}", {"invoice": {"payment_status": "succeeded"}}),
        lambda: api.post(f"/invoices/{lago_id}/void"),
    )
    invoice = api.get(f"/invoices/{lago_id}").json["invoice"]
    # exactly one of them applies, and the other answers as Lago answers it arriving second
    if voided.status == 200:  # voided first: a voided invoice cannot be modified
        assert paid.json == {"status": 405, "error": "Method Not Allowed", "code": "update_on_voided_invoice"}
        assert (invoice["status"], invoice["payment_status"]) == ("voided", "pending")
    else:  # paid first: a paid invoice cannot be voided
        assert paid.status == 200, paid.body
        assert voided.json == {"status": 405, "error": "Method Not Allowed", "code": "not_voidable"}
        assert (invoice["status"], invoice["payment_status"]) == ("finalized", "succeeded")


def test_racing_one_off_invoices_numbered_per_organization_share_one_gapless_sequence(api, monkeypatch):
    # Given per-organization numbering and two customers
    assert (
        api.put("/organizations", {"organization": {"document_numbering": "per_organization"}}).status == 200
    )
    create_add_on(api, "setup_fee", 1000)
    create_customer(api, "cus_1")
    create_customer(api, "cus_2")
    # When 6 one-off invoices are created at once, 3 for each customer
    requests = [
        lambda c=c: one_off(api, [{"add_on_code": "setup_fee"}], customer=c) for c in ["cus_1", "cus_2"] * 3
    ]
    answers = race(monkeypatch, *requests, every_commit=True)
    # Then the organization's month sequence runs 1 to 6 and each customer's own 1 to 3
    assert [a.status for a in answers] == [200] * 6, [a.body for a in answers]
    assert sorted(int(a.json["invoice"]["number"].rsplit("-", 1)[1]) for a in answers) == [1, 2, 3, 4, 5, 6]
    for customer in ("cus_1", "cus_2"):
        mine = [
            a.json["invoice"] for a in answers if a.json["invoice"]["customer"]["external_id"] == customer
        ]
        assert sorted(i["sequential_id"] for i in mine) == [1, 2, 3]
