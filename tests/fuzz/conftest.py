"""Fuzz fixtures: an organization on moto seeded once through the API (tests/fuzz/world.py), whose state each
operation starts from (moto's state saved and put back: a millisecond, where seeding again costs a second),
and the in-process gateway to send the generated requests to (tests/fuzz/target.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiClient, moto_aws
from tests.fuzz import world as fuzz_world
from tests.fuzz.target import STATUSES, GatewayTarget, ServerErrors
from tests.integration.ingestion.conftest import StreamDriver

FUZZ_API_KEY = "fuzz-key"


@dataclass
class SeededState:
    target: GatewayTarget
    world: fuzz_world.FuzzWorld
    moto_state: bytes
    stream: StreamDriver
    stream_positions: dict[str, int]

    def restore(self) -> None:
        """The organization as seeding left it: moto's state, the stream read up to there, no cached catalog."""
        from lagoon.ingestion.aggregator import reset_default_aggregator
        from lagoon.local.persistence import load_state

        load_state(self.moto_state)
        reset_default_aggregator()
        self.stream.positions = dict(self.stream_positions)


@pytest.fixture(scope="module")
def seeded_state(template: Any) -> Iterator[SeededState]:
    from lagoon.ingestion.aggregator import reset_default_aggregator
    from lagoon.local.gateway import Gateway
    from lagoon.local.persistence import dump_state
    from lagoon.services import organizations

    with pytest.MonkeyPatch.context() as monkeypatch, moto_aws(template, monkeypatch):
        organizations.create_organization("Fuzz", api_key=FUZZ_API_KEY)
        gateway = Gateway(template)
        reset_default_aggregator()
        stream = StreamDriver(template, gateway)
        world = fuzz_world.seed_world(
            ApiClient(gateway, FUZZ_API_KEY).request,
            aggregate=stream.drain,
            bill=lambda moment: _run_billing(gateway, moment),
        )
        target = GatewayTarget(gateway, FUZZ_API_KEY, stream)
        state = SeededState(target, world, dump_state(), stream, dict(stream.positions))
        target.restore = state.restore
        yield state


@pytest.fixture
def fuzz_target(seeded_state: SeededState) -> Iterator[GatewayTarget]:
    """The gateway to fuzz, whose `restore()` puts the organization back as seeding left it (each case starts
    from there), and its world given to the generator's hooks. The 5xx a deep run collected fail the
    operation once all its cases have run."""
    fuzz_world.CURRENT = seeded_state.world
    target = seeded_state.target
    target.server_errors = ServerErrors()
    root = logging.getLogger()
    root.addHandler(target.errors)
    try:
        yield target
    finally:
        fuzz_world.CURRENT = fuzz_world.FuzzWorld()
        root.removeHandler(target.errors)
    if target.server_errors.found:
        pytest.fail(f"server errors (5xx), by cause:\n\n{target.server_errors.report()}", pytrace=False)


def _run_billing(gateway: Any, moment: datetime) -> None:
    """The real billing handler, as EventBridge Scheduler invokes it at `moment`."""
    time = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    gateway.functions.invoke(
        "BillingFunction", {"time": time, "source": "lagoon.scheduler", "detail-type": "Scheduled Event"}
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After `make fuzz`: how far the requests got, by operation (a 2xx reached the use case)."""
    if not STATUSES or os.environ.get("LAGOON_FUZZ") != "deep":
        return
    terminalreporter.section("fuzzed answers by operation")
    for operation, counts in sorted(STATUSES.items()):
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
        terminalreporter.write_line(f"{operation:70} {answers}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/fuzz is a `fuzz` test (`pytest -m "not fuzz"` skips them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fuzz)
