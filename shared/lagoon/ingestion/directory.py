"""What the aggregator needs to know about a batch's subscriptions: their life, plan, charges and metrics.

Subscriptions are read fresh for every batch (two BatchGetItem calls: the external_id aliases, then the
subscriptions with their customers), so a termination is honoured by the next batch. Plans, metrics and the
organization's timezone change rarely and are cached per container for `CATALOG_TTL_SECONDS`, and dropped as
soon as the organization's catalog version moves (read with the aliases, in the same BatchGetItem): a plan or
metric edited applies from the next batch on. A metric missing from the cache (created since: a new plan's
charge, an event's code) reloads the metrics at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lagoon import errors
from lagoon.data import catalog
from lagoon.data.organizations import get_organization
from lagoon.data.usage_keys import DEFAULT_FILTER
from lagoon.data.usage_store import UsageStore
from lagoon.domain import subscriptions as subscription_kinds
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.plans import ALL_FILTER_VALUES, Charge, ChargeFilter, Plan
from lagoon.domain.times import parse_iso
from lagoon.engine.carry import ChargeBuckets, filter_signature
from lagoon.engine.charge_filters import filter_value
from lagoon.engine.charge_models import percentage_keep
from lagoon.engine.kept_values import KEEP_EVERY_EVENT_VALUE, KeepSpec
from lagoon.engine.metric_definitions import MetricDefinition, MetricFilter
from lagoon.engine.periods import SubscriptionTerms, local_date, local_midnight
from lagoon.engine.properties import ChargePropertiesError, PercentageProperties

CATALOG_TTL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ChargeView:
    """A charge as the aggregator folds it: its metric, filters and group keys."""

    charge_id: str
    billable_metric_id: str
    metric: MetricDefinition
    filters: tuple[ChargeFilter, ...]
    group_keys: tuple[str, ...]
    keeps: Mapping[str, KeepSpec]
    """What the states of each price (filter lago_id, `DEFAULT_FILTER`) keep of their values."""
    pay_in_advance: bool = False
    """Its events are priced as they are folded (lagoon.ingestion.aggregator.InAdvanceFold)."""

    def keep(self, filter_id: str) -> KeepSpec:
        """What a new state of the price `filter_id` keeps (`aggregation_state.new_state(keep=...)`)."""
        return self.keeps.get(filter_id) or KeepSpec()

    def filter_ids(self, properties: Mapping[str, Any]) -> tuple[str, ...]:
        """The filters an event is aggregated under (the most specific matches), or the default bucket.

        Same rule as `lagoon.engine.charge_filters.matching_charge_filters`, with Lago's `__ALL_FILTER_VALUES__`.
        """
        matched = [f for f in self.filters if _matches(f, properties)]
        if not matched:
            return (DEFAULT_FILTER,)
        if len(matched) == 1:
            return (matched[0].lago_id,)
        keys = {f.lago_id: set(f.values) for f in matched}
        return tuple(
            f.lago_id
            for f in matched
            if not any(keys[f.lago_id] < keys[o.lago_id] for o in matched if o.lago_id != f.lago_id)
        )

    @property
    def buckets(self) -> ChargeBuckets:
        """How it splits its metric's events (what hands a replaced plan's carried units over to it)."""
        filters = tuple((f.lago_id, filter_signature(f.values)) for f in self.filters)
        return ChargeBuckets(
            self.charge_id, self.billable_metric_id, (*filters, (DEFAULT_FILTER, None)), self.group_keys
        )


def _matches(charge_filter: ChargeFilter, properties: Mapping[str, Any]) -> bool:
    for key, allowed in charge_filter.values.items():
        value = properties.get(key)
        if value is None:
            return False
        if allowed != [ALL_FILTER_VALUES] and filter_value(value) not in allowed:
            return False
    return True


@dataclass(frozen=True, slots=True)
class PlanView:
    plan_id: str
    interval: str
    trial_period_days: int
    pay_in_advance: bool
    bill_charges_monthly: bool
    charges_by_code: Mapping[str, tuple[ChargeView, ...]]

    def recurring_buckets(self) -> list[ChargeBuckets]:
        """The buckets' shapes of its charges on recurring metrics: what a plan change hands over."""
        return [c.buckets for views in self.charges_by_code.values() for c in views if c.metric.recurring]


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """One subscription of an external_id, with the terms that decide its billing periods (None while pending:
    a pending subscription only says from when events wait for it, `subscription_at`)."""

    lago_id: str
    lago_customer_id: str
    external_id: str
    status: str
    started_at: datetime | None
    terminated_at: datetime | None
    timezone: str
    plan: PlanView
    terms: SubscriptionTerms | None
    subscription_at: datetime | None = None
    previous_id: str | None = None
    """The subscription it replaced after a plan change, whose recurring units it goes on with."""

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def claims_while_pending(self, moment: datetime) -> bool:
        """Whether an event at `moment` waits for this pending subscription rather than counting on another."""
        return self.pending and self.subscription_at is not None and moment >= self.subscription_at

    def covers_exactly(self, moment: datetime) -> bool:
        """Whether `moment` is in [started_at, terminated_at)."""
        if self.started_at is None or moment < self.started_at:
            return False
        return self.terminated_at is None or moment < self.terminated_at

    def covers_day(self, moment: datetime) -> bool:
        """Whether `moment` is in the subscription's periods (its first period starts at its local start day)."""
        if self.terms is None or self.started_at is None:
            return False
        start = local_midnight(local_date(self.started_at, self.timezone), self.timezone)
        return moment >= start and (self.terminated_at is None or moment < self.terminated_at)


