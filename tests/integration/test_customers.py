"""Customers through the real authorizer and handler, on moto."""

from __future__ import annotations

from tests.contract import assert_matches_contract


def test_create_customer_returns_the_customer_in_lago_shape(api):
    # Given a new external id
    body = {
        "customer": {
            "external_id": "hooli_1234",
            "name": "Gavin Belson",
            "email": "gavin@hooli.com",
            "country": "US",
            "currency": "USD",
            "timezone": "America/New_York",
            "billing_configuration": {"invoice_grace_period": 3, "document_locale": "fr"},
            "metadata": [{"key": "crm", "value": "42", "display_in_invoice": True}],
        }
    }
    # When it is posted
    response = api.post("/customers", body)
    # Then the customer comes back wrapped in its root key, with Lago's derived fields
    assert response.status == 200, response.body
    customer = response.json["customer"]
    assert customer["external_id"] == "hooli_1234"
    assert customer["sequential_id"] == 1
    assert customer["slug"].endswith("-001")
    assert customer["applicable_timezone"] == "America/New_York"
    assert customer["billing_configuration"]["invoice_grace_period"] == 3
    assert customer["billing_configuration"]["document_locale"] == "fr"
    assert customer["metadata"][0]["key"] == "crm"
    assert_matches_contract("/customers", "post", 200, response.json)


def test_posting_the_same_external_id_updates_only_the_fields_sent(api):
    first = api.post("/customers", {"customer": {"external_id": "c1", "name": "One", "city": "Paris"}}).json
    second = api.post("/customers", {"customer": {"external_id": "c1", "name": "Uno"}})
    assert second.status == 200
    customer = second.json["customer"]
    assert customer["lago_id"] == first["customer"]["lago_id"]
    assert customer["name"] == "Uno"
    assert customer["city"] == "Paris"
    assert customer["sequential_id"] == 1


def test_get_and_delete_customer(api):
    api.post("/customers", {"customer": {"external_id": "c1", "name": "One"}})
    got = api.get("/customers/c1")
    assert got.status == 200
    deleted = api.delete("/customers/c1")
    assert deleted.status == 200
    assert deleted.json["customer"]["external_id"] == "c1"
    assert api.get("/customers/c1").json == {
        "status": 404,
        "error": "Not Found",
        "code": "customer_not_found",
    }
    # the external id is free again: a new customer with a new sequential id
    again = api.post("/customers", {"customer": {"external_id": "c1"}}).json["customer"]
    assert again["sequential_id"] == 2
    assert_matches_contract("/customers/{external_customer_id}", "get", 200, got.json)


def test_list_customers_paginates_newest_first(api):
    for i in range(5):
        api.post("/customers", {"customer": {"external_id": f"c{i}", "country": "FR" if i % 2 else "DE"}})
    page = api.get("/customers", query={"per_page": 2, "page": 2})
    assert page.status == 200
    assert [c["external_id"] for c in page.json["customers"]] == ["c2", "c1"]
    assert page.json["meta"] == {
        "current_page": 2,
        "next_page": 3,
        "prev_page": 1,
        "total_pages": 3,
        "total_count": 5,
    }
    french = api.get("/customers", query=[("countries[]", "FR")]).json["customers"]
    assert sorted(c["external_id"] for c in french) == ["c1", "c3"]
    assert_matches_contract("/customers", "get", 200, page.json)


def test_missing_external_id_is_a_lago_validation_error(api):
    response = api.post("/customers", {"customer": {"name": "No id"}})
    assert response.status == 422
    assert response.json == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"external_id": ["value_is_mandatory"]},
    }


def test_invalid_country_currency_timezone_and_locale_are_rejected_without_writing(api):
    response = api.post(
        "/customers",
        {
            "customer": {
                "external_id": "bad",
                "country": "XX",
                "currency": "ABC",
                "timezone": "Mars/Olympus",
                "email": "not-an-email",
                "billing_configuration": {"document_locale": "tlh"},
            }
        },
    )
    assert response.status == 422
    assert response.json["error_details"] == {
        "country": ["country_code_invalid"],
        "currency": ["value_is_invalid"],
        "timezone": ["invalid_timezone"],
        "email": ["invalid_email_format"],
        "document_locale": ["invalid_document_locale"],
    }
    assert api.get("/customers/bad").status == 404


def test_malformed_json_is_a_400(api):
    response = api.post("/customers", raw_body=b"{not json")
    assert response.status == 400
    assert response.json["status"] == 400


def test_missing_root_key_is_a_400(api):
    response = api.post("/customers", {"external_id": "x"})
    assert response.status == 400


def test_wrong_method_is_a_405_and_unknown_route_a_404(api):
    assert api.put("/customers", {}).json == {
        "status": 405,
        "error": "Method Not Allowed",
        "code": "not_allowed",
    }
    assert api.get("/nothing-here").status == 404
    assert api.get("/nothing-here").json["status"] == 404


def test_missing_or_unknown_key_is_a_401(api):
    assert api.get("/customers", api_key=None).json == {"status": 401, "error": "Unauthorized"}
    assert api.get("/customers", api_key="wrong").json == {"status": 401, "error": "Unauthorized"}


