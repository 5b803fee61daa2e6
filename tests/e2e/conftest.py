"""End-to-end fixtures: the local stack (`python -m lagoon.local`) as a subprocess on a free port, driven over HTTP.

Use in any e2e test:
    def test_x(local_stack):            # LocalStackProcess (session-wide, real template.yaml)
        local_stack.base_url             # http://127.0.0.1:PORT  (give it to Client(api_url=...))
        local_stack.api_key              # the bootstrapped organization's key
        local_stack.session.get(local_stack.url("/api/v1/customers"))   # requests.Session, key preset
        local_stack.tick("2026-12-01T00:00:00Z")   # fire every scheduled function once; returns the JSON
        local_stack.drain()              # wait until every Kinesis record has been processed
        local_stack.lago_client()        # lago_python_client Client for this stack
        local_stack.aws("dynamodb")      # a boto3 client on the stack's moto
Or the short fixtures: base_url, api_key, http (the session), tick, drain.
The session stack runs schedules manually (LAGOON_SCHEDULES=manual): only `tick` fires them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_API_KEY = "lagoon_e2e_key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStackProcess:
    """One `python -m lagoon.local` subprocess with its own port and data directory."""

    def __init__(
        self,
        data_dir: Path,
        api_key: str = E2E_API_KEY,
        template: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.api_key = api_key
        self.template = template
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        )
        self.health: dict[str, Any] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "stack.log"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self, timeout: float = 60.0) -> LocalStackProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PORT": str(self.port),
            "LAGOON_DATA_DIR": str(self.data_dir),
            "LAGOON_API_KEY": self.api_key,
            "LAGOON_SCHEDULES": "manual",
            "LAGOON_ACCESS_LOG": "0",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if self.template:
            env["LAGOON_TEMPLATE"] = str(self.template)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lagoon.local"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local stack exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                answer = requests.get(self.url("/health"), timeout=1)
                if answer.status_code == 200:
                    self.health = answer.json()
                    return self
            except requests.RequestException:  # the port is bound before the stack is ready
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the local stack did not answer /health in {timeout} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C, as a user would; returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """kill -9: a crash."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> LocalStackProcess:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- helpers -----------------------------------------------------------------------------
    def tick(self, time: str, expect_ok: bool = True) -> dict[str, Any]:
        """Fire every scheduled function once with `time` (ISO 8601); returns the stack's JSON answer."""
        answer = requests.post(self.url("/_local/tick"), json={"time": time}, timeout=300)
        if expect_ok:
            assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def drain(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until every record on the stream(s) has been processed."""
        answer = requests.post(self.url("/_local/drain"), json={"timeout": timeout}, timeout=timeout + 30)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def lago_client(self, api_key: str | None = None) -> Any:
        from lago_python_client.client import Client

        return Client(api_key=api_key or self.api_key, api_url=self.base_url)

    def aws(self, service: str) -> Any:
        """A boto3 client on the stack's local AWS (moto)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.health["aws_endpoint_url"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def local_stack_factory() -> Iterator[Callable[..., LocalStackProcess]]:
    """Start extra stacks (own data dir): `local_stack_factory(template=..., extra_env=...)`; all stopped at the end."""
    started: list[LocalStackProcess] = []
    with tempfile.TemporaryDirectory(prefix="lagoon-e2e-") as root:

        def start(**kwargs: Any) -> LocalStackProcess:
            stack = LocalStackProcess(Path(root) / f"stack-{len(started)}", **kwargs)
            started.append(stack)
            return stack.start()

        yield start
        for stack in started:
            try:
                stack.stop()
            except Exception:
                stack.kill()


@pytest.fixture(scope="session")
def local_stack(local_stack_factory: Callable[..., LocalStackProcess]) -> LocalStackProcess:
    """The session's local stack on the real template.yaml."""
    return local_stack_factory()


@pytest.fixture(scope="session")
def base_url(local_stack: LocalStackProcess) -> str:
    return local_stack.base_url


@pytest.fixture(scope="session")
def api_key(local_stack: LocalStackProcess) -> str:
    return local_stack.api_key


@pytest.fixture(scope="session")
def http(local_stack: LocalStackProcess) -> requests.Session:
    return local_stack.session


@pytest.fixture(scope="session")
def tick(local_stack: LocalStackProcess) -> Callable[..., dict[str, Any]]:
    return local_stack.tick


@pytest.fixture(scope="session")
def drain(local_stack: LocalStackProcess) -> Callable[..., dict[str, Any]]:
    return local_stack.drain


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an `e2e` test (`pytest -m "not e2e"` skips them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
