"""Customers under racing requests (issue 17): one customer per external_id, gapless sequential ids, no lost
change, no deleted customer brought back."""

from __future__ import annotations

from tests.integration.catalog.builders import outbox_messages
from tests.integration.races.racing import race


def _upsert(api, external_id: str, **fields):
    return lambda: api.post("/customers", {"customer": {"external_id": external_id, **fields}})


def test_racing_creations_of_one_external_id_make_one_customer_and_burn_no_sequential_id(api, monkeypatch):
    # Given no customer "acme"; When 6 requests create it at once
    answers = race(monkeypatch, *[_upsert(api, "acme", name=f"Acme {n}") for n in range(6)])
    # Then all are answered 200 with the same customer, numbered 1
    assert [a.status for a in answers] == [200] * 6, [a.body for a in answers]
    assert {a.json["customer"]["lago_id"] for a in answers} == {answers[0].json["customer"]["lago_id"]}
    assert {a.json["customer"]["sequential_id"] for a in answers} == {1}
    listed = api.get("/customers").json["customers"]
    assert [(c["external_id"], c["sequential_id"], c["slug"][-4:]) for c in listed] == [("acme", 1, "-001")]
    # one creation, the other five applied as updates of it
    assert len(outbox_messages("customer.created")) == 1
    assert len(outbox_messages("customer.updated")) == 5
    # and the next customer is number 2: the lost races took no number
    created = api.post("/customers", {"customer": {"external_id": "globex"}})
    assert created.json["customer"]["sequential_id"] == 2
    assert created.json["customer"]["slug"].endswith("-002")


def test_racing_creations_of_different_customers_number_them_without_gap_or_repeat(api, monkeypatch):
    answers = race(monkeypatch, *[_upsert(api, f"customer_{n}") for n in range(6)])
    assert [a.status for a in answers] == [200] * 6, [a.body for a in answers]
    assert sorted(a.json["customer"]["sequential_id"] for a in answers) == [1, 2, 3, 4, 5, 6]
    listed = api.get("/customers").json["customers"]
    assert sorted(c["sequential_id"] for c in listed) == [1, 2, 3, 4, 5, 6]
    assert sorted(c["slug"][-4:] for c in listed) == ["-001", "-002", "-003", "-004", "-005", "-006"]


def test_racing_updates_of_different_fields_both_stay(api, monkeypatch):
    api.post("/customers", {"customer": {"external_id": "acme", "name": "Acme", "city": "Paris"}})
    answers = race(monkeypatch, _upsert(api, "acme", name="Acme Corp"), _upsert(api, "acme", city="Lyon"))
    assert [a.status for a in answers] == [200, 200]
    customer = api.get("/customers/acme").json["customer"]
    assert (customer["name"], customer["city"]) == ("Acme Corp", "Lyon")


def test_an_update_racing_the_deletion_does_not_bring_the_customer_back(api, monkeypatch):
    api.post("/customers", {"customer": {"external_id": "acme", "name": "Acme"}})
    deleted, updated = race(
        monkeypatch, lambda: api.delete("/customers/acme"), _upsert(api, "acme", name="New")
    )
    assert deleted.status == 200, deleted.body
    assert updated.status == 200, updated.body
    listed = api.get("/customers").json["customers"]
    if updated.json["customer"]["lago_id"] == deleted.json["customer"]["lago_id"]:
        # the update won: the deletion, retried, deleted the customer as updated
        assert deleted.json["customer"]["name"] == "New"
        assert listed == []
    else:
        # the deletion won: the update, retried, found no customer "acme" and created one (Lago's upsert),
        # numbered after the deleted one — never the deleted customer written back alive
        assert updated.json["customer"]["sequential_id"] == 2
        assert [(c["external_id"], c["name"], c["sequential_id"]) for c in listed] == [("acme", "New", 2)]


def test_racing_deletions_of_one_customer_delete_it_once(api, monkeypatch):
    api.post("/customers", {"customer": {"external_id": "acme"}})
    answers = race(monkeypatch, lambda: api.delete("/customers/acme"), lambda: api.delete("/customers/acme"))
    assert sorted(a.status for a in answers) == [200, 404], [a.body for a in answers]
    lost = next(a for a in answers if a.status == 404)
    assert lost.json == {"status": 404, "error": "Not Found", "code": "customer_not_found"}
