"""The local stack: template.yaml on one machine — moto as AWS, the API gateway, the Kinesis poller and the
scheduler in one process, its AWS state kept under the data directory. See docs/local-stack.md."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import boto3

from lagoon.local.template import LOCAL_ACCOUNT, REPO_ROOT, TEMPLATE_PATH, Template

DEFAULT_API_KEY = "lagoon_local_key"
DEFAULT_ORGANIZATION = "Lagoon Local"
STACK_FILE = "stack.json"

log = logging.getLogger("lagoon-local")


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


@dataclass
class StackConfig:
    """Settings of `python -m lagoon.local`, from the environment (documented in docs/local-stack.md)."""

    port: int = 3000
    host: str = "127.0.0.1"
    data_dir: Path = field(default_factory=lambda: REPO_ROOT / ".lagoon")
    api_key: str = DEFAULT_API_KEY
    organization_name: str = DEFAULT_ORGANIZATION
    template_path: Path = TEMPLATE_PATH
    automatic_schedules: bool = True
    persist: bool = True
    access_log: bool = True
    aws_port: int = 0
    log_level: str | None = None
    region: str = "us-east-1"

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> StackConfig:
        env = dict(os.environ if env is None else env)
        config = cls()
        config.port = int(env.get("PORT") or config.port)
        config.host = env.get("LAGOON_HOST") or config.host
        if env.get("LAGOON_DATA_DIR"):
            config.data_dir = Path(env["LAGOON_DATA_DIR"]).expanduser().resolve()
        config.api_key = env.get("LAGOON_API_KEY") or config.api_key
        config.organization_name = env.get("LAGOON_ORGANIZATION_NAME") or config.organization_name
        if env.get("LAGOON_TEMPLATE"):
            config.template_path = Path(env["LAGOON_TEMPLATE"]).expanduser().resolve()
        schedules = (env.get("LAGOON_SCHEDULES") or "auto").strip().lower()
        if schedules not in ("auto", "manual"):
            raise ValueError("LAGOON_SCHEDULES must be auto or manual")
        config.automatic_schedules = schedules == "auto"
        config.persist = _flag(env.get("LAGOON_PERSIST"), True)
        config.access_log = _flag(env.get("LAGOON_ACCESS_LOG"), True)
        config.aws_port = int(env.get("LAGOON_AWS_PORT") or 0)
        config.log_level = env.get("LAGOON_LOG_LEVEL") or None
        config.region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or config.region
        return config


class Progress:
    """`▸ step… done (0.4 s)` lines while the stack starts."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    @contextlib.contextmanager
    def step(self, text: str) -> Iterator[Callable[[str], None]]:
        self.out.write(f"  ▸ {text}… ")
        self.out.flush()
        started = time.perf_counter()
        notes: list[str] = []
        yield notes.append
        extra = f", {'; '.join(notes)}" if notes else ""
        self.out.write(f"done ({time.perf_counter() - started:.1f} s{extra})\n")
        self.out.flush()


class DataDirInUse(RuntimeError):
    pass


