"""Pay-in-advance charges in the aggregator: the folds it hands to its hooks (the extension point
lagoon.services.invoicing.in_advance_fees plugs into), and the units those folds are priced on.

An aggregate holds its period's own events; a charge on a recurring metric also carries what the earlier
periods — and the subscriptions a plan change replaced — left active. lago-api prices a pay-in-advance event
against all of it (`Fees::CreatePayInAdvanceService`: a recurring metric is aggregated without the period's
lower bound, across the external subscription id; `UniqueCountService#compute_pay_in_advance_aggregation`
bills nothing for a value already active): a seat carried from January and added again in February costs
nothing, and February's units climb a graduated charge's tiers from January's level, not from zero.
`CarriedOpenings` gives each such fold that opening (lagoon.engine.carry), read once per batch and subscription.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from lagoon.data.aggregates import AggregateKey, read_bucket_periods
from lagoon.data.usage_store import UsageStore
from lagoon.domain.events import IncomingEvent
from lagoon.engine.aggregation_state import AggregationState
from lagoon.engine.carry import Bucket, opening_state
from lagoon.engine.folding import merge
from lagoon.engine.period_units import AggregationResult
from lagoon.ingestion.directory import ChargeView, Directory, SubscriptionView
from lagoon.ingestion.inheritance import inherited_buckets


@dataclass(frozen=True, slots=True)
class InAdvanceFold:
    """One event folded into an aggregate of a pay-in-advance charge: the units before and after it (on top of
    what the bucket carries into its period)."""

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


def _bucket(key: AggregateKey) -> Bucket:
    return (key.charge_id, key.filter_id, key.group or "-")


class CarriedOpenings:
    """What the batch's buckets of pay-in-advance charges on recurring metrics carry into their periods.

    Read before anything of the batch is written: per subscription concerned, one Query of its aggregates up
    to the latest period the batch folds into, plus what it inherited from a plan change
    (lagoon.ingestion.inheritance). A replay reads the same, except the aggregates an interrupted attempt
    wrote — whose events it then skips: each event is priced on the units before it either way. Periods
    folded earlier in the batch count with their new events (`folded`), so fold the periods in order."""

    def __init__(
        self,
        store: UsageStore,
        directory: Directory,
        targets: Iterable[tuple[AggregateKey, ChargeView, SubscriptionView | None]],
    ) -> None:
        wanted: dict[str, tuple[AggregateKey, SubscriptionView]] = {}
        for key, charge, subscription in targets:
            if not (charge.pay_in_advance and charge.metric.recurring and subscription is not None):
                continue
            latest = wanted.get(key.pk)
            if latest is None or key.period_from > latest[0].period_from:
                wanted[key.pk] = (key, subscription)
        self._periods: dict[str, dict[Bucket, dict[str, AggregationState]]] = {}
        self._inherited: dict[str, dict[Bucket, AggregationState]] = {}
        for pk, (key, subscription) in wanted.items():
            buckets = read_bucket_periods(
                key.organization_id, key.subscription_id, key.period_from, with_earlier=True, store=store
            )
            self._periods[pk] = defaultdict(
                dict, {bucket: dict(states) for bucket, states in buckets.items()}
            )
            charges = subscription.plan.recurring_buckets()
            self._inherited[pk] = inherited_buckets(
                key.organization_id, subscription.previous_id, charges, store=store, directory=directory
            )

    def priced_state(self, key: AggregateKey, state: AggregationState) -> AggregationState:
        """The state the key's events are priced on: `state` (the period's own events) opened with what its
        bucket carries — a new state then, folded beside `state` — or `state` itself when nothing is."""
        periods = self._periods.get(key.pk)
        if periods is None:
            return state
        bucket = _bucket(key)
        opening = opening_state(periods[bucket].items(), key.period_from, self._inherited[key.pk].get(bucket))
        return state if opening is None else merge(opening, state)

    def folded(self, key: AggregateKey, state: AggregationState) -> None:
        """The key's state after this batch's events: what its bucket's later periods open with."""
        periods = self._periods.get(key.pk)
        if periods is not None:
            periods[_bucket(key)][key.period_from] = state
