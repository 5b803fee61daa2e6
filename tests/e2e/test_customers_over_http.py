"""Customers over HTTP on the local stack, through lago-python-client — what a Lago user would run."""

from __future__ import annotations

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Customer


def test_customer_lifecycle_with_the_lago_client(local_stack):
    client = local_stack.lago_client()
    # Given a customer created through the client
    created = client.customers.create(Customer(external_id="e2e_cust_1", name="Gavin Belson", currency="USD"))
    assert created.external_id == "e2e_cust_1"
    assert created.lago_id
    # When it is read back, listed and updated (create again = upsert)
    assert client.customers.find("e2e_cust_1").name == "Gavin Belson"
    listed = client.customers.find_all()
    assert "e2e_cust_1" in [c.external_id for c in listed["customers"]]
    updated = client.customers.create(Customer(external_id="e2e_cust_1", name="Gavin B."))
    # Then the update keeps its identity
    assert updated.lago_id == created.lago_id
    assert client.customers.find("e2e_cust_1").name == "Gavin B."
    # And deleting it makes it unknown
    assert client.customers.destroy("e2e_cust_1").external_id == "e2e_cust_1"
    with pytest.raises(LagoApiError) as missing:
        client.customers.find("e2e_cust_1")
    assert missing.value.status_code == 404


def test_invalid_customer_is_a_422_for_the_lago_client(local_stack):
    with pytest.raises(LagoApiError) as refused:
        local_stack.lago_client().customers.create(Customer(external_id="e2e_bad", currency="NOPE"))
    assert refused.value.status_code == 422


def test_unknown_api_key_is_a_401_for_the_lago_client(local_stack):
    with pytest.raises(LagoApiError) as refused:
        local_stack.lago_client(api_key="not-a-key").customers.find_all()
    assert refused.value.status_code == 401


def test_errors_are_json_even_off_the_api(local_stack, http):
    unknown = http.get(local_stack.url("/nowhere"))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "route_not_found"
    unauthorized = http.get(local_stack.url("/api/v1/customers"), headers={"Authorization": "Bearer nope"})
    assert unauthorized.json() == {"status": 401, "error": "Unauthorized"}


def test_health_answers_json(local_stack, http):
    answer = http.get(local_stack.url("/health"))
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_keep_alive_connections_are_reused_and_fast(local_stack, http):
    # Given one keep-alive session, when it sends many requests, then they are quick (no 40 ms Nagle stalls)
    import time

    http.get(local_stack.url("/health"))
    started = time.perf_counter()
    for _ in range(50):
        assert http.get(local_stack.url("/health")).status_code == 200
    assert (time.perf_counter() - started) / 50 < 0.02