class LocalStack:
    """Starts and stops every part of the local stack; `start()` returns once /health answers."""

    def __init__(self, config: StackConfig, out: TextIO = sys.stdout) -> None:
        self.config = config
        self.out = out
        self.progress = Progress(out)
        self.stopped = threading.Event()
        self._lock_file: TextIO | None = None
        self.persistence: Any = None
        self.moto: Any = None
        self.server: Any = None
        self.poller: Any = None
        self.scheduler: Any = None
        self.functions: Any = None
        self.template: Template | None = None
        self.organization: Any = None
        self.started_at = 0.0
        self.start_seconds = 0.0

    # -- start -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything. moto, the gateway, the server and the functions' code load here, not at import:
        `lagoon.local.control` and the tests import this module without them."""
        started = time.perf_counter()
        config = self.config
        self._lock_data_dir()
        from lagoon.local.gateway import FunctionRegistry, Gateway  # loaded when the stack starts (see start)
        from lagoon.local.moto_aws import (  # loaded when the stack starts (see start)
            MotoServer,
            patch_dynamodb_queries,
            patch_dynamodb_request_parsing,
            patch_dynamodb_transactions,
            patch_kinesis_shards,
            quiet_werkzeug,
        )
        from lagoon.local.persistence import Persistence  # loaded when the stack starts (see start)
        from lagoon.local.server import Controls, LocalServer  # loaded when the stack starts (see start)

        # Bind the API port first: a busy port fails before any slow work.
        self.server = LocalServer(
            (config.host, config.port),
            gateway=None,  # type: ignore[arg-type]  # set below, before serving
            controls=Controls(health=self._health, tick=self._tick, drain=self._drain),
            access_log=config.access_log,
        )
        api_url = self.server.url
        self.template = Template.load(config.template_path, region=config.region)
        template = self.template

        with self.progress.step("Starting local AWS (moto)") as note:
            patch_kinesis_shards()
            patch_dynamodb_queries()
            patch_dynamodb_request_parsing()
            patch_dynamodb_transactions()
            quiet_werkzeug()
            self.persistence = Persistence(config.data_dir) if config.persist else None
            self.moto = MotoServer(
                host="127.0.0.1",
                port=config.aws_port,
                wrap=self.persistence.wrap if self.persistence else None,
            )
            if self.persistence:
                stats = self.persistence.restore(self.moto.app)
                if stats.snapshot_loaded or stats.replayed:
                    note(
                        f"restored {config.data_dir} in {stats.seconds:.1f} s, {stats.replayed} journal entries"
                    )
                self.persistence.on_snapshot = self._log_snapshot
            self.moto.start()
            self._apply_environment(api_url)
        with self.progress.step("Creating tables, streams, buckets and queues from the template"):
            create_aws_resources_in(template, self.moto.endpoint, config.region, boto3)
        if self.persistence:
            self.persistence.start()
        with self.progress.step(f"Loading {len(template.functions)} functions") as note:
            self.functions = FunctionRegistry(template)
            for logical_id in template.functions:
                try:
                    self.functions.handler(logical_id)
                except Exception as exc:  # a broken function answers 502; the rest of the stack works
                    log.exception("function %s failed to load", logical_id)
                    note(f"{logical_id} FAILED: {exc}")
            self.server.gateway = Gateway(template, self.functions, one_at_a_time=True)
        with self.progress.step("Bootstrapping the local organization") as note:
            self.organization = self._bootstrap_organization(note)
        with self.progress.step("Starting the Kinesis poller and the scheduler") as note:
            self._start_consumers(note)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        self._write_stack_file(api_url)
        self.started_at = time.time()
        self.start_seconds = time.perf_counter() - started

    def _lock_data_dir(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.config.data_dir / "stack.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise DataDirInUse(
                f"another local stack is using {self.config.data_dir} (stop it, or set LAGOON_DATA_DIR)"
            ) from exc
        self._lock_file = handle

    def _apply_environment(self, api_url: str) -> None:
        """The functions' environment (template), pointed at moto, with fake credentials, in this process."""
        assert self.template is not None
        from lagoon.config import reset_settings  # loaded when the stack starts (see start)
        from lagoon.data.connection import reset_clients  # loaded when the stack starts (see start)

        environment: dict[str, str] = {}
        for logical_id in self.template.functions:
            for key, value in self.template.function_environment(logical_id).items():
                if key in environment and environment[key] != value:
                    log.warning(
                        "%s differs between functions; the local stack uses %r", key, environment[key]
                    )
                    continue
                environment[key] = value
        environment.update(
            {
                "LAGOON_AWS_ENDPOINT_URL": self.moto.endpoint,
                "API_BASE_URL": api_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": self.config.region,
                "AWS_DEFAULT_REGION": self.config.region,
                "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
                "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines on stdout
            }
        )
        if self.config.log_level:
            environment["POWERTOOLS_LOG_LEVEL"] = self.config.log_level
        for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN"):
            os.environ.pop(key, None)
        os.environ.update(environment)
        self.environment = environment
        reset_settings()
        reset_clients()

    def _bootstrap_organization(self, note: Callable[[str], None]) -> Any:
        from lagoon import errors  # loaded when the stack starts (see start)
        from lagoon.services import organizations  # loaded when the stack starts (see start)

        organization_id = organizations.organization_for_api_key(self.config.api_key)
        if organization_id:
            return organizations.get_organization(organization_id)
        try:
            organization, _ = organizations.create_organization(
                self.config.organization_name, api_key=self.config.api_key
            )
        except errors.ValidationFailed:
            note("the API key exists but was revoked: add a key with `python -m lagoon.admin add-key`")
            return None
        note(f"created {organization.name!r}")
        return organization

    def _start_consumers(self, note: Callable[[str], None]) -> None:

        from lagoon.local.moto_aws import shard_tail  # loaded when the stack starts (see start)
        from lagoon.local.poller import Checkpoints, KinesisPoller  # loaded when the stack starts (see start)
        from lagoon.local.scheduler import Scheduler  # loaded when the stack starts (see start)

        assert self.template is not None
        session = boto3.Session(region_name=self.config.region)
        kinesis = session.client("kinesis", endpoint_url=self.moto.endpoint)
        sqs = session.client("sqs", endpoint_url=self.moto.endpoint)
        checkpoints = Checkpoints(self.config.data_dir / "checkpoints.json" if self.config.persist else None)
        self.poller = KinesisPoller(
            self.template,
            self.functions.invoke,
            kinesis,
            sqs,
            checkpoints,
            tail=lambda stream: shard_tail(stream, self.config.region, LOCAL_ACCOUNT),
        )
        self.poller.start()
        self.scheduler = Scheduler(
            self.template, self.functions.invoke, automatic=self.config.automatic_schedules
        )
        self.scheduler.start()
        mode = "on the clock" if self.config.automatic_schedules else "on /_local/tick only"
        note(
            f"{len(self.poller.pollers)} shard poller(s), {len(self.scheduler.schedules)} schedule(s) {mode}"
        )

    def _write_stack_file(self, api_url: str) -> None:
        """Where the running stack answers: read by the admin CLI and `lagoon.local.control`."""
        document = {
            "api_url": api_url,
            "aws_endpoint_url": self.moto.endpoint,
            "region": self.config.region,
            "pid": os.getpid(),
            "environment": self.environment,
        }
        path = self.config.data_dir / STACK_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2))
        os.replace(temporary, path)

    # -- local-only routes -----------------------------------------------------------------------
    def _health(self) -> dict[str, Any]:
        return {
            "api_url": self.server.url,
            "aws_endpoint_url": self.moto.endpoint,
            "uptime_seconds": round(time.time() - self.started_at, 1) if self.started_at else 0,
            "functions": len(self.template.functions) if self.template else 0,
        }

    def _tick(self, moment: datetime) -> list[Any]:
        return self.scheduler.tick(moment)  # type: ignore[no-any-return]

    def _drain(self, timeout: float) -> tuple[bool, list[dict[str, Any]]]:
        return self.poller.drain(timeout)  # type: ignore[no-any-return]

    def _log_snapshot(self, seconds: float, size: int) -> None:
        log.info("local AWS state saved in %.1f s", seconds)

    # -- banner and stop -------------------------------------------------------------------------
    def banner(self) -> str:
        url, key = self.server.url, self.config.api_key
        organization = (
            f'organization "{self.organization.name}" ({self.organization.lago_id})'
            if self.organization
            else ""
        )
        data = str(self.config.data_dir) if self.config.persist else "in memory only (LAGOON_PERSIST=0)"
        return "\n".join(
            [
                "",
                f"  Lagoon is running at {url}   (started in {self.start_seconds:.1f} s)",
                "",
                f"  API key     {key}   {organization}",
                f"  curl        curl -s {url}/api/v1/customers -H 'Authorization: Bearer {key}'",
                "  Python      from lago_python_client.client import Client",
                f'              client = Client(api_key="{key}", api_url="{url}")',
                "",
                f"  Local AWS   {self.moto.endpoint} (moto)   data: {data}",
                "  Schedules   "
                + ("on the clock" if self.config.automatic_schedules else "manual")
                + "; make tick TIME=2026-12-01T00:00:00Z fires them now; make drain waits for the stream",
                "  Admin       python -m lagoon.admin --help",
                "",
                "  Ctrl-C stops (the data stays; make reset wipes it).",
                "",
            ]
        )

    def stop(self) -> None:
        """Stop serving, stop the consumers, save the AWS state; safe to call twice."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.server:
            with contextlib.suppress(Exception):
                self.server.shutdown()
                self.server.server_close()
        for part in (self.scheduler, self.poller):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()
        if self.persistence:
            self.persistence.stop(snapshot=True)
        if self.moto:
            with contextlib.suppress(Exception):
                self.moto.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.config.data_dir / STACK_FILE).unlink()
        if self._lock_file:
            self._lock_file.close()
            self._lock_file = None


def create_aws_resources_in(template: Template, endpoint: str, region: str, boto3: Any) -> None:
    from lagoon.local.template import create_aws_resources  # loaded when the stack starts (see start)

    session = boto3.Session(region_name=region)

    class Endpointed:
        """A session whose clients all target the local endpoint."""

        def client(self, service: str) -> Any:
            return session.client(service, endpoint_url=endpoint)

    create_aws_resources(template, Endpointed())
