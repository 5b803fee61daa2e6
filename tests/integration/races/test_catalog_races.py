"""The catalog, coupons and the organization under racing requests (issue 17): a code taken once (Lago's 422
`value_already_exist` for the others), no lost change, no deleted object written back, deleted once."""

from __future__ import annotations

from tests.integration.catalog.builders import (
    create_metric,
    create_plan,
    create_tax,
    outbox_messages,
    plan_body,
)
from tests.integration.catalog.test_coupons import apply, coupon_body, create_coupon
from tests.integration.races.racing import race

TAKEN = {
    "status": 422,
    "error": "Unprocessable Entity",
    "code": "validation_errors",
    "error_details": {"code": ["value_already_exist"]},
}


def test_racing_creations_of_one_plan_code_create_it_once(api, monkeypatch):
    body = plan_body("startup")
    answers = race(monkeypatch, *[lambda: api.post("/plans", body) for _ in range(4)])
    assert sorted(a.status for a in answers) == [200, 422, 422, 422], [a.body for a in answers]
    assert [a.json for a in answers if a.status == 422] == [TAKEN] * 3
    assert [p["code"] for p in api.get("/plans").json["plans"]] == ["startup"]
    assert len(outbox_messages("plan.created")) == 1


def test_racing_updates_of_one_plan_keep_both_changes(api, monkeypatch):
    create_plan(api)
    renamed, repriced = race(
        monkeypatch,
        lambda: api.put("/plans/startup", {"plan": {"name": "Scale-up"}}),
        lambda: api.put("/plans/startup", {"plan": {"amount_cents": 20000}}),
    )
    assert (renamed.status, repriced.status) == (200, 200), (renamed.body, repriced.body)
    plan = api.get("/plans/startup").json["plan"]
    assert (plan["name"], plan["amount_cents"]) == ("Scale-up", 20000)


def test_an_update_racing_the_deletion_of_an_add_on_does_not_bring_it_back(api, monkeypatch):
    body = {"add_on": {"name": "Setup", "code": "setup", "amount_cents": 1000, "amount_currency": "USD"}}
    assert api.post("/add_ons", body).status == 200
    deleted, updated = race(
        monkeypatch,
        lambda: api.delete("/add_ons/setup"),
        lambda: api.put("/add_ons/setup", {"add_on": {"name": "Setup v2"}}),
    )
    assert deleted.status == 200, deleted.body
    if updated.status == 200:  # updated first, then deleted as updated
        assert deleted.json["add_on"]["name"] == "Setup v2"
    else:
        assert updated.json == {"status": 404, "error": "Not Found", "code": "add_on_not_found"}
    assert api.get("/add_ons").json["add_ons"] == []
    assert api.get("/add_ons/setup").status == 404
    # and the code is free: a new add-on takes it
    assert api.post("/add_ons", body).status == 200


def test_racing_deletions_of_one_metric_delete_it_once(api, monkeypatch):
    create_metric(api)
    answers = race(monkeypatch, *[lambda: api.delete("/billable_metrics/storage") for _ in range(3)])
    assert sorted(a.status for a in answers) == [200, 404, 404], [a.body for a in answers]
    assert [a.json for a in answers if a.status == 404] == [
        {"status": 404, "error": "Not Found", "code": "billable_metric_not_found"}
    ] * 2
    assert len(outbox_messages("billable_metric.deleted")) == 1


def _organization(api) -> dict:
    """The organization as stored (the API has no GET /organizations: an empty PUT answers it)."""
    response = api.put("/organizations", {"organization": {}})
    assert response.status == 200, response.body
    return {
        "legal_name": response.json["organization"]["legal_name"],
        "tax_codes": [t["code"] for t in response.json["organization"]["taxes"]],
    }


def test_racing_taxes_applied_to_the_organization_are_all_applied(api, monkeypatch):
    answers = race(
        monkeypatch,
        *[
            lambda code=code: api.post(
                "/taxes", {"tax": {"name": code, "code": code, "rate": "10", "applied_to_organization": True}}
            )
            for code in ("vat", "gst", "pst")
        ],
    )
    assert [a.status for a in answers] == [200, 200, 200], [a.body for a in answers]
    assert sorted(_organization(api)["tax_codes"]) == ["gst", "pst", "vat"]


def test_an_organization_update_racing_a_tax_applied_to_it_keeps_both(api, monkeypatch):
    create_tax(api, "vat")
    named, taxed = race(
        monkeypatch,
        lambda: api.put("/organizations", {"organization": {"legal_name": "Acme SAS"}}),
        lambda: api.put("/taxes/vat", {"tax": {"applied_to_organization": True}}),
    )
    assert (named.status, taxed.status) == (200, 200), (named.body, taxed.body)
    organization = _organization(api)
    assert (organization["legal_name"], organization["tax_codes"]) == ("Acme SAS", ["vat"])


def test_racing_applications_of_a_non_reusable_coupon_apply_it_once(api, monkeypatch):
    assert api.post("/customers", {"customer": {"external_id": "hooli"}}).status == 200
    create_coupon(api, reusable=False)
    answers = race(monkeypatch, *[lambda: apply(api) for _ in range(3)])
    assert sorted(a.status for a in answers) == [200, 422, 422], [a.body for a in answers]
    assert {str(a.json["error_details"]) for a in answers if a.status == 422} == {
        "{'coupon': ['coupon_is_not_reusable']}"
    }
    assert len(api.get("/applied_coupons").json["applied_coupons"]) == 1


def test_a_coupon_deleted_while_applied_is_applied_and_terminated_or_not_applied(api, monkeypatch):
    assert api.post("/customers", {"customer": {"external_id": "hooli"}}).status == 200
    assert api.post("/coupons", coupon_body()).status == 200
    applied, deleted = race(monkeypatch, lambda: apply(api), lambda: api.delete("/coupons/startup_deal"))
    assert deleted.status == 200, deleted.body
    listed = api.get("/applied_coupons").json["applied_coupons"]
    if applied.status == 200:  # applied first: the deletion terminated it (Lago Coupons::DestroyService)
        assert [a["status"] for a in listed] == ["terminated"]
    else:  # deleted first: no coupon to apply
        assert applied.json == {"status": 404, "error": "Not Found", "code": "coupon_not_found"}
        assert listed == []
