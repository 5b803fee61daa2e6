"""The aggregator: fold a batch of stream records into the running aggregates, exactly once.

For a batch it makes a handful of batched calls, whatever the number of events (docs/ingestion.md):
1. BatchGetItem the event keys (organization + transaction_id, external_subscription_id) — the dedupe check;
2. resolve the batch's subscriptions (lagoon.ingestion.directory);
3. BatchGetItem the aggregates the new events fall into (and the periods invoicing has closed);
4. BatchWriteItem the new events, one page of event keys per subscription and day, the error and orphan
   lists, and one write per aggregate touched (the items: lagoon.data.usage_items, lagoon.data.aggregates).

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
- *Waiting events.* Events no started subscription covers yet (none exists, or a pending one will) are listed
  for a replay (lagoon.ingestion.resolution); a replay claims each once, and after its writes the batch reads
  the subscriptions of its waiting events again, replaying those a change moved meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from lagoon.data import event_stream
from lagoon.data.aggregates import (
    AggregateKey,
    BatchAggregates,
    StoredAggregate,
    aggregate_write,
    draft_refresh_writes,
    fits_in_an_item,
    read_batch_aggregates,
)
from lagoon.data.usage_items import read_event_marks
from lagoon.data.usage_keys import period_key, period_moment, shard_number, stream_position
from lagoon.data.usage_store import UsageStore, Write
from lagoon.domain.events import STATUS_UNKNOWN_SUBSCRIPTION, WAITING_STATUSES, IncomingEvent, StreamRecord
from lagoon.engine.aggregation_state import AggregationState, new_state
from lagoon.engine.charge_filters import group_key, invalid_filter_keys
from lagoon.engine.folding import fold
from lagoon.engine.metric_definitions import UsageEvent, aggregation_property_error
from lagoon.engine.period_units import fold_in_advance
from lagoon.engine.periods import billing_period_containing, charges_period_days
from lagoon.ingestion.directory import ChargeView, Directory
from lagoon.ingestion.in_advance import CarriedOpenings, InAdvanceFold, InAdvanceHook
from lagoon.ingestion.occurrences import (
    AGGREGATE_TOO_LARGE,
    INVALID_CODE,
    INVALID_FILTER_VALUES,
    MISSING_AGGREGATION_PROPERTY,
    UNKNOWN_SUBSCRIPTION,
    Occurrence,
    error_items,
    event_items,
    page_items,
    waiting_items,
)
from lagoon.ingestion.resolution import STATUS_COUNTED, moved_events, resolve
from lagoon.observability import logger

STATUS_INVALID_CODE = "invalid_code"
STATUS_NOT_CHARGED = "not_charged"
STATUS_CLOSED = "period_closed"


@dataclass(slots=True)
class _Target:
    key: AggregateKey
    charge: ChargeView
    timezone: str
    period_to: str
    period_days: int  # of the whole charges interval: prorated pay-in-advance fees divide by them
    occurrences: list[Occurrence] = field(default_factory=list)


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
        aggregates = self._read_aggregates(targets)
        aggregate_items = self._fold(targets, aggregates, report)  # first: it may report events
        items: list[Write] = []
        items.extend(event_items(candidates))
        items.extend(page_items(candidates))
        items.extend(error_items(records, candidates))
        items.extend(waiting_items(candidates))
        items.extend(self._refresh_items(targets))
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
        self._replay_moved(candidates)
        return report

    # -- 1. dedupe -------------------------------------------------------------------------------
    def _occurrences(self, records: Sequence[StreamRecord], report: BatchReport) -> list[Occurrence]:
        found: list[Occurrence] = []
        for record in records:
            shard = shard_number(record.shard_id)
            seq = int(record.sequence_number)
            report.rejected += len(record.rejected)
            for index, event in enumerate(record.events):
                found.append(Occurrence(record, index, event, shard, seq, stream_position(shard, seq, index)))
        report.events = len(found)
        return found

    def _dedupe(self, occurrences: list[Occurrence], report: BatchReport) -> list[Occurrence]:
        """The occurrences to process: new events, and ours from an interrupted attempt (not duplicates)."""
        first: dict[tuple[str, str, str], Occurrence] = {}
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
        marks = read_event_marks(first, self.store)
        candidates: list[Occurrence] = []
        for key, occurrence in first.items():
            mark = marks.get(key)
            if mark is None:
                occurrence.store_item = True
                report.new_events += 1
            elif mark.source == occurrence.source:
                report.redelivered += 1
                # Resolved again: if its subscription came meanwhile, its item must stop waiting for it, or a
                # replay would claim the event a second time.
                occurrence.store_item = mark.status in WAITING_STATUSES
            elif occurrence.record.replay and mark.status in WAITING_STATUSES:
                occurrence.store_item = True  # a waiting event, now claimed by its subscription
            else:
                report.duplicates += 1
                continue
            candidates.append(occurrence)
        return candidates

    # -- 2. resolve ------------------------------------------------------------------------------
    def _resolve(self, candidates: list[Occurrence]) -> None:
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
            status, chosen = resolve(views, occurrence.event.timestamp)
            if chosen is None:
                occurrence.status = status
                if status == STATUS_UNKNOWN_SUBSCRIPTION:
                    occurrence.errors.append(UNKNOWN_SUBSCRIPTION)
                continue
            occurrence.subscription = chosen
            if INVALID_CODE in occurrence.errors:
                occurrence.status = STATUS_INVALID_CODE

    # -- 3. targets and current aggregates ------------------------------------------------------------
    def _targets(self, candidates: list[Occurrence]) -> dict[AggregateKey, _Target]:
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
            period_from = period_key(period.charges_from_datetime)
            period_to = period_key(period.charges_to_datetime)
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
                        days = charges_period_days(view.terms, period.charges_from_datetime)
                        target = targets[key] = _Target(key, charge, view.timezone, period_to, days)
                    target.occurrences.append(occurrence)
        return targets

    def _read_aggregates(self, targets: dict[AggregateKey, _Target]) -> BatchAggregates:
        found = read_batch_aggregates(targets, self.store)
        closed = set()
        for key in targets:
            marker = found.marker(key)
            if marker is None:
                continue
            if marker.draft:
                self._drafts[key] = marker.invoice_id
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
        current: BatchAggregates,
        report: BatchReport,
    ) -> list[Write]:
        now = datetime.now(UTC)
        items: list[Write] = []
        hooked = bool(self.in_advance_hooks)
        chosen = [(k, t.charge, t.occurrences[0].subscription) for k, t in targets.items() if t.occurrences]
        carried = CarriedOpenings(self.store, self.directory, chosen if hooked else ())
        for key, target in sorted(targets.items(), key=lambda entry: entry[0].period_from):
            aggregate = current.aggregate(key) or StoredAggregate(
                new_state(
                    target.charge.metric,
                    timezone=target.timezone,
                    keep=target.charge.keep(key.filter_id),
                ),
                {},
            )
            state, watermarks = aggregate.state, aggregate.watermarks
            folded = 0
            in_advance = target.charge.pay_in_advance and hooked
            priced = carried.priced_state(key, state) if in_advance else state
            for occurrence in target.occurrences:
                applied = watermarks.get(occurrence.shard)
                if applied is not None and occurrence.seq <= applied:
                    continue  # folded by an earlier attempt of this batch
                if in_advance:
                    self._fold_in_advance(target, state, priced, occurrence)
                else:
                    fold(state, _usage_event(occurrence.event))
                folded += 1
            if not folded:
                continue
            for occurrence in target.occurrences:
                applied = watermarks.get(occurrence.shard)
                if applied is None or occurrence.seq > applied:
                    watermarks[occurrence.shard] = occurrence.seq
            metric_id, period_to = target.charge.billable_metric_id, target.period_to
            item = aggregate_write(
                key, aggregate, billable_metric_id=metric_id, period_to=period_to, updated_at=now
            )
            if not fits_in_an_item(item):
                self._refuse_too_large(key, target)
                continue
            carried.folded(key, state)
            report.folded += folded
            items.append(item)
        return items

    def _refuse_too_large(self, key: AggregateKey, target: _Target) -> None:
        """An aggregate these events would grow past DynamoDB's item size (a unique count of very many
        distinct values): DynamoDB would refuse it at every attempt and stall the shard. Its stored state
        stays as it is, the events are reported (`aggregate_too_large`) and not billed there, nor in advance;
        a replay refuses them again, so nothing is counted twice."""
        self._in_advance = [fold for fold in self._in_advance if fold.key != key]
        for occurrence in target.occurrences:
            if AGGREGATE_TOO_LARGE not in occurrence.errors:
                occurrence.errors.append(AGGREGATE_TOO_LARGE)
        logger.error(
            "aggregate too large: events not counted",
            extra={"aggregate": f"{key.pk}/{key.sk}", "events": len(target.occurrences)},
        )

    def _fold_in_advance(
        self, target: _Target, state: AggregationState, priced: AggregationState, occurrence: Occurrence
    ) -> None:
        """Fold into `state` (and `priced`, what the bucket carries opened with it) and price on `priced`."""
        period_from = period_moment(target.key.period_from)
        period_to = period_moment(target.period_to)
        metric, days = target.charge.metric, target.period_days
        event = _usage_event(occurrence.event)
        before, after = fold_in_advance(
            priced, event, period_from, period_to, metric=metric, period_days=days
        )
        if priced is not state:
            fold(state, event)
            state.peak = priced.peak  # the highest level, as measured with what the bucket carries
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
    def _refresh_items(self, targets: dict[AggregateKey, _Target]) -> list[Write]:
        """Flag the drafts whose periods this batch brings events to — also on a redelivery that folds
        nothing anew, since the attempt that folded them may have stopped before its flag was written."""
        flags: list[tuple[str, str, datetime, str]] = []
        for key, invoice_id in self._drafts.items():
            target = targets.get(key)
            if not invoice_id or target is None or not target.occurrences:
                continue
            flags.append((key.organization_id, invoice_id, datetime.now(UTC), target.occurrences[0].source))
        return draft_refresh_writes(flags)

    def _replay_moved(self, candidates: list[Occurrence]) -> None:
        """After the batch's writes, the subscriptions of its waiting events are read again: an event a
        lifecycle change moved meanwhile (its replay may have read the waiting list before this batch wrote
        it) is replayed now (lagoon.ingestion.resolution)."""
        waiting = [o for o in candidates if o.status in WAITING_STATUSES]
        if not waiting:
            return
        pairs = {(o.record.organization_id, o.record.external_subscription_id) for o in waiting}
        fresh = self.directory.subscriptions(pairs)
        records = moved_events(
            (
                (o.record.organization_id, o.record.external_subscription_id, o.event, o.status)
                for o in waiting
            ),
            fresh,
        )
        if records:
            event_stream.put_records(records)


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
