"""Delivers outbox messages to webhook endpoints (the scheduled dispatcher's use case; docs/webhooks.md).

One run, at the schedule's "now":
1. page through the due messages of every outbox shard (sparse index, oldest first);
2. claim each one with a lease (a conditional update: concurrent runs never both take a message);
3. the first time a message is dispatched, fan it out to the organization's endpoints whose `event_types`
   accept its type (a snapshot: endpoints added later do not receive older messages, as in Lago);
4. POST the envelope to every endpoint due, in parallel: at most `concurrency` requests at once and at most
   `endpoint_concurrency` per endpoint, round-robin between endpoints, so a slow or dead endpoint only ever
   holds its own slots. At most `endpoint_backlog` deliveries per endpoint are claimed ahead; a message is
   claimed for those of its endpoints that have room (the others' deliveries stay due for a later run), and
   one whose endpoints are all busy waits unclaimed (at most `max_waiting_messages` of them, the rest are left
   for the next run) while reading goes on, so a busy endpoint's backlog never hides other endpoints' messages;
5. record each message's outcome as soon as its deliveries are done: succeeded, retried later with
   exponential backoff, or `failed` after `max_attempts` (then listed and retryable, see webhook_messages).

The run orchestrates; the rules (bounds, success, retries, retention) are `delivery_policy`'s, the envelope and
its signatures `claimed_messages`', the POST `http_sender`'s.

Delivery is at least once: a run that dies after sending but before recording sends again after the lease,
with the same `X-Lago-Unique-Key` (the message id).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from lagoon import errors
from lagoon.config import get_settings
from lagoon.data import organizations, webhook_outbox
from lagoon.data.webhook_outbox import FAILED, PENDING, OutboxEntry
from lagoon.domain.organizations import Organization
from lagoon.domain.webhook_signatures import jwt_issuer
from lagoon.observability import logger
from lagoon.services.webhooks import webhook_endpoints
from lagoon.services.webhooks.claimed_messages import (
    ClaimedMessage,
    DeliveryTask,
    OrganizationEndpoints,
    new_delivery,
)
from lagoon.services.webhooks.delivery_policy import DeliveryPolicy, MessageOutcome, message_outcome
from lagoon.services.webhooks.http_sender import HttpResult, HttpSender, Sender, elapsed_ms
from lagoon.services.webhooks.outbox_time import iso
from lagoon.services.webhooks.receiver_addresses import address_policy

STORE_THREADS = 8  # parallel claims and progress writes (DynamoDB round trips)


@dataclass
class DispatchReport:
    """What one run did (returned by the handler, logged, and used by tests and benchmarks)."""

    run_id: str
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    attempts: int = 0
    succeeded_attempts: int = 0
    failed_attempts: int = 0
    deferred: int = 0
    lost_leases: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Run:
    store: ThreadPoolExecutor  # claims and records progress off the delivery loop (set by run())

    def __init__(
        self, now: datetime, policy: DeliveryPolicy, sender: Sender, run_id: str, start_deadline: float
    ) -> None:
        self.now = now
        self.now_iso = iso(now)
        self.policy = policy
        self.sender = sender
        self.report = DispatchReport(run_id)
        self.start_deadline = start_deadline
        self.started = time.monotonic()
        self.issuer = jwt_issuer(get_settings().api_base_url)
        self.organizations: dict[str, OrganizationEndpoints] = {}
        self.cursors: dict[str, dict[str, Any] | None] = {shard: None for shard in webhook_outbox.SHARDS}
        self.seen: set[str] = set()  # read this run: a message handed back is not taken twice
        # Read but not claimed, because every endpoint they are due for has enough work queued: each waits
        # under those of them that have fewer than `endpoint_backlog` waiting, and whichever frees up first
        # admits it. One that no endpoint can take in (or beyond `max_waiting_messages`) is left behind: not
        # kept, read again when one of its endpoints can take waiting messages again (see reread).
        self.waiting_entries: dict[str, tuple[OutboxEntry, list[str]]] = {}
        self.waiting: dict[str, deque[str]] = {}
        self.waiting_load: Counter[str] = Counter()
        self.left_behind: set[str] = set()
        self.left_behind_for: set[str] = set()
        self.reserved: Counter[str] = Counter()  # deliveries of admitted messages being claimed
        self.admitted: list[tuple[OutboxEntry, list[str]]] = []
        self.open: dict[str, ClaimedMessage] = {}
        self.queues: dict[str, deque[DeliveryTask]] = {}
        self.active: Counter[str] = Counter()
        # Endpoints that took at least half the deadline to answer (or missed it) in this run, and the attempts
        # to them under way: together they hold at most half of the slots, so several dead endpoints (common
        # across organizations) cannot take every slot for a whole deadline at a time.
        self.slow: set[str] = set()
        self.slow_futures: set[Future[dict[str, Any]]] = set()
        self.futures: dict[Future[dict[str, Any]], DeliveryTask] = {}
        self.claims: dict[Future[OutboxEntry | None], list[str]] = {}
        self.saves: list[Future[None]] = []
        self.report_lock = threading.Lock()

    # -- clock ---------------------------------------------------------------------------------------
    def clock(self) -> datetime:
        """The schedule's "now", advanced by the time this run has taken."""
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def accepting(self) -> bool:
        return time.monotonic() < self.start_deadline

    # -- reading and claiming ------------------------------------------------------------------------
    def organization(self, organization_id: str) -> OrganizationEndpoints:
        if organization_id not in self.organizations:
            organization: Organization | None
            try:
                organization = organizations.get_organization(organization_id)
            except errors.NotFound:
                organization = None
            endpoints = {e.lago_id: e for e in webhook_endpoints.list_endpoints(organization_id)}
            self.organizations[organization_id] = OrganizationEndpoints(
                organization.hmac_key if organization else None, endpoints, address_policy(organization)
            )
        return self.organizations[organization_id]

    def due_endpoints(self, entry: OutboxEntry) -> list[str]:
        organization = self.organization(entry.organization_id)
        if entry.deliveries is None:
            return [
                e for e, endpoint in organization.endpoints.items() if endpoint.accepts(entry.webhook_type)
            ]
        return [
            endpoint_id
            for endpoint_id, d in entry.deliveries.items()
            if d["status"] == PENDING and d["next_attempt_at"] <= self.now_iso
        ]

    def load(self, endpoint_id: str) -> int:
        return len(self.queues.get(endpoint_id, ())) + self.active[endpoint_id] + self.reserved[endpoint_id]

    def backlogged(self, endpoint_id: str) -> bool:
        return self.load(endpoint_id) >= max(self.policy.endpoint_backlog, 1)

    def admit(self, entry: OutboxEntry) -> None:
        """Claim the message for those of its due endpoints that have room (the others' deliveries stay due, for
        a later run); if none has room, it waits or is left behind (see __init__). Reading goes on either way,
        so a busy endpoint's backlog never hides the messages of other endpoints behind it."""
        due = self.due_endpoints(entry)
        with_room = [e for e in due if not self.backlogged(e)]
        if due and not with_room:
            quota = max(self.policy.endpoint_backlog, 1)
            under = [e for e in due if self.waiting_load[e] < quota]
            if not under or len(self.waiting_entries) >= self.policy.max_waiting_messages:
                self.left_behind.add(entry.message_id)
                self.left_behind_for.update(due)
                return
            self.waiting_entries[entry.message_id] = (entry, under)
            for endpoint_id in under:
                self.waiting_load[endpoint_id] += 1
                self.waiting.setdefault(endpoint_id, deque()).append(entry.message_id)
            return
        for endpoint_id in with_room:
            self.reserved[endpoint_id] += 1
        self.admitted.append((entry, with_room))

    def fetch(self) -> None:
        """Read the next page of due messages of every shard that has more."""
        for shard in list(self.cursors):
            try:
                page = webhook_outbox.due_messages(
                    shard, self.now_iso, self.policy.page_size, start_key=self.cursors[shard]
                )
            except errors.TransientFailure:
                # Throttled or unavailable: the rest of this shard waits for the next run, the others go on.
                logger.warning("could not read due webhook messages", extra={"shard": shard}, exc_info=True)
                del self.cursors[shard]
                continue
            if page.next_key is None:
                del self.cursors[shard]
            else:
                self.cursors[shard] = page.next_key
            for entry in page.entries:
                if entry.message_id not in self.seen:
                    self.seen.add(entry.message_id)
                    self.admit(entry)

    def readmit(self) -> None:
        """Messages waiting for an endpoint that has room again are admitted (or wait again)."""
        for endpoint_id in list(self.waiting):
            queue = self.waiting[endpoint_id]
            while queue and not self.backlogged(endpoint_id):
                waiting = self.waiting_entries.pop(queue.popleft(), None)
                if waiting is None:
                    continue  # already admitted through another of its endpoints
                entry, under = waiting
                for other in under:
                    self.waiting_load[other] -= 1
                self.admit(entry)
            if not queue:
                del self.waiting[endpoint_id]

    def reread(self) -> None:
        """Once every shard is read, page through the due messages again if some were left behind and one of
        their endpoints can take waiting messages again (an endpoint that stays busy causes no re-reading)."""
        if self.cursors or not self.left_behind:
            return
        if len(self.waiting_entries) >= self.policy.max_waiting_messages:
            return
        quota = max(self.policy.endpoint_backlog, 1)
        if all(self.waiting_load[e] >= quota for e in self.left_behind_for):
            return
        self.seen -= self.left_behind
        self.left_behind, self.left_behind_for = set(), set()
        self.cursors = {shard: None for shard in webhook_outbox.SHARDS}

    def can_read(self) -> bool:
        """More pages to read, and room for what they bring."""
        return bool(
            self.cursors
            and len(self.open) + len(self.claims) < self.policy.max_open_messages
            and self.startable() < self.policy.concurrency
        )

    def claim_admitted(self) -> None:
        """Claim the admitted messages in the background; each opens when its claim comes back."""
        lease_until = iso(self.clock() + timedelta(seconds=self.policy.lease_seconds))
        for entry, due in self.admitted:
            claim = self.store.submit(webhook_outbox.claim, entry, self.report.run_id, lease_until)
            self.claims[claim] = due
        self.admitted = []

    def claimed(self, claim: Future[OutboxEntry | None]) -> None:
        for endpoint_id in self.claims.pop(claim):
            self.reserved[endpoint_id] -= 1
        try:
            taken = claim.result()
        except errors.TransientFailure:
            # Not claimed (or claimed without our knowing: its lease then runs out): it is due again later.
            logger.warning("could not claim a webhook message", exc_info=True)
            return
        if taken is not None:
            self.report.claimed += 1
            self.open_message(taken)

    def open_message(self, entry: OutboxEntry) -> None:
        organization = self.organization(entry.organization_id)
        if entry.deliveries is None:
            deliveries = {
                endpoint_id: new_delivery(self.now_iso)
                for endpoint_id, endpoint in organization.endpoints.items()
                if endpoint.accepts(entry.webhook_type)
            }
        else:
            deliveries = entry.deliveries
        message = ClaimedMessage(entry, deliveries, organization)
        self.open[entry.message_id] = message
        for endpoint_id, delivery in deliveries.items():
            if delivery["status"] != PENDING or delivery["next_attempt_at"] > self.now_iso:
                continue
            endpoint = organization.endpoints.get(endpoint_id)
            if endpoint is None:
                delivery.update(status="skipped", next_attempt_at=None, reason="endpoint deleted")
                continue
            if self.backlogged(endpoint_id):
                self.report.deferred += 1
                continue
            self.queues.setdefault(endpoint_id, deque()).append(DeliveryTask(message, endpoint))
            message.outstanding += 1
        if message.outstanding == 0:
            self.complete(message)

    # -- delivering ----------------------------------------------------------------------------------
    def startable(self) -> int:
        return sum(
            min(len(q), self.policy.endpoint_concurrency - self.active[e])
            for e, q in self.queues.items()
            if q
        )

    def start(self, pool: ThreadPoolExecutor) -> None:
        """Round-robin over endpoints: one task each per pass, within the global and per-endpoint bounds, and
        at most half of the slots for the endpoints found slow in this run."""
        progressed = True
        while progressed and len(self.futures) < self.policy.concurrency:
            progressed = False
            for endpoint_id in list(self.queues):
                queue = self.queues[endpoint_id]
                if not queue or self.active[endpoint_id] >= self.policy.endpoint_concurrency:
                    continue
                if len(self.futures) >= self.policy.concurrency:
                    break
                slow = endpoint_id in self.slow
                if slow and len(self.slow_futures) >= max(self.policy.concurrency // 2, 1):
                    continue
                task = queue.popleft()
                self.active[endpoint_id] += 1
                future = pool.submit(self.attempt, task)
                self.futures[future] = task
                if slow:
                    self.slow_futures.add(future)
                progressed = True
            # rotate so the next pass starts with another endpoint
            if self.queues:
                first = next(iter(self.queues))
                self.queues[first] = self.queues.pop(first)

    def attempt(self, task: DeliveryTask) -> dict[str, Any]:
        """One POST (runs in a worker thread). Never raises: every failure is a failed attempt."""
        endpoint, message = task.endpoint, task.message
        at = iso(self.clock())
        started = time.monotonic()
        try:
            body = message.body()
            headers = message.headers(endpoint, self.issuer)
            result = self.sender(
                endpoint.webhook_url,
                body,
                headers,
                self.policy.timeout_seconds,
                addresses=message.organization.addresses,
            )
        except Exception as exc:
            result = HttpResult(None, elapsed_ms(started), error=f"{type(exc).__name__}: {exc}"[:300])
        return self.policy.attempt_log(result, at, endpoint.webhook_url)

    def finish(self, future: Future[dict[str, Any]]) -> None:
        task = self.futures.pop(future)
        self.slow_futures.discard(future)
        endpoint_id = task.endpoint.lago_id
        self.active[endpoint_id] -= 1
        attempt = future.result()
        if attempt["duration_ms"] >= self.policy.timeout_seconds * 500:
            self.slow.add(endpoint_id)
        message = task.message
        delivery = message.deliveries[endpoint_id]
        self.policy.record_attempt(delivery, attempt, seed=f"{message.entry.message_id}#{endpoint_id}")
        self.report.attempts += 1
        if attempt["outcome"] == "succeeded":
            self.report.succeeded_attempts += 1
        else:
            self.report.failed_attempts += 1
        logger.info(
            "webhook attempt",
            extra={
                "message_id": message.entry.message_id,
                "organization_id": message.entry.organization_id,
                "webhook_type": message.entry.webhook_type,
                "endpoint_id": endpoint_id,
                "endpoint_host": urlsplit(task.endpoint.webhook_url).hostname,
                "attempt": delivery["round_attempts"],
                "outcome": attempt["outcome"],
                "http_status": attempt["http_status"],
                "duration_ms": attempt["duration_ms"],
                "error": attempt["error"],
                "delivery_status": delivery["status"],
            },
        )
        message.outstanding -= 1
        if message.outstanding == 0:
            self.complete(message)

    # -- recording -----------------------------------------------------------------------------------
    def complete(self, message: ClaimedMessage) -> None:
        """Hand the message back: due again at its earliest pending delivery, or finished."""
        self.open.pop(message.entry.message_id, None)
        outcome = message_outcome(message.entry, message.deliveries, self.clock())
        if outcome.status == PENDING:
            self.report.retrying += 1
        elif outcome.status == FAILED:
            self.report.failed += 1
        else:
            self.report.delivered += 1
        self.saves.append(self.store.submit(self.save, message.entry, message.deliveries, outcome))

    def save(
        self, entry: OutboxEntry, deliveries: dict[str, dict[str, Any]], outcome: MessageOutcome
    ) -> None:
        """Write a message's progress (in a worker thread, so recording never holds up deliveries)."""
        try:
            kept = webhook_outbox.save_progress(
                entry,
                self.report.run_id,
                status=outcome.status,
                deliveries=deliveries,
                next_attempt_at=outcome.next_attempt_at,
                finished_at=outcome.finished_at,
                expires_at=outcome.expires_at,
                failure=outcome.failure,
            )
        except errors.TransientFailure:
            # The lease runs out and another run takes the message over: nothing is lost.
            logger.exception("could not record webhook progress", extra={"message_id": entry.message_id})
            return
        if not kept:
            with self.report_lock:
                self.report.lost_leases += 1
            logger.warning("lost the lease of a webhook message", extra={"message_id": entry.message_id})

    # -- the loop ------------------------------------------------------------------------------------
    def run(self) -> DispatchReport:
        with (
            ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="webhook") as pool,
            ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="webhook-store") as store,
        ):
            self.store = store
            while True:
                accepting = self.accepting()
                if accepting:
                    self.readmit()
                    self.reread()
                    if self.can_read():
                        self.fetch()
                    if self.admitted:
                        self.claim_admitted()
                    self.start(pool)
                if not self.futures and not self.claims:
                    if not accepting or not (
                        self.cursors or self.admitted or self.startable() or self.waiting_entries
                    ):
                        break
                    continue
                running: list[Future[Any]] = [*self.futures, *self.claims]
                # While there is more to read, reading does not wait for deliveries under way: pages of messages
                # all left behind (a hanging endpoint's backlog) claim nothing, and blocking on that endpoint's
                # attempt would hold back the other endpoints' messages on the pages after them.
                reading = accepting and self.can_read()
                done, _ = wait(running, timeout=0 if reading else None, return_when=FIRST_COMPLETED)
                for future in done:
                    if future in self.claims:
                        self.claimed(future)  # type: ignore[arg-type]
                    else:
                        self.finish(future)  # type: ignore[arg-type]
            # Deliveries not started before the deadline stay due: their messages go back for the next run.
            for message in list(self.open.values()):
                self.complete(message)
            for save in self.saves:
                save.result()  # a failure to record is a crash: the leases expire and nothing is lost
        self.report.deferred += len(self.waiting_entries) + len(self.left_behind)
        return self.report


def dispatch_due_messages(
    now: datetime,
    *,
    time_left: Callable[[], float] | None = None,
    policy: DeliveryPolicy | None = None,
    sender: Sender | None = None,
    run_id: str | None = None,
) -> DispatchReport:
    """Deliver every message due at `now`. `time_left()` (seconds) bounds when new deliveries may start:
    a delivery started must be able to finish (timeout) before the function's own timeout."""
    policy = policy or DeliveryPolicy.from_settings()
    remaining = time_left() if time_left else 600.0
    budget = max(remaining - policy.timeout_seconds - 5, remaining * 0.5)
    run = _Run(
        now,
        policy,
        sender or HttpSender(),
        run_id or str(uuid.uuid4()),
        time.monotonic() + budget,
    )
    report = run.run()
    logger.info("webhook dispatch run", extra=report.as_dict())
    return report