def metric_definition(metric: BillableMetric) -> MetricDefinition:
    return MetricDefinition(
        code=metric.code,
        aggregation_type=metric.aggregation_type,
        field_name=metric.field_name,
        recurring=metric.recurring,
        weighted_interval=metric.weighted_interval,
        rounding_function=metric.rounding_function,
        rounding_precision=metric.rounding_precision,
        filters=tuple(MetricFilter(f.key, tuple(f.values)) for f in metric.filters),
    )


def _kept_values(charge: Charge, metric: BillableMetric) -> dict[str, KeepSpec]:
    """What the states of each price of a charge keep: a percentage price reads per-event values — the first
    N events are free, the earliest ones until a free amount is passed, and each transaction may be clamped
    (`charge_models.percentage_keep`) — each filter by its own properties. Other models keep none."""
    if charge.charge_model != "percentage":
        return {}
    counted = metric.aggregation_type in ("count_agg", "unique_count_agg")
    keeps: dict[str, KeepSpec] = {}
    for charge_filter in (None, *charge.filters):
        filter_id = DEFAULT_FILTER if charge_filter is None else charge_filter.lago_id
        try:
            properties = charge.pricing(charge_filter)
        except ChargePropertiesError:
            # Stored properties are validated; should one no longer be, folding must not stop: keep the
            # earliest values (bounded), and pricing falls back to the totals.
            keeps[filter_id] = KeepSpec(KEEP_EVERY_EVENT_VALUE)
            continue
        assert isinstance(properties, PercentageProperties)
        keeps[filter_id] = percentage_keep(properties, counted_units=counted)
    return keeps


def _group_keys(charge: Charge) -> tuple[str, ...]:
    properties = charge.properties
    keys = properties.get("pricing_group_keys") or properties.get("grouped_by") or []
    return tuple(str(k) for k in keys)


def plan_view(plan: Plan, metrics_by_id: Mapping[str, BillableMetric]) -> PlanView:
    charges: dict[str, list[ChargeView]] = {}
    for charge in plan.charges:
        metric = metrics_by_id.get(charge.billable_metric_id)
        if metric is None:
            continue
        kept = _kept_values(charge, metric)
        charges.setdefault(metric.code, []).append(
            ChargeView(
                charge_id=charge.lago_id,
                billable_metric_id=metric.lago_id,
                metric=metric_definition(metric),
                filters=tuple(charge.filters),
                group_keys=_group_keys(charge),
                keeps=kept,
                pay_in_advance=charge.pay_in_advance,
            )
        )
    return PlanView(
        plan_id=plan.lago_id,
        interval=plan.interval,
        trial_period_days=math.floor(plan.trial_period or 0),
        pay_in_advance=plan.pay_in_advance,
        bill_charges_monthly=bool(plan.bill_charges_monthly),
        charges_by_code={code: tuple(views) for code, views in charges.items()},
    )


