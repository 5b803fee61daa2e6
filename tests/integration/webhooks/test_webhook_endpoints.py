"""Webhook endpoints and the public key, through the real authorizer and handler, on moto."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.contract import assert_matches_contract


def _create(api, url="https://example.com/hooks", **fields):
    return api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": url, **fields}})


def test_create_defaults_to_jwt_and_all_event_types(api, org):
    # When an endpoint is created with only its URL
    response = _create(api)
    # Then it signs with JWT and receives every webhook type
    assert response.status == 200, response.body
    endpoint = response.json["webhook_endpoint"]
    assert endpoint["webhook_url"] == "https://example.com/hooks"
    assert endpoint["signature_algo"] == "jwt"
    assert endpoint["event_types"] is None
    assert endpoint["name"] is None
    assert endpoint["lago_organization_id"] == org.id
    assert_matches_contract("/webhook_endpoints", "post", 200, response.json)


def test_create_with_hmac_name_and_event_types(api):
    response = _create(
        api, signature_algo="hmac", name="EC2-production", event_types=["customer.created", "invoice.voided"]
    )
    assert response.status == 200, response.body
    endpoint = response.json["webhook_endpoint"]
    assert endpoint["signature_algo"] == "hmac"
    assert endpoint["name"] == "EC2-production"
    assert endpoint["event_types"] == ["customer.created", "invoice.voided"]
    assert_matches_contract("/webhook_endpoints", "post", 200, response.json)


def test_get_list_update_delete(api):
    lago_id = _create(api, name="first").json["webhook_endpoint"]["lago_id"]
    _create(api, url="http://127.0.0.1:9999/second")

    got = api.get(f"/webhook_endpoints/{lago_id}")
    assert got.status == 200
    assert got.json["webhook_endpoint"]["name"] == "first"

    listed = api.get("/webhook_endpoints", query={"per_page": 1, "page": 1})
    assert listed.status == 200
    assert [e["name"] for e in listed.json["webhook_endpoints"]] == ["first"]  # oldest first
    assert listed.json["meta"]["total_count"] == 2
    assert listed.json["meta"]["next_page"] == 2

    updated = api.put(
        f"/webhook_endpoints/{lago_id}",
        {"webhook_endpoint": {"webhook_url": "https://example.com/v2", "signature_algo": "hmac"}},
    )
    assert updated.status == 200, updated.body
    assert updated.json["webhook_endpoint"]["webhook_url"] == "https://example.com/v2"
    assert updated.json["webhook_endpoint"]["signature_algo"] == "hmac"
    assert updated.json["webhook_endpoint"]["name"] == "first"  # not sent: kept

    deleted = api.delete(f"/webhook_endpoints/{lago_id}")
    assert deleted.status == 200
    assert deleted.json["webhook_endpoint"]["lago_id"] == lago_id
    assert api.get(f"/webhook_endpoints/{lago_id}").json == {
        "status": 404,
        "error": "Not Found",
        "code": "webhook_endpoint_not_found",
    }
    assert_matches_contract("/webhook_endpoints/{lago_id}", "get", 200, got.json)
    assert_matches_contract("/webhook_endpoints", "get", 200, listed.json)
    assert_matches_contract("/webhook_endpoints/{lago_id}", "put", 200, updated.json)
    assert_matches_contract("/webhook_endpoints/{lago_id}", "delete", 200, deleted.json)


def test_invalid_urls_and_algorithms_are_refused_with_lago_codes(api):
    too_long = "https://example.com/" + "a" * 2029  # 2049 characters
    for url in (
        "not a url",
        "ftp://example.com/x",
        "https://",
        "http://:80/x",
        " https://example.com",
        "https://exa mple.com/",
        "https://example.com/a b",
        "https://example.com/\r\nX: 1",
        too_long,
    ):
        response = _create(api, url=url)
        assert response.status == 422, url
        assert response.json == {
            "status": 422,
            "error": "Unprocessable Entity",
            "code": "validation_errors",
            "error_details": {"webhook_url": ["url_invalid"]},
        }, url
    lago_id = _create(api).json["webhook_endpoint"]["lago_id"]
    updated = api.put(
        f"/webhook_endpoints/{lago_id}", {"webhook_endpoint": {"webhook_url": "https://a b.com"}}
    )
    assert updated.status == 422
    assert updated.json["error_details"] == {"webhook_url": ["url_invalid"]}
    assert (
        api.get(f"/webhook_endpoints/{lago_id}").json["webhook_endpoint"]["webhook_url"]
        == "https://example.com/hooks"
    )
    response = _create(api, signature_algo="rsa")
    assert response.status == 422
    assert response.json["error_details"] == {"signature_algo": ["value_is_invalid"]}
    missing = api.post("/webhook_endpoints", {"webhook_endpoint": {"name": "no url"}})
    assert missing.status == 422
    assert missing.json["error_details"] == {"webhook_url": ["value_is_mandatory"]}
    assert api.post("/webhook_endpoints", {"url": "https://example.com"}).status == 400


def test_the_same_url_twice_is_refused(api):
    assert _create(api).status == 200
    response = _create(api)
    assert response.status == 422
    assert response.json["error_details"] == {"webhook_url": ["value_already_exist"]}


def test_at_most_ten_endpoints_per_organization(api, other_api):
    # Given ten endpoints
    for n in range(10):
        assert _create(api, url=f"https://example.com/{n}").status == 200
    # When an eleventh is created
    response = _create(api, url="https://example.com/11")
    # Then Lago's limit error is answered
    assert response.status == 422
    assert response.json == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"base": ["exceeded_limit"]},
    }
    # and another organization is not affected
    assert _create(other_api, url="https://example.com/11").status == 200
    # and deleting one frees a slot
    first = api.get("/webhook_endpoints").json["webhook_endpoints"][0]["lago_id"]
    api.delete(f"/webhook_endpoints/{first}")
    assert _create(api, url="https://example.com/11").status == 200
    assert_matches_contract("/webhook_endpoints", "post", 422, response.json)


def test_organizations_cannot_see_each_others_endpoints(api, other_api):
    lago_id = _create(api).json["webhook_endpoint"]["lago_id"]
    assert other_api.get(f"/webhook_endpoints/{lago_id}").status == 404
    assert (
        other_api.put(
            f"/webhook_endpoints/{lago_id}", {"webhook_endpoint": {"webhook_url": "https://evil.test"}}
        ).status
        == 404
    )
    assert other_api.delete(f"/webhook_endpoints/{lago_id}").status == 404
    assert other_api.get("/webhook_endpoints").json["webhook_endpoints"] == []
    assert (
        api.get(f"/webhook_endpoints/{lago_id}").json["webhook_endpoint"]["webhook_url"]
        == "https://example.com/hooks"
    )


def test_the_legacy_organization_webhook_url_is_the_first_endpoint(api):
    api.put("/organizations", {"organization": {"webhook_url": "https://legacy.example.com/hook"}})
    endpoints = api.get("/webhook_endpoints").json["webhook_endpoints"]
    assert [e["webhook_url"] for e in endpoints] == ["https://legacy.example.com/hook"]
    assert endpoints[0]["signature_algo"] == "jwt"
    # And a second endpoint, then the legacy URL moved: the first endpoint follows, the second stays
    second = api.post("/webhook_endpoints", {"webhook_endpoint": {"webhook_url": "https://two.example.com"}})
    assert second.status == 200, second.body
    moved = api.put("/organizations", {"organization": {"webhook_url": "https://moved.example.com/hook"}})
    assert moved.status == 200
    assert moved.json["organization"]["webhook_urls"] == [
        "https://moved.example.com/hook",
        "https://two.example.com",
    ]
    listed = api.get("/webhook_endpoints").json["webhook_endpoints"]
    assert [(e["lago_id"], e["webhook_url"]) for e in listed] == [
        (endpoints[0]["lago_id"], "https://moved.example.com/hook"),
        (second.json["webhook_endpoint"]["lago_id"], "https://two.example.com"),
    ]
    # And the legacy URL cannot duplicate another endpoint's: 422, the organization unchanged
    taken = api.put("/organizations", {"organization": {"webhook_url": "https://two.example.com"}})
    assert (taken.status, taken.json["error_details"]) == (422, {"webhook_url": ["value_already_exist"]})
    unchanged = api.put("/organizations", {"organization": {}}).json["organization"]
    assert unchanged["webhook_url"] == "https://moved.example.com/hook"


def test_public_key_is_a_base64_pem_and_the_same_in_both_forms(api):
    # When the public key is fetched in both forms
    plain = api.get("/webhooks/public_key")
    as_json = api.get("/webhooks/json_public_key")
    # Then the deprecated form is text/plain and the JSON form matches the contract
    assert plain.status == 200
    assert plain.headers.get("Content-Type", plain.headers.get("content-type", "")).startswith("text/plain")
    assert as_json.status == 200
    assert as_json.json["webhook"]["public_key"] == plain.body.decode()
    # and it decodes to an RSA public key in PEM
    pem = base64.b64decode(plain.body)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert_matches_contract("/webhooks/json_public_key", "get", 200, as_json.json)


def test_the_key_pair_is_created_once_and_kept_in_the_secret(api, other_api):
    from lagoon.services.webhooks import webhook_keys

    first = api.get("/webhooks/json_public_key").json["webhook"]["public_key"]
    # A new container (nothing cached) reads the same key back from Secrets Manager
    webhook_keys._loaded.clear()
    assert other_api.get("/webhooks/json_public_key").json["webhook"]["public_key"] == first


def test_public_key_requires_an_api_key(gateway, api):
    response = api.get("/webhooks/public_key", api_key=None)
    assert response.status == 401
    assert response.json == {"status": 401, "error": "Unauthorized"}


def _interleaved(monkeypatch, concurrent_change):
    """Run `concurrent_change()` (another request) right after the next create/update has read the endpoints,
    as if it committed while the first one was still in flight."""
    from lagoon.services.webhooks import webhook_endpoints

    real_list = webhook_endpoints.list_endpoints
    pending = [concurrent_change]

    def list_then_let_the_other_request_commit(organization_id):
        found = real_list(organization_id)
        if pending:
            pending.pop()()
        return found

    monkeypatch.setattr(webhook_endpoints, "list_endpoints", list_then_let_the_other_request_commit)


def test_the_limit_holds_when_the_tenth_and_eleventh_are_created_concurrently(api, monkeypatch):
    # Given nine endpoints
    for n in range(9):
        assert _create(api, url=f"https://example.com/{n}").status == 200
    # When two creations race for the last slot (the second commits while the first is in flight)
    second: list = []
    _interleaved(monkeypatch, lambda: second.append(_create(api, url="https://example.com/b")))
    first = _create(api, url="https://example.com/a")
    # Then exactly one of them gets it and the other answers Lago's limit error
    assert second[0].status == 200, second[0].body
    assert first.status == 422, first.body
    assert first.json["error_details"] == {"base": ["exceeded_limit"]}
    assert len(api.get("/webhook_endpoints").json["webhook_endpoints"]) == 10


def test_the_same_url_created_concurrently_is_stored_once(api, monkeypatch):
    second: list = []
    _interleaved(monkeypatch, lambda: second.append(_create(api, url="https://example.com/same")))
    first = _create(api, url="https://example.com/same")
    assert second[0].status == 200, second[0].body
    assert first.status == 422, first.body
    assert first.json["error_details"] == {"webhook_url": ["value_already_exist"]}
    urls = [e["webhook_url"] for e in api.get("/webhook_endpoints").json["webhook_endpoints"]]
    assert urls == ["https://example.com/same"]


def test_a_url_changed_concurrently_to_one_being_created_is_stored_once(api, monkeypatch):
    lago_id = _create(api, url="https://example.com/old").json["webhook_endpoint"]["lago_id"]
    moved: list = []
    _interleaved(
        monkeypatch,
        lambda: moved.append(
            api.put(
                f"/webhook_endpoints/{lago_id}",
                {"webhook_endpoint": {"webhook_url": "https://example.com/new"}},
            )
        ),
    )
    created = _create(api, url="https://example.com/new")
    assert moved[0].status == 200, moved[0].body
    assert created.status == 422, created.body
    assert created.json["error_details"] == {"webhook_url": ["value_already_exist"]}
    urls = [e["webhook_url"] for e in api.get("/webhook_endpoints").json["webhook_endpoints"]]
    assert urls == ["https://example.com/new"]
