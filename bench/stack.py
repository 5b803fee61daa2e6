"""The local stack (`make run`), started inside the benchmark's process on a free port and a temporary data dir.

Requests go over HTTP to the stack's gateway, the stack's poller feeds the real aggregator from moto's Kinesis,
`/_local/tick` and `/_local/drain` drive it — exactly what a user of `make run` gets. Because the stack runs in
this process, `lagoon.data.capacity.metering()` sees every AWS call its functions make.
"""

from __future__ import annotations

import io
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

API_KEY = "bench-local-stack-key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningStack:
    stack: Any
    base_url: str
    api_key: str

    def session(self) -> requests.Session:
        """A keep-alive session with the organization's key."""
        session = requests.Session()
        session.headers.update(
            {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        )
        return session

    def post(self, session: requests.Session, path: str, body: Any) -> Any:
        answer = session.post(f"{self.base_url}/api/v1{path}", json=body, timeout=120)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return answer.json()

    def tick(self, time: str) -> dict[str, Any]:
        answer = requests.post(f"{self.base_url}/_local/tick", json={"time": time}, timeout=3600)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def drain(self, timeout: float = 600.0) -> dict[str, Any]:
        answer = requests.post(
            f"{self.base_url}/_local/drain", json={"timeout": timeout}, timeout=timeout + 30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


@contextmanager
def local_stack(persist: bool = True) -> Iterator[RunningStack]:
    """Start the local stack (schedules on /_local/tick only, no access log) and stop it afterwards."""
    from lagoon.local.stack import LocalStack, StackConfig

    with tempfile.TemporaryDirectory(prefix="lagoon-bench-") as root:
        config = StackConfig(
            port=_free_port(),
            data_dir=Path(root),
            api_key=API_KEY,
            organization_name="Bench Corp",
            automatic_schedules=False,
            persist=persist,
            access_log=False,
            log_level="ERROR",
        )
        stack = LocalStack(config, out=io.StringIO())
        stack.start()
        try:
            yield RunningStack(stack, stack.server.url, API_KEY)
        finally:
            stack.stop()