def subscription_terms(
    document: Mapping[str, Any], plan: PlanView, timezone: str
) -> SubscriptionTerms | None:
    started = parse_iso(document.get("started_at"))
    if started is None:
        return None
    return SubscriptionTerms(
        interval=plan.interval,
        started_at=started,
        billing_time=document.get("billing_time") or "calendar",
        timezone=timezone,
        trial_period_days=plan.trial_period_days,
        pay_in_advance=plan.pay_in_advance,
        bill_charges_monthly=plan.bill_charges_monthly,
        terminated_at=parse_iso(document.get("terminated_at")),
    )


@dataclass
class _Cached:
    expires: float
    value: Any


class Directory:
    """Resolves (organization, external_subscription_id) pairs for one aggregator batch."""

    def __init__(
        self,
        store: UsageStore,
        *,
        ttl_seconds: float = CATALOG_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._cache: dict[tuple[str, ...], _Cached] = {}
        self._versions: dict[str, str] = {}

    def _cached(self, key: tuple[str, ...], load: Callable[[], Any]) -> Any:
        entry = self._cache.get(key)
        now = self._monotonic()
        if entry is None or entry.expires < now:
            entry = _Cached(now + self._ttl, load())
            self._cache[key] = entry
        return entry.value

    def catalog_version(self, organization_id: str, version: str) -> None:
        """Drop what is cached for the organization when its catalog version moved since it was cached
        (lagoon.data.catalog.bump_version): an edited plan or metric applies from this batch on."""
        if self._versions.get(organization_id) == version:
            return
        if organization_id in self._versions:
            for key in [k for k in self._cache if k[1] == organization_id]:
                del self._cache[key]
        self._versions[organization_id] = version

    def metrics(
        self, organization_id: str, *, codes: Iterable[str] = (), ids: Iterable[str] = ()
    ) -> dict[str, BillableMetric]:
        """The organization's live metrics by code (cached). When one of `codes` or `ids` is not among the cached
        metrics, they are read again: a metric created since the cache was filled is known at once, so its plan's
        charges and its events count. Callers ask once per batch (the aggregator) or per plan loaded, so unknown
        codes cost at most one Query per organization and batch."""
        key = ("metrics", organization_id)

        def load() -> dict[str, BillableMetric]:
            return {m.code: m for m in catalog.METRICS.live(organization_id)}

        found: dict[str, BillableMetric] = self._cached(key, load)
        wanted_codes, wanted_ids = set(codes), set(ids)
        missing = bool(wanted_codes - found.keys()) or bool(wanted_ids - {m.lago_id for m in found.values()})
        if missing:
            found = load()
            self._cache[key] = _Cached(self._monotonic() + self._ttl, found)
        return found

    def timezone(self, organization_id: str) -> str:
        def load() -> str:
            try:
                return get_organization(organization_id).timezone or "UTC"
            except errors.NotFound:
                return "UTC"

        return self._cached(("timezone", organization_id), load)  # type: ignore[no-any-return]

    def _plans(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PlanView]:
        found: dict[tuple[str, str], PlanView] = {}
        missing: list[tuple[str, str]] = []
        now = self._monotonic()
        for org, plan_id in wanted:
            entry = self._cache.get(("plan", org, plan_id))
            if entry is not None and entry.expires >= now:
                found[(org, plan_id)] = entry.value
            else:
                missing.append((org, plan_id))
        if missing:
            documents = self._store.get_documents((org, "plan", plan_id) for org, plan_id in missing)
            for (org, _, plan_id), document in documents.items():
                plan = Plan.model_validate(document)
                needed = [c.billable_metric_id for c in plan.charges]
                metrics_by_id = {m.lago_id: m for m in self.metrics(org, ids=needed).values()}
                view = plan_view(plan, metrics_by_id)
                self._cache[("plan", org, plan_id)] = _Cached(now + self._ttl, view)
                found[(org, plan_id)] = view
        return found

    def predecessors(self, organization_id: str, previous_id: str | None) -> list[tuple[str, PlanView]]:
        """The subscriptions one replaced after plan changes, from `previous_id` (the one it replaced) back:
        (lago_id, plan), oldest first. The walk stops at a plan without charges on recurring metrics: it hands
        no units over. One BatchGetItem per plan change (plans cached as for the batches)."""
        found: list[tuple[str, PlanView]] = []
        while previous_id and all(previous_id != lago_id for lago_id, _ in found):
            key = (organization_id, subscription_kinds.KIND, previous_id)
            document = self._store.get_documents([key]).get(key)
            if document is None:
                break
            plan = self._plans([(organization_id, document["plan_id"])]).get(
                (organization_id, document["plan_id"])
            )
            if plan is None or not plan.recurring_buckets():
                break
            found.append((previous_id, plan))
            previous_id = document.get("previous_subscription_id")
        found.reverse()
        return found

    def subscriptions(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[SubscriptionView]]:
        """The started and pending subscriptions of each (organization, external_id), oldest first; pairs
        without any subscription (not even a pending one) are absent."""
        pairs = list(dict.fromkeys(pairs))
        organizations = list(dict.fromkeys(org for org, _ in pairs))
        aliases = self._store.get_documents(
            [(org, subscription_kinds.ALIAS_KIND, ext) for org, ext in pairs]
            + [(org, catalog.VERSION_KIND, catalog.VERSION_KEY) for org in organizations]
        )
        for org in organizations:
            version = aliases.get((org, catalog.VERSION_KIND, catalog.VERSION_KEY), {}).get("version", "")
            self.catalog_version(org, version)
        keys: list[tuple[str, str, str]] = []
        for (org, _, _), alias in aliases.items():
            for entry in alias.get("subscriptions", [])[-3:]:
                keys.append((org, subscription_kinds.KIND, entry["lago_id"]))
                keys.append((org, "customer", entry["lago_customer_id"]))
        documents = self._store.get_documents(keys) if keys else {}
        subscriptions = {
            (org, key): doc for (org, kind, key), doc in documents.items() if kind == subscription_kinds.KIND
        }
        plans = self._plans({(org, doc["plan_id"]) for (org, _), doc in subscriptions.items()})
        result: dict[tuple[str, str], list[SubscriptionView]] = {}
        for org, ext in pairs:
            found_alias = aliases.get((org, subscription_kinds.ALIAS_KIND, ext))
            if found_alias is None:
                continue
            views: list[SubscriptionView] = []
            for entry in found_alias.get("subscriptions", [])[-3:]:
                document = subscriptions.get((org, entry["lago_id"]))
                if document is None or document.get("status") not in ("active", "terminated", "pending"):
                    continue
                plan = plans.get((org, document["plan_id"]))
                if plan is None:
                    continue
                customer = documents.get((org, "customer", document["lago_customer_id"])) or {}
                timezone = customer.get("timezone") or self.timezone(org)
                views.append(
                    SubscriptionView(
                        lago_id=document["lago_id"],
                        lago_customer_id=document["lago_customer_id"],
                        external_id=ext,
                        status=document["status"],
                        started_at=parse_iso(document.get("started_at")),
                        terminated_at=parse_iso(document.get("terminated_at")),
                        timezone=timezone,
                        plan=plan,
                        terms=subscription_terms(document, plan, timezone),
                        subscription_at=parse_iso(document.get("subscription_at")),
                        previous_id=document.get("previous_subscription_id"),
                    )
                )
            result[(org, ext)] = views
        return result
