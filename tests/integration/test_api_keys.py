"""API key records: a key is stored hashed, and its record shows no more than its last 4 characters."""

from __future__ import annotations


def test_a_key_record_keeps_a_hint_of_four_characters_and_the_generated_key_works(aws, gateway):
    from lagoon.data import entities
    from lagoon.data.organizations import API_KEY, GLOBAL, hash_api_key
    from lagoon.services import organizations

    from tests.conftest import ApiClient

    organization, key = organizations.create_organization("Hinted")
    chosen = organizations.add_api_key(organization.lago_id, "a-chosen-key-of-thirty-two-chars")
    for api_key in (key, chosen):
        record = entities.get(GLOBAL, API_KEY, hash_api_key(api_key))
        assert record is not None
        assert record["hint"] == f"…{api_key[-4:]}"
        assert record["organization_id"] == organization.lago_id
        assert api_key not in str(record)
        assert ApiClient(gateway, api_key).get("/customers").status == 200
    assert len(key) == 43 and key.isalnum()
