"""The contention rule (lagoon.services.contention): a lost race is decided again, within a bound."""

from __future__ import annotations

import pytest
from lagoon import errors
from lagoon.services import contention


@pytest.fixture
def waits(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(contention.time, "sleep", slept.append)
    return slept


def test_a_use_case_that_loses_then_wins_answers_what_it_decided_the_last_time(waits):
    seen_states = iter(["stale", "stale", "current"])
    decisions: list[str] = []

    def use_case() -> str:
        state = next(seen_states)
        decisions.append(state)
        if state == "stale":
            raise errors.ConflictRetry("a concurrent change won")
        return f"decided on {state}"

    assert contention.run_with_retries(use_case, "customer") == "decided on current"
    assert decisions == ["stale", "stale", "current"]
    assert len(waits) == 2 and all(0 <= w <= 0.2 for w in waits)


def test_persistent_contention_is_a_503_naming_what_was_contended_after_the_bound(waits):
    calls: list[int] = []

    def always_loses() -> None:
        calls.append(1)
        raise errors.ConflictRetry("a concurrent change won")

    with pytest.raises(errors.TransientFailure) as raised:
        contention.run_with_retries(always_loses, "invoice numbering")
    assert str(raised.value) == "too many concurrent changes of the invoice numbering, retry the request"
    assert len(calls) == contention.ATTEMPTS
    assert len(waits) == contention.ATTEMPTS - 1


def test_an_answer_decided_on_the_new_state_is_not_retried(waits):
    def finds_the_code_taken() -> None:
        raise errors.ValidationFailed.field("code", "value_already_exist")

    with pytest.raises(errors.ValidationFailed):
        contention.retried_on_conflict("plan")(finds_the_code_taken)()
    assert waits == []


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap():
    for lost, bound in [(1, 0.01), (2, 0.02), (3, 0.04), (5, 0.16), (6, 0.2), (9, 0.2)]:
        samples = [contention.backoff_seconds(lost) for _ in range(200)]
        assert all(0 <= s <= bound for s in samples)
        assert max(samples) > bound / 2  # spread over the whole interval, not a fixed step