def test_revoked_key_is_refused(api, gateway):
    from lagoon.services import organizations

    from tests.conftest import ApiClient

    key = organizations.add_api_key(organizations.organization_for_api_key(api.api_key))
    fresh = ApiClient(gateway.__class__(gateway.template), key)
    assert fresh.get("/customers").status == 200
    organizations.revoke_api_key(key)
    assert ApiClient(gateway.__class__(gateway.template), key).get("/customers").status == 401


def test_one_organization_never_sees_another_organizations_customers(api, other_api):
    api.post("/customers", {"customer": {"external_id": "shared-id", "name": "Acme's"}})
    assert other_api.get("/customers/shared-id").status == 404
    assert other_api.get("/customers").json["customers"] == []
    assert other_api.delete("/customers/shared-id").status == 404
    other_api.post("/customers", {"customer": {"external_id": "shared-id", "name": "Globex's"}})
    assert api.get("/customers/shared-id").json["customer"]["name"] == "Acme's"


def test_customer_created_and_updated_are_recorded_in_the_outbox(api):
    from lagoon.data.records import OutboxRecord

    api.post("/customers", {"customer": {"external_id": "c1"}})
    api.post("/customers", {"customer": {"external_id": "c1", "name": "Renamed"}})
    messages = sorted(OutboxRecord.scan(), key=lambda m: m.created_at)
    assert [m.webhook_type for m in messages] == ["customer.created", "customer.updated"]
    assert all(m.status == "pending" and m.object_type == "customer" for m in messages)


def test_percent_encoded_external_ids_in_the_path_are_decoded_like_api_gateway(api):
    # Given customers whose external ids need percent-encoding in a URL
    for external_id in ("a b", "a/b", "100%", "café"):
        assert api.post("/customers", {"customer": {"external_id": external_id}}).status == 200
    # When they are read through their encoded paths, then each one is found
    for external_id, encoded in (
        ("a b", "a%20b"),
        ("a/b", "a%2Fb"),
        ("100%", "100%25"),
        ("café", "caf%C3%A9"),
    ):
        got = api.get(f"/customers/{encoded}")
        assert got.status == 200, (encoded, got.body)
        assert got.json["customer"]["external_id"] == external_id
    # And a delete through the encoded path deletes exactly that customer
    assert api.delete("/customers/a%2Fb").json["customer"]["external_id"] == "a/b"
    assert api.get("/customers/a%2Fb").status == 404
    assert api.get("/customers/a%20b").status == 200


def test_the_gateway_passes_decoded_path_parameters_and_the_raw_path(gateway):
    route, params = gateway.match("GET", "/api/v1/customers/a%2Fb%20c")
    event = gateway.build_event(route, "GET", "/api/v1/customers/a%2Fb%20c", params, {}, "", None)
    assert event["pathParameters"] == {"external_customer_id": "a/b c"}
    assert event["path"] == "/api/v1/customers/a%2Fb%20c"


def test_an_unsupported_content_type_is_a_400(api):
    for content_type, body in (("text/plain", b"hello"), ("application/xml", b"<customer/>")):
        response = api.post("/customers", raw_body=body, content_type=content_type)
        assert (response.status, response.json) == (
            400,
            {"status": 400, "error": "BadRequest: unsupported content type, send application/json"},
        ), content_type
    # A multipart type without its boundary cannot be parsed: a 400 too, not a 500
    response = api.post("/customers", raw_body=b"abc", content_type="multipart/form-data")
    assert (response.status, response.json) == (
        400,
        {"status": 400, "error": "BadRequest: malformed multipart body, send application/json"},
    )
    assert api.get("/customers").json["customers"] == []


def test_blank_or_oversized_external_ids_are_422_and_unknown_in_paths(api):
    for external_id, code in (
        ("", "value_is_mandatory"),
        ("   ", "value_is_mandatory"),
        ("é" * 513, "value_is_too_long"),
    ):
        response = api.post("/customers", {"customer": {"external_id": external_id}})
        assert (response.status, response.json["error_details"]) == (422, {"external_id": [code]}), (
            external_id
        )
    assert api.post("/customers", {"customer": {"external_id": "x" * 1024}}).status == 200
    assert api.get("/customers/" + "x" * 1025).json["code"] == "customer_not_found"
    assert api.get("/customers").json["meta"]["total_count"] == 1


def test_an_authorizer_error_is_a_500_and_is_not_cached_as_a_deny(api, gateway, monkeypatch):
    real_invoke = gateway.functions.invoke
    failures = iter([RuntimeError("DynamoDB unreachable")])

    def flaky(logical_id, event):
        if logical_id == gateway.authorizer[0]:
            for failure in failures:
                raise failure
        return real_invoke(logical_id, event)

    monkeypatch.setattr(gateway.functions, "invoke", flaky)
    assert api.get("/customers").status == 500
    # The next request with the same key is authorized again, not answered from a cached denial
    assert api.get("/customers").status == 200


def test_default_gateway_responses_take_their_status_from_the_template(gateway):
    gateway.gateway_responses = {"DEFAULT_5XX": (503, '{"status": 503}'), "DEFAULT_4XX": (None, '{"s": 4}')}
    failure = gateway._gateway_error("AUTHORIZER_FAILURE", 500)
    assert (failure.status, failure.body) == (503, b'{"status": 503}')
    assert gateway._gateway_error("ACCESS_DENIED", 403).status == 403
