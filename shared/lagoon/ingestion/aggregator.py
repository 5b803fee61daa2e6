"""The aggregator: fold a batch of stream records into the running aggregates, exactly once.

For a batch it makes a handful of batched calls, whatever the number of events (docs/ingestion.md):
1. BatchGetItem the event keys (organization + transaction_id, external_subscription_id) — the dedupe check;
2. resolve the batch's subscriptions (lagoon.ingestion.directory);
3. BatchGetItem the aggregates the new events fall into (and the periods invoicing has closed);
4. BatchWriteItem the new events, one page of event keys per subscription and day, the error and orphan
   lists, and one write per aggregate touched.

Exactly once, under redelivery and a crash at any point:
- *Duplicates.* The event item is written once, with `src` = the stream position (shard/sequence/index) of
  the record that first carried it. A later record with the same (organization, external_subscription_id,
  transaction_id) finds an item with another `src`: a duplicate, never folded (first write wins,
  DECISIONS.md). Within a batch the first occurrence wins.
- *Redelivery.* An event item whose `src` is this very record is ours from an earlier, interrupted attempt:
  not a duplicate. Whether it was folded is decided by the aggregate alone: each aggregate item keeps, per
  shard, the highest sequence number folded into it (`wm`). Events from records at or below it are skipped;
  the others are folded and the watermark moves, in the same item write. Writes may therefore land in any
  order and any subset may be lost: a replay applies exactly what is missing.
- *Single writer.* Batch writes are unconditional. That is safe because one aggregate item belongs to one
  subscription, whose records share a partition key, hence one shard, processed in order by one invocation
  at a time (also with a ParallelizationFactor > 1, which keeps per-key order). The aggregator fails whole
  batches only (a DynamoDB error raises), so a batch's records are never applied out of order.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lagoon.data.usage_keys import (
    MARKER_DRAFT,
    REFRESH_PK,
    aggregate_pk,
    closed_sk,
    days_pk,
    errors_pk,
    event_pk,
    orphans_pk,
    page_pk,
    refresh_sk,
)
from lagoon.data.usage_store import N, S, UsageStore, aggregates_table, events_table, text
from lagoon.domain.events import IncomingEvent, StreamRecord, microseconds_to_datetime
from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.charge_filters import group_key, invalid_filter_keys
from lagoon.engine.folding import fold
from lagoon.engine.metric_definitions import UsageEvent, aggregation_property_error
from lagoon.engine.period_units import AggregationResult, finalize
from lagoon.engine.periods import billing_period_containing
from lagoon.ingestion.directory import ChargeView, Directory, SubscriptionView

STATUS_COUNTED = "counted"
STATUS_UNKNOWN_SUBSCRIPTION = "unknown_subscription"
STATUS_OUTSIDE = "outside_subscription"
STATUS_INVALID_CODE = "invalid_code"
STATUS_NOT_CHARGED = "not_charged"
STATUS_CLOSED = "period_closed"

# events.errors categories (EventsErrorsObject), plus Lagoon's two (docs/ingestion.md).
INVALID_CODE = "invalid_code"
MISSING_AGGREGATION_PROPERTY = "missing_aggregation_property"
INVALID_FILTER_VALUES = "invalid_filter_values"
UNKNOWN_SUBSCRIPTION = "unknown_subscription"
INVALID_EVENT = "invalid_event"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shard_number(shard_id: str) -> str:
    """`shardId-000000000001` → `1` (kept short: it is part of every event item)."""
    digits = shard_id.rsplit("-", 1)[-1]
    return digits.lstrip("0") or "0" if digits.isdigit() else shard_id


@dataclass(frozen=True, slots=True)
class AggregateKey:
    """(organization, subscription, charges period, charge, filter, group): one running aggregate."""

    organization_id: str
    subscription_id: str
    period_from: str
    charge_id: str
    filter_id: str
    group: str

    @property
    def pk(self) -> str:
        return aggregate_pk(self.organization_id, self.subscription_id)

    @property
    def sk(self) -> str:
        return f"{self.period_from}#{self.charge_id}#{self.filter_id}#{self.group}"


@dataclass(slots=True)
class _Occurrence:
    record: StreamRecord
    index: int
    event: IncomingEvent
    shard: str
    seq: int
    source: str
    store_item: bool = False
    status: str = STATUS_COUNTED
    subscription: SubscriptionView | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Target:
    key: AggregateKey
    charge: ChargeView
    timezone: str
    period_to: str
    occurrences: list[_Occurrence] = field(default_factory=list)


@dataclass
class BatchReport:
    """What one batch did (logged by the handler, asserted by tests)."""

    records: int = 0
    events: int = 0
    new_events: int = 0
    duplicates: int = 0
    redelivered: int = 0
    counted: int = 0
    not_counted: int = 0
    rejected: int = 0
    folded: int = 0
    aggregates_written: int = 0
    items_written: int = 0


# -- Extension point: pay-in-advance charges (lagoon.services.invoicing.in_advance_fees) --------------------------
@dataclass(frozen=True, slots=True)
class InAdvanceFold:
    """One event folded into an aggregate of a pay-in-advance charge: the units before and after it."""

    organization_id: str
    subscription: SubscriptionView
    key: AggregateKey
    event: IncomingEvent
    period_from: datetime
    period_to: datetime
    before: AggregationResult
    after: AggregationResult


InAdvanceHook = Callable[[Sequence[InAdvanceFold]], None]
"""Called with a batch's pay-in-advance folds *before* the batch's aggregates are written. Exactly once rests
on that order: a replay folds again only what no aggregate recorded, from the same state, so the hook must
write under keys derived from the fold (subscription, charge, filter, group, transaction_id), idempotently."""


class Aggregator:
    """Applies batches of stream records. Keep one per container: its directory caches the catalog."""

    def __init__(
        self,
        store: UsageStore | None = None,
        directory: Directory | None = None,
        in_advance_hooks: Sequence[InAdvanceHook] = (),
    ) -> None:
        """`in_advance_hooks`: what bills pay-in-advance folds (functions/aggregator injects the usage
        service's; none by default, so ingestion does not depend on invoicing)."""
        self.store = store or UsageStore()
        self.directory = directory or Directory(self.store)
        self.in_advance_hooks = list(in_advance_hooks)
        self._in_advance: list[InAdvanceFold] = []
        self._drafts: dict[AggregateKey, str] = {}

    def apply(self, records: Sequence[StreamRecord]) -> BatchReport:
        report = BatchReport(records=len(records))
        self._in_advance = []
        self._drafts = {}
        occurrences = self._occurrences(records, report)
        candidates = self._dedupe(occurrences, report)
        self._resolve(candidates)
        targets = self._targets(candidates)
        aggregates = self._read_aggregates(targets, candidates)
        items: list[tuple[str, dict[str, Any]]] = []
        items.extend(self._event_items(candidates))
        items.extend(self._page_items(candidates))
        items.extend(self._error_items(records, candidates))
        items.extend(self._orphan_items(candidates))
        items.extend(self._refresh_items(targets))
        aggregate_items = self._fold(targets, aggregates, report)
        items.extend(aggregate_items)
        report.aggregates_written = len(aggregate_items)
        report.items_written = len(items)
        for occurrence in candidates:
            if occurrence.status == STATUS_COUNTED:
                report.counted += 1
            else:
                report.not_counted += 1
        if self._in_advance:  # pay-in-advance fees land before the watermarks that would skip them
            for hook in self.in_advance_hooks:
                hook(self._in_advance)
        self.store.batch_write(items)
        return report

    # -- 1. dedupe -------------------------------------------------------------------------------
    def _occurrences(self, records: Sequence[StreamRecord], report: BatchReport) -> list[_Occurrence]:
        found: list[_Occurrence] = []
        for record in records:
            shard = shard_number(record.shard_id)
            seq = int(record.sequence_number)
            report.rejected += len(record.rejected)
            for index, event in enumerate(record.events):
                found.append(_Occurrence(record, index, event, shard, seq, f"{shard}/{seq}/{index}"))
        report.events = len(found)
        return found

    def _dedupe(self, occurrences: list[_Occurrence], report: BatchReport) -> list[_Occurrence]:
        """The occurrences to process: new events, and ours from an interrupted attempt (not duplicates)."""
        first: dict[tuple[str, str, str], _Occurrence] = {}
        for occurrence in occurrences:
            key = (
                occurrence.record.organization_id,
                occurrence.event.transaction_id,
                occurrence.record.external_subscription_id,
            )
            if key in first:
                report.duplicates += 1
            else:
                first[key] = occurrence
        table = events_table()
        existing = self.store.batch_get(
            ((table, (event_pk(org, tx), sub)) for org, tx, sub in first), projection=("src", "st")
        )
        candidates: list[_Occurrence] = []
        for (org, tx, sub), occurrence in first.items():
            item = existing.get((table, (event_pk(org, tx), sub)))
            if item is None:
                occurrence.store_item = True
                report.new_events += 1
            elif text(item, "src") == occurrence.source:
                report.redelivered += 1
            elif occurrence.record.replay and text(item, "st") == STATUS_UNKNOWN_SUBSCRIPTION:
                occurrence.store_item = True  # a stored orphan, now claimed by its subscription
            else:
                report.duplicates += 1
                continue
            candidates.append(occurrence)
        return candidates

    # -- 2. resolve ------------------------------------------------------------------------------
    def _resolve(self, candidates: list[_Occurrence]) -> None:
        pairs = {(o.record.organization_id, o.record.external_subscription_id) for o in candidates}
        codes_by_org: dict[str, set[str]] = {}
        for occurrence in candidates:
            codes_by_org.setdefault(occurrence.record.organization_id, set()).add(occurrence.event.code)
        # The subscriptions first: reading them also drops the catalog cached for an organization whose
        # catalog version moved. A metric created since the cache was filled reloads the metrics once.
        subscriptions = self.directory.subscriptions(pairs) if pairs else {}
        metrics = {org: self.directory.metrics(org, codes=codes) for org, codes in codes_by_org.items()}
        for occurrence in candidates:
            org = occurrence.record.organization_id
            metric_codes = metrics[org]
            if occurrence.event.code not in metric_codes:
                occurrence.errors.append(INVALID_CODE)
            views = subscriptions.get((org, occurrence.record.external_subscription_id))
            if views is None:
                occurrence.status = STATUS_UNKNOWN_SUBSCRIPTION
                occurrence.errors.append(UNKNOWN_SUBSCRIPTION)
                continue
            moment = occurrence.event.timestamp
            chosen = next((v for v in views if v.covers_exactly(moment)), None) or next(
                (v for v in views if v.covers_day(moment)), None
            )
            if chosen is None:
                occurrence.status = STATUS_OUTSIDE
                continue
            occurrence.subscription = chosen
            if INVALID_CODE in occurrence.errors:
                occurrence.status = STATUS_INVALID_CODE

    # -- 3. targets and current aggregates ------------------------------------------------------------
    def _targets(self, candidates: list[_Occurrence]) -> dict[AggregateKey, _Target]:
        targets: dict[AggregateKey, _Target] = {}
        for occurrence in candidates:
            view = occurrence.subscription
            if view is None or view.terms is None or occurrence.status != STATUS_COUNTED:
                continue
            charges = view.plan.charges_by_code.get(occurrence.event.code, ())
            if not charges:
                occurrence.status = STATUS_NOT_CHARGED
                continue
            event = occurrence.event
            usage = _usage_event(event)
            period = billing_period_containing(view.terms, usage.timestamp)
            period_from = _iso(period.charges_from_datetime)
            period_to = _iso(period.charges_to_datetime)
            for charge in charges:
                problem = aggregation_property_error(charge.metric, usage)
                if problem and MISSING_AGGREGATION_PROPERTY not in occurrence.errors:
                    occurrence.errors.append(MISSING_AGGREGATION_PROPERTY)
                invalid = invalid_filter_keys(charge.metric, event.properties)
                if invalid and INVALID_FILTER_VALUES not in occurrence.errors:
                    occurrence.errors.append(INVALID_FILTER_VALUES)
                group = ""
                if charge.group_keys:
                    group = json.dumps(group_key(event.properties, charge.group_keys), separators=(",", ":"))
                for filter_id in charge.filter_ids(event.properties):
                    key = AggregateKey(
                        occurrence.record.organization_id,
                        view.lago_id,
                        period_from,
                        charge.charge_id,
                        filter_id,
                        group,
                    )
                    target = targets.get(key)
                    if target is None:
                        target = targets[key] = _Target(key, charge, view.timezone, period_to)
                    target.occurrences.append(occurrence)
        return targets

    def _read_aggregates(
        self, targets: dict[AggregateKey, _Target], candidates: list[_Occurrence]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        if not targets:
            return {}
        table = aggregates_table()
        keys = [(table, (key.pk, key.sk)) for key in targets]
        keys += [(table, (key.pk, closed_sk(key.period_from))) for key in targets]
        found = {k: item for (_, k), item in self.store.batch_get(keys).items()}
        closed = set()
        for key in targets:
            marker = found.get((key.pk, closed_sk(key.period_from)))
            if marker is None:
                continue
            if text(marker, "ms") == MARKER_DRAFT:
                self._drafts[key] = text(marker, "inv") or ""
            else:
                closed.add(key)
        for key in closed:
            for occurrence in targets.pop(key).occurrences:
                occurrence.status = STATUS_CLOSED
        # An event in a closed period counts nowhere, not even under its other charges.
        for target in targets.values():
            target.occurrences = [o for o in target.occurrences if o.status == STATUS_COUNTED]
        return found

    # -- 4. fold ---------------------------------------------------------------------------------
    def _fold(
        self,
        targets: dict[AggregateKey, _Target],
        current: dict[tuple[str, str], dict[str, Any]],
        report: BatchReport,
    ) -> list[tuple[str, dict[str, Any]]]:
        table = aggregates_table()
        now = _iso(datetime.now(UTC))
        items: list[tuple[str, dict[str, Any]]] = []
        for key, target in targets.items():
            item = current.get((key.pk, key.sk))
            watermarks: dict[str, str] = json.loads(text(item, "wm") or "{}") if item else {}
            state = (
                AggregationState.from_dict(json.loads(text(item, "st") or "{}"))
                if item
                else new_state(
                    target.charge.metric,
                    timezone=target.timezone,
                    keep_event_values=target.charge.keep_event_values,
                )
            )
            folded = 0
            in_advance = target.charge.pay_in_advance and bool(self.in_advance_hooks)
            for occurrence in target.occurrences:
                applied = watermarks.get(occurrence.shard)
                if applied is not None and occurrence.seq <= int(applied):
                    continue  # folded by an earlier attempt of this batch
                if in_advance:
                    self._fold_in_advance(target, state, occurrence)
                else:
                    fold(state, _usage_event(occurrence.event))
                folded += 1
            if not folded:
                continue
            report.folded += folded
            for occurrence in target.occurrences:
                applied = watermarks.get(occurrence.shard)
                if applied is None or occurrence.seq > int(applied):
                    watermarks[occurrence.shard] = str(occurrence.seq)
            items.append(
                (
                    table,
                    {
                        "pk": S(key.pk),
                        "sk": S(key.sk),
                        "st": S(json.dumps(state.to_dict(), separators=(",", ":"))),
                        "wm": S(json.dumps(watermarks, separators=(",", ":"))),
                        "ch": S(key.charge_id),
                        "m": S(target.charge.billable_metric_id),
                        "f": S(key.filter_id),
                        "g": S(key.group or "-"),
                        "pf": S(key.period_from),
                        "pt": S(target.period_to),
                        "u": S(now),
                    },
                )
            )
        return items

    def _fold_in_advance(self, target: _Target, state: AggregationState, occurrence: _Occurrence) -> None:
        period_from = datetime.fromisoformat(target.key.period_from.replace("Z", "+00:00"))
        period_to = datetime.fromisoformat(target.period_to.replace("Z", "+00:00"))
        metric = target.charge.metric
        before = finalize(state, period_from, period_to, metric=metric)
        fold(state, _usage_event(occurrence.event))
        after = finalize(state, period_from, period_to, metric=metric)
        assert occurrence.subscription is not None
        self._in_advance.append(
            InAdvanceFold(
                occurrence.record.organization_id,
                occurrence.subscription,
                target.key,
                occurrence.event,
                period_from,
                period_to,
                before,
                after,
            )
        )

    # -- 5. the records of the events ------------------------------------------------------------
    def _refresh_items(self, targets: dict[AggregateKey, _Target]) -> list[tuple[str, dict[str, Any]]]:
        """Flag the drafts whose periods this batch brings events to — also on a redelivery that folds
        nothing anew, since the attempt that folded them may have stopped before its flag was written."""
        table = aggregates_table()
        flagged: dict[str, dict[str, Any]] = {}
        for key, invoice_id in self._drafts.items():
            target = targets.get(key)
            if not invoice_id or target is None or not target.occurrences:
                continue
            sk = refresh_sk(key.organization_id, invoice_id)
            stamp = f"{_iso(datetime.now(UTC))}#{target.occurrences[0].source}"
            flagged[sk] = {"pk": S(REFRESH_PK), "sk": S(sk), "at": S(stamp)}
        return [(table, item) for item in flagged.values()]

    def _event_items(self, candidates: list[_Occurrence]) -> list[tuple[str, dict[str, Any]]]:
        table = events_table()
        items: list[tuple[str, dict[str, Any]]] = []
        for occurrence in candidates:
            if not occurrence.store_item:
                continue
            event = occurrence.event
            item: dict[str, Any] = {
                "pk": S(event_pk(occurrence.record.organization_id, event.transaction_id)),
                "sk": S(occurrence.record.external_subscription_id),
                "c": S(event.code),
                "t": N(event.timestamp_us),
                "r": N(occurrence.record.arrived_ms),
                "src": S(occurrence.source),
                "st": S(occurrence.status),
            }
            if event.properties:
                item["p"] = S(json.dumps(event.properties, separators=(",", ":"), default=str))
            if event.precise_total_amount_cents is not None:
                item["a"] = S(event.precise_total_amount_cents)
            if occurrence.subscription is not None:
                item["ls"] = S(occurrence.subscription.lago_id)
                item["lc"] = S(occurrence.subscription.lago_customer_id)
            items.append((table, item))
        return items

    def _page_items(self, candidates: list[_Occurrence]) -> list[tuple[str, dict[str, Any]]]:
        """One page of event keys per (organization, subscription, UTC day) of this batch, and the days."""
        pages: dict[tuple[str, str, str], list[_Occurrence]] = defaultdict(list)
        for occurrence in candidates:
            day = microseconds_to_datetime(occurrence.event.timestamp_us).strftime("%Y-%m-%d")
            pages[
                (occurrence.record.organization_id, occurrence.record.external_subscription_id, day)
            ].append(occurrence)
        table = events_table()
        items: list[tuple[str, dict[str, Any]]] = []
        days: set[tuple[str, str]] = set()
        for (org, sub, day), occurrences in pages.items():
            days.add((org, day))
            codes: dict[str, int] = {}
            entries = [
                [o.event.timestamp_us, codes.setdefault(o.event.code, len(codes)), o.event.transaction_id]
                for o in occurrences
            ]
            body = json.dumps({"c": list(codes), "e": entries}, separators=(",", ":")).encode()
            items.append(
                (
                    table,
                    {
                        "pk": S(page_pk(org, day)),
                        "sk": S(f"{sub}#{occurrences[0].source}"),
                        "s": S(sub),
                        "e": {"B": zlib.compress(body, 6)},
                    },
                )
            )
        for org, day in days:
            items.append((table, {"pk": S(days_pk(org)), "sk": S(day)}))
        return items

    def _error_items(
        self, records: Sequence[StreamRecord], candidates: list[_Occurrence]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Invalid events by category, per (organization, subscription), filed under the hour the first
        record of the batch arrived (so a redelivery files them under the same key)."""
        grouped: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        first_source: dict[tuple[str, str], str] = {}
        for occurrence in candidates:
            pair = (occurrence.record.organization_id, occurrence.record.external_subscription_id)
            for category in occurrence.errors:
                grouped[pair][category].append(occurrence.event.transaction_id)
                first_source.setdefault(pair, occurrence.source)
        for record in records:
            pair = (record.organization_id, record.external_subscription_id)
            for transaction_id, _reason in record.rejected:
                grouped[pair][INVALID_EVENT].append(transaction_id)
                first_source.setdefault(pair, f"{shard_number(record.shard_id)}/{record.sequence_number}/r")
        if not grouped:
            return []
        hour = microseconds_to_datetime(records[0].arrived_ms * 1000).strftime("%Y-%m-%dT%H")
        table = events_table()
        return [
            (
                table,
                {
                    "pk": S(errors_pk(hour)),
                    "sk": S(f"{org}#{sub}#{first_source[(org, sub)]}"),
                    "o": S(org),
                    "b": S(json.dumps(categories, separators=(",", ":"))),
                },
            )
            for (org, sub), categories in grouped.items()
        ]

    def _orphan_items(self, candidates: list[_Occurrence]) -> list[tuple[str, dict[str, Any]]]:
        orphans: dict[tuple[str, str], list[_Occurrence]] = defaultdict(list)
        for occurrence in candidates:
            if occurrence.status == STATUS_UNKNOWN_SUBSCRIPTION:
                orphans[
                    (occurrence.record.organization_id, occurrence.record.external_subscription_id)
                ].append(occurrence)
        table = events_table()
        return [
            (
                table,
                {
                    "pk": S(orphans_pk(org, sub)),
                    "sk": S(occurrences[0].source),
                    "b": S(json.dumps([o.event.transaction_id for o in occurrences], separators=(",", ":"))),
                },
            )
            for (org, sub), occurrences in orphans.items()
        ]


def _usage_event(event: IncomingEvent) -> UsageEvent:
    amount = event.precise_total_amount_cents
    return UsageEvent(
        transaction_id=event.transaction_id,
        timestamp=event.timestamp,
        properties=event.properties,
        precise_total_amount_cents=None if amount is None else Decimal(amount),
    )


_default: list[Aggregator] = []


def default_aggregator(in_advance_hooks: Sequence[InAdvanceHook] = ()) -> Aggregator:
    """The container's aggregator (created on first use, never at import time, with the hooks first given)."""
    if not _default:
        _default.append(Aggregator(in_advance_hooks=in_advance_hooks))
    return _default[0]


def reset_default_aggregator() -> None:
    _default.clear()
