"""Crash-safe persistence of the local AWS (moto) state under the data directory (`.lagoon/`).

Design (a snapshot plus a write-ahead journal, as databases do):
- Every request to moto goes through `Persistence.wrap` (a WSGI middleware) under one lock — moto is not
  thread-safe anyway (a Kinesis put is `max + 1`). Each request that may change state is appended to
  `journal-<generation>.log` (length-prefixed pickle: time, WSGI environ, body) *before* its response is sent:
  a `kill -9` loses no answered request; the journal is fsynced every second (power loss: ≤ 1 s).
- Now and then (every `snapshot_every` = 10 s when dirty, or after 20k entries / 16 MB of journal) and at shutdown, moto's
  in-use backends are pickled under the lock to `snapshot.pickle` (write to a temp file, fsync, atomic
  rename) and a new journal generation starts. The snapshot names the generation that follows it.
- Restore = load the snapshot, then replay every journal from its generation on, in order, straight into
  moto's WSGI app (no HTTP). Kinesis arrival times are replayed from the journal. A torn last entry (crash
  mid-write) is dropped.
Not preserved by a crash-replay (exact after a clean stop): ids moto draws at random (SQS receipt handles,
S3 version ids) come out different.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import importlib
import io
import os
import pickle
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from moto.core.base_backend import BackendDict
from moto.core.model_instances import reset_model_data
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.kinesis import models as kinesis_models
from moto.kinesis.models import Record

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

SNAPSHOT = "snapshot.pickle"
FORMAT = 1
_HEADER = struct.Struct(">I")
_READ_ACTIONS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet", "Head")
# The WSGI keys a request needs to be replayed (plus every HTTP_* header).
_ENVIRON_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "RAW_URI")


@dataclass
class RestoreStats:
    snapshot_loaded: bool = False
    replayed: int = 0
    seconds: float = 0.0


def is_mutation(environ: dict[str, Any], body: bytes) -> bool:
    """Whether a moto request may change state (reads are not journaled)."""
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return False
    action: str | None = None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        action = target.rsplit(".", 1)[-1]
    elif environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") and body:
        action = next(iter(parse_qs(body.decode(errors="replace")).get("Action") or []), None)
    if action:
        return not action.startswith(_READ_ACTIONS)
    return environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD", "OPTIONS")


class Persistence:
    """Snapshot + journal of moto's state in `directory`."""

    def __init__(self, directory: Path, snapshot_every: float = 10.0, journal_limit: int = 20_000) -> None:
        self.directory = directory
        self.snapshot_every = snapshot_every
        self.journal_limit = journal_limit
        # Serializes every moto request, journal writes and snapshots.
        self.lock = threading.RLock()
        self._generation = 0
        self._fd: int | None = None
        self._entries = 0  # journal entries since the last snapshot
        self._journal_bytes = 0
        self.journal_bytes_limit = 16_000_000  # a crash-restart replays at most about this much
        self._unsynced = False
        self._last_snapshot = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: int | None = None
        self.on_snapshot: Callable[[float, int], None] | None = None
        install_clock()

    # -- the middleware --------------------------------------------------------------------------
    def wrap(self, app: WsgiApp) -> WsgiApp:
        def journaled(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            body = _read_body(environ)
            environ["wsgi.input"] = io.BytesIO(body)
            mutation = is_mutation(environ, body)
            answer: list[Any] = []

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                answer[:] = [status, headers, exc_info]
                return lambda data: None

            with self.lock:
                started = time.time()
                _CLOCK[:] = [_naive_utc(started)]  # the arrival time a replay will reproduce
                try:
                    result = app(environ, capture)
                    try:
                        chunks = list(result)
                    finally:
                        close = getattr(result, "close", None)
                        if close:
                            close()
                finally:
                    _CLOCK.clear()
                if mutation:
                    self._append(started, environ, body)
            start_response(*answer)
            return chunks

        return journaled

    def _append(self, at: float, environ: dict[str, Any], body: bytes) -> None:
        if self._fd is None:
            return
        recorded = {k: environ[k] for k in _ENVIRON_KEYS if k in environ}
        recorded.update({k: v for k, v in environ.items() if k.startswith("HTTP_") and isinstance(v, str)})
        for key, value in environ.items():  # moto's preserved header spellings (a dict of str)
            if key.startswith("moto.") and isinstance(value, dict):
                recorded[key] = value
        payload = pickle.dumps((at, recorded, body), protocol=pickle.HIGHEST_PROTOCOL)
        os.write(self._fd, _HEADER.pack(len(payload)) + payload)
        self._entries += 1
        self._journal_bytes += len(payload)
        self._unsynced = True

    # -- restore ---------------------------------------------------------------------------------
    def restore(self, app: WsgiApp) -> RestoreStats:
        """Load the snapshot and replay the journals into moto's app; open the journal for new writes."""
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        stats = RestoreStats()
        generation = 0
        path = self.directory / SNAPSHOT
        if path.exists():
            with path.open("rb") as file, _gc_paused():
                state = pickle.load(file)
            if state.get("format") != FORMAT:
                raise RuntimeError(
                    f"{path} was written by another version of the local stack: run `make reset`"
                )
            _load_backends(state["backends"])
            generation = state["generation"]
            stats.snapshot_loaded = True
        journals = sorted(self._journals(), key=lambda pair: pair[0])
        with self.lock:
            for number, journal in journals:
                if number < generation:
                    journal.unlink(missing_ok=True)  # already in the snapshot (a crash after the rename)
                    continue
                stats.replayed += _replay(journal, app)
                generation = max(generation, number)
            self._open_journal(generation)
            self._entries = stats.replayed
        stats.seconds = time.perf_counter() - started
        return stats

    def _journals(self) -> Iterator[tuple[int, Path]]:
        for journal in self.directory.glob("journal-*.log"):
            with contextlib.suppress(ValueError):
                yield int(journal.stem.split("-", 1)[1]), journal

    def _open_journal(self, generation: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._generation = generation
        path = self.directory / f"journal-{generation}.log"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    # -- snapshots -------------------------------------------------------------------------------
    def snapshot(self, background: bool = False) -> float:
        """Write moto's state to the snapshot file and start a new journal generation.

        In the background (the periodic snapshots), the process forks under the lock — the child holds a
        copy-on-write image of moto at that instant and pickles it while the parent keeps serving (the
        pause is the fork, milliseconds); otherwise (shutdown) it pickles in-process.
        """
        started = time.perf_counter()
        if self._child is not None:
            return 0.0  # the previous background snapshot is still being written
        reducers = _reducers()
        with self.lock:
            state = {"format": FORMAT, "generation": self._generation + 1, "backends": _dump_backends()}
            previous = self._generation
            if background and hasattr(os, "fork"):
                pid = os.fork()
                if pid == 0:  # the child: write the image and leave without running any cleanup
                    code = 1
                    try:
                        self._write_snapshot(_pickle_state(state, reducers))
                        code = 0
                    finally:
                        os._exit(code)
                self._child = pid
                data_size = -1
            else:
                data = _pickle_state(state, reducers)
                data_size = len(data)
            self._open_journal(previous + 1)
            self._entries = self._journal_bytes = 0
            self._last_snapshot = time.monotonic()
        if self._child is not None:
            pid, self._child = self._child, None
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                return time.perf_counter() - started  # journals are kept: nothing is lost
        else:
            self._write_snapshot(data)
        for number, journal in self._journals():
            if number <= previous:
                journal.unlink(missing_ok=True)
        elapsed = time.perf_counter() - started
        if self.on_snapshot:
            self.on_snapshot(elapsed, data_size)
        return elapsed

    def _write_snapshot(self, data: bytes) -> None:
        temporary = self.directory / (SNAPSHOT + ".tmp")
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.directory / SNAPSHOT)

    @property
    def dirty(self) -> bool:
        return self._entries > 0

    def start(self) -> None:
        """Fsync the journal every second; snapshot when it is long or old."""
        self._thread = threading.Thread(target=self._run, name="lagoon-persistence", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.sync()
            old = time.monotonic() - self._last_snapshot >= self.snapshot_every
            long = self._entries >= self.journal_limit or self._journal_bytes >= self.journal_bytes_limit
            if long or (self.dirty and old):
                self.snapshot(background=True)

    def sync(self) -> None:
        if self._unsynced and self._fd is not None:
            self._unsynced = False
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def stop(self, snapshot: bool = True) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if snapshot and self.dirty:
            self.snapshot()
        self.sync()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return bytes(stream.read(int(length)))
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    return b""


# moto keeps a few locks in its models (SQS queues): a restored model gets fresh ones.
_LOCKS: dict[type, Callable[[Any], tuple[Any, tuple[()]]]] = {
    type(threading.Lock()): lambda lock: (threading.Lock, ()),
    type(threading.RLock()): lambda lock: (threading.RLock, ()),
    threading.Condition: lambda condition: (threading.Condition, ()),
    threading.Event: lambda event: (threading.Event, ()),
}


def _dynamo_type(kind: str, value: Any) -> Any:

    restored = DynamoType.__new__(DynamoType)
    restored.type, restored.value = kind, value
    return restored


def _dynamo_item(hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> Any:
    """An Item without LimitedSizeDict's per-insert size check (O(n²) when unpickled the default way)."""

    item: Any = Item.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    limited = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(limited, attrs)
    item.attrs = limited
    return item


def _kinesis_record(
    partition_key: str, data: str, sequence_number: int, explicit_hash_key: Any, created: datetime, at: float
) -> Any:

    record: Any = Record.__new__(Record)
    record.partition_key, record.data, record.sequence_number = partition_key, data, sequence_number
    record.explicit_hash_key, record.created_at_datetime, record.created_at = explicit_hash_key, created, at
    return record


def _reducers() -> dict[type, Callable[[Any], tuple[Any, tuple[Any, ...]]]]:
    """Compact pickling of moto's most numerous objects (DynamoDB items, Kinesis records) and its locks."""

    return {
        **_LOCKS,
        DynamoType: lambda value: (_dynamo_type, (value.type, value.value)),
        Item: lambda item: (_dynamo_item, (item.hash_key, item.range_key, dict(item.attrs))),
        Record: lambda r: (
            _kinesis_record,
            (
                r.partition_key,
                r.data,
                r.sequence_number,
                r.explicit_hash_key,
                r.created_at_datetime,
                r.created_at,
            ),
        ),
    }


def _pickle_state(state: Any, reducers: dict[type, Any] | None = None) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **(reducers or _reducers())}  # type: ignore[dict-item]
    with _gc_paused():
        pickler.dump(state)
    return buffer.getvalue()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of new objects would trigger full collections over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def dump_state() -> bytes:
    """moto's in-use backends pickled as a snapshot holds them, in memory: a test seeds a state once and
    starts each case from it (`load_state`), for a millisecond instead of seeding again."""
    return _pickle_state(_dump_backends())


def load_state(data: bytes) -> None:
    """Put back the backends `dump_state` saved (a fresh copy each time: `data` is not changed).

    moto keeps every model object it ever built in a class-level list (`instances_tracked`, for its dashboard):
    the models of the state being replaced are forgotten first, else each load would keep the last one alive."""
    reset_model_data()
    with _gc_paused():
        _load_backends(pickle.loads(data))


def _dump_backends() -> list[tuple[str, str, dict[str, Any]]]:
    """(module, global name, {account: backends}) of every moto backend in use."""

    dumped = []
    for backend_dict in list(BackendDict._instances):  # type: ignore[misc]
        module = sys.modules[backend_dict.backend.__module__]
        name = next((k for k, v in vars(module).items() if v is backend_dict), None)
        if name is None:
            continue
        dumped.append((module.__name__, name, dict(backend_dict)))
    return dumped


def _load_backends(dumped: list[tuple[str, str, dict[str, Any]]]) -> None:

    for module_name, name, accounts in dumped:
        live = getattr(importlib.import_module(module_name), name)
        live.clear()
        for account_id, backend in accounts.items():
            dict.__setitem__(live, account_id, backend)
        if live not in BackendDict._instances:  # type: ignore[misc]
            BackendDict._instances.append(live)  # type: ignore[misc]


def _entries(path: Path) -> Iterator[tuple[float, dict[str, Any], bytes]]:
    """The journal's entries; a torn tail (crash mid-write) is cut off the file."""
    with path.open("rb") as file:
        good = 0
        while True:
            header = file.read(_HEADER.size)
            if len(header) < _HEADER.size:
                break
            (size,) = _HEADER.unpack(header)
            payload = file.read(size)
            if len(payload) < size:
                break
            try:
                entry = pickle.loads(payload)
            except Exception:
                break
            good = file.tell()
            yield entry
        torn = file.seek(0, os.SEEK_END) != good
    if torn:
        with path.open("r+b") as file:
            file.truncate(good)


# While moto handles a request (one at a time, under the lock), Kinesis reads "now" from here: the time the
# journal records, so a replay gives records the same arrival timestamps.
_CLOCK: list[datetime] = []


def _naive_utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC).replace(tzinfo=None)  # moto's utcnow() is naive UTC


def install_clock() -> None:

    if getattr(kinesis_models.utcnow, "lagoon_clock", False):
        return
    real_utcnow = kinesis_models.utcnow

    def utcnow() -> datetime:
        return _CLOCK[0] if _CLOCK else real_utcnow()

    utcnow.lagoon_clock = True  # type: ignore[attr-defined]
    kinesis_models.utcnow = utcnow


def _replay(path: Path, app: WsgiApp) -> int:
    count = 0
    try:
        for at, recorded, body in _entries(path):
            _CLOCK[:] = [_naive_utc(at)]
            environ = {
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": False,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "0",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1",
                **recorded,
            }
            result = app(environ, lambda status, headers, exc_info=None: lambda data: None)
            for _ in result:
                pass
            close = getattr(result, "close", None)
            if close:
                close()
            count += 1
    finally:
        _CLOCK.clear()
    return count
