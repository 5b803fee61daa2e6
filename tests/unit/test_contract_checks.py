"""tests/contract.py itself: a missing spec skips a check outside CI and fails it under CI=true, and a deferred
check sees the body as it was when the helper handed it over."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import contract


@pytest.fixture
def no_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the uncached loader, so the session's cached spec is left alone
    monkeypatch.setattr(contract, "SPEC_PATH", tmp_path / "openapi.yaml")
    monkeypatch.setattr(contract, "_spec", contract._spec.__wrapped__)


def test_a_missing_spec_skips_the_check_outside_ci(no_spec: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        contract.assert_matches_contract("/customers", "get", 200, {})


def test_a_missing_spec_fails_the_check_under_ci(no_spec: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match="OpenAPI spec is missing"):
        contract.assert_matches_contract("/customers", "get", 200, {})
    with pytest.raises(RuntimeError, match="OpenAPI spec is missing"):
        contract.assert_webhook_matches_contract({"webhook_type": "customer.created"})


def test_a_deferred_check_sees_the_body_as_it_was_handed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = []
    monkeypatch.setattr(contract, "assert_matches_contract", lambda *check: checked.append(check))
    body: dict[str, list[str]] = {"fees": []}
    contract.defer_contract_check("/fees", "get", 200, body)
    body["fees"].append("changed by the test afterwards")
    contract.run_deferred_checks()
    assert checked == [("/fees", "get", 200, {"fees": []})]
    contract.run_deferred_checks()  # run once: nothing is left for the end of this test
    assert len(checked) == 1
