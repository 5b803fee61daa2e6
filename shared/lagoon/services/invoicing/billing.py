"""Billing: the hourly run that invoices every subscription whose billing period has ended, terminations,
refresh and finalization of drafts, and overdue invoices.

What a subscription owes at a boundary comes from the engine (`periods.invoice_contents_at`, DECISIONS.md
"Billing"); its usage fees from `lagoon.services.usage.usage.charges_usage` (the running aggregates, never the
events: the cost grows with subscriptions x charges, not events); the totals from
`engine.invoice_math.compute_invoice` (fees → coupons → taxes → credit notes → prepaid credits).

Idempotency and restart (docs/invoicing.md):
- one invoice per customer and billing boundary: its id is derived from (organization, customer, boundary),
  and it is created on the condition that it does not exist;
- each subscription keeps a billing cursor (the last boundary invoiced), advanced in the same transaction
  as the invoice with an expected revision: a boundary is invoiced exactly once, whatever runs overlap;
- what follows the commit (fee documents, period-closed markers) is recorded as an invoice timer in the
  same transaction and done again by the next run if a crash interrupts it (idempotent writes).
A `subscription_at` in the past does not bill past periods: billing starts at the later of the start and
the creation of the subscription.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lagoon import errors
from lagoon.contract.fees import PERIOD_FEE, FeeAmounts, FeeFacts, FeeItem, build_fee, invoiced_fee_taxes
from lagoon.contract.invoices import invoice_applied_taxes
from lagoon.data import entities, invoices as invoice_store
from lagoon.data.lookups import Lookups
from lagoon.data.usage_keys import MARKER_DRAFT, REFRESH_PK, aggregate_pk, closed_sk
from lagoon.data.usage_store import S, UsageStore, aggregates_table
from lagoon.domain import invoice_terms
from lagoon.domain.billable_metrics import BillableMetric
from lagoon.domain.coupons import AppliedCoupon
from lagoon.domain.customers import Customer
from lagoon.domain.invoices import CURSOR_KIND, Invoice, InvoicePart, Period, stable_id
from lagoon.domain.organizations import Organization
from lagoon.domain.plans import Plan
from lagoon.domain.subscriptions import Subscription, iso, parse_iso
from lagoon.domain.taxes import Tax
from lagoon.engine.charges import true_up_amount_cents
from lagoon.engine.invoice_math import (
    AppliedCouponInput,
    FeeInput,
    FeeTotals,
    InvoiceTotals,
    TaxRate,
    compute_invoice,
    minimum_commitment_true_up_cents,
    resolve_fee_taxes,
)
from lagoon.engine.money import currency_exponent, round_cents
from lagoon.engine.periods import (
    BillingPeriod,
    SubscriptionTerms,
    billing_period_containing,
    days_between,
    interval_containing,
    invoice_contents_at,
    local_date,
    next_billing_date,
    subscription_fee_for_period,
)
from lagoon.observability import logger
from lagoon.services import organizations, subscriptions
from lagoon.services.catalog import billable_metrics, coupons, taxes
from lagoon.services.invoicing import invoices, numbering
from lagoon.services.usage import usage

_TINY = timedelta(microseconds=1)
MAX_ATTEMPTS = 5


# --- the catalog as one run sees it ----------------------------------------------------------------------


@dataclass
class Catalog:
    """Per-run cache of an organization's catalog (plans, metrics, taxes, customers)."""

    organization_id: str
    organization: Organization = field(init=False)
    # Organization, customers, subscriptions and plans, shared with the renders of the run's invoices.
    lookups: Lookups = field(init=False)
    _metrics: dict[str, dict[str, BillableMetric]] = field(default_factory=dict)
    _taxes: dict[str, Tax] | None = None
    _applied_coupons: dict[str, list[AppliedCoupon]] | None = None
    _invoices: dict[str, dict[str, Invoice]] | None = None
    _counters: dict[str, invoice_store.Counter] = field(default_factory=dict)
    done_timers: list[str] = field(default_factory=list)
    """Keys of `project` timers whose work is done, deleted together by `drop_done_timers`."""

    def __post_init__(self) -> None:
        self.organization = organizations.get_organization(self.organization_id)
        self.lookups = Lookups(self.organization_id, self.organization)

    def plan(self, plan_id: str) -> Plan:
        return self.lookups.plan(plan_id)

    def metrics(self, plan: Plan) -> dict[str, BillableMetric]:
        if plan.lago_id not in self._metrics:
            self._metrics[plan.lago_id] = usage.plan_metrics(self.organization_id, plan)
        return self._metrics[plan.lago_id]

    def customer(self, customer_id: str) -> Customer:
        return self.lookups.customer(customer_id)

    def timezone(self, customer: Customer) -> str:
        return self.lookups.timezone(customer)

    def taxes(self, codes: Iterable[str]) -> tuple[Tax, ...]:
        if self._taxes is None:
            self._taxes = {t.code: t for t in taxes.list_taxes(self.organization_id)}
        return tuple(self._taxes[code] for code in codes if code in self._taxes)

    def applied_coupons(self, customer_id: str) -> list[AppliedCoupon]:
        """A customer's active applied coupons in application order (all customers read in one query)."""
        if self._applied_coupons is None:
            self._applied_coupons = defaultdict(list)
            active = coupons.list_applied_coupons(
                self.organization_id, coupons.AppliedCouponFilters(status="active")
            )
            for applied in sorted(active, key=lambda a: a.created_at):
                self._applied_coupons[applied.customer_id].append(applied)
        return list(self._applied_coupons.get(customer_id, []))

    def coupons_changed(self) -> None:
        self._applied_coupons = None

    def invoices_of(self, customer_id: str) -> list[Invoice]:
        """A customer's invoices (all customers read in one query, kept up to date by `remember_invoice`)."""
        if self._invoices is None:
            self._invoices = defaultdict(dict)
            for found in invoice_store.all_invoices(self.organization_id):
                self._invoices[found.customer_id][found.lago_id] = found
        return list(self._invoices.get(customer_id, {}).values())

    def remember_invoice(self, invoice: Invoice) -> None:
        if self._invoices is not None:
            self._invoices.setdefault(invoice.customer_id, {})[invoice.lago_id] = invoice

    def invoices_changed(self) -> None:
        self._invoices = None

    def preload_counters(self, customer_ids: list[str]) -> None:
        keys = [invoice_store.customer_counter_key(i) for i in customer_ids]
        self._counters.update(invoice_store.read_counters(self.organization_id, keys))

    def take_counter(self, key: str) -> invoice_store.Counter:
        """A preloaded counter, once (the next use reads it: this run may have moved it), else read now."""
        found = self._counters.pop(key, None)
        return found if found is not None else invoice_store.read_counter(self.organization_id, key)

    def drop_done_timers(self) -> None:
        """One BatchWriteItem per 25 invoices instead of a DeleteItem each; timers left by a crash before this
        are redone by the next run (the work is idempotent)."""
        keys, self.done_timers = self.done_timers, []
        invoice_store.drop_timers(keys)

    def terms(self, subscription: Subscription) -> SubscriptionTerms | None:
        customer = self.customer(subscription.lago_customer_id)
        return subscriptions.terms_of(subscription, self.plan(subscription.plan_id), self.timezone(customer))


def _at(value: str) -> datetime:
    parsed = parse_iso(value)
    assert parsed is not None
    return parsed


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rates(found: Iterable[Tax]) -> tuple[TaxRate, ...]:
    return tuple(TaxRate(code=t.code, rate=t.rate, name=t.name) for t in found)


# --- what is due -----------------------------------------------------------------------------------------


def billing_origin(subscription: Subscription, terms: SubscriptionTerms) -> datetime:
    """When billing starts: the start, or the creation when `subscription_at` is in the past (DECISIONS.md)."""
    created = parse_iso(subscription.created_at)
    assert created is not None
    return max(terms.started_at, created)


def _starts_with_invoice(terms: SubscriptionTerms, origin: datetime) -> bool:
    """An in-advance plan pays its first period when billing starts, unless a trial defers it."""
    trial_end = terms.trial_ends_at
    return terms.pay_in_advance and (trial_end is None or trial_end <= origin)


def due_boundaries(
    subscription: Subscription, terms: SubscriptionTerms, cursor: datetime | None, now: datetime
) -> list[datetime]:
    """The boundaries not invoiced yet (after `cursor`) at which this subscription owes an invoice, up to
    `now` (the start of an in-advance plan, period ends, the trial end, the termination)."""
    origin = billing_origin(subscription, terms)
    found: list[datetime] = []
    if cursor is None:
        if _starts_with_invoice(terms, origin) and origin <= now:
            found.append(origin)
        elif terms.terminated_at == origin and terms.started_at < origin and origin <= now:
            # Terminated in the very second billing started (created with a past subscription_at, then
            # upgraded or deleted at once): the days of the current period used before it are still owed.
            found.append(origin)
        after = origin
    else:
        after = cursor
    moment = next_billing_date(terms, after)
    while moment is not None and moment <= now:
        found.append(moment)
        moment = next_billing_date(terms, moment)
    return found


def _period(period: BillingPeriod, *, charges: bool = False) -> Period:
    if charges:
        return Period(
            from_datetime=iso(period.charges_from_datetime),  # type: ignore[arg-type]
            to_datetime=iso(period.charges_to_datetime),  # type: ignore[arg-type]
            full_from_datetime=iso(period.charges_from_datetime),  # type: ignore[arg-type]
            full_to_datetime=iso(period.charges_to_datetime),  # type: ignore[arg-type]
        )
    return Period(
        from_datetime=iso(period.from_datetime),  # type: ignore[arg-type]
        to_datetime=iso(period.to_datetime),  # type: ignore[arg-type]
        full_from_datetime=iso(period.full_from_datetime),  # type: ignore[arg-type]
        full_to_datetime=iso(period.full_to_datetime),  # type: ignore[arg-type]
    )


def _billing_period(period: Period) -> BillingPeriod:
    values = [
        parse_iso(v)
        for v in (
            period.from_datetime,
            period.to_datetime,
            period.full_from_datetime,
            period.full_to_datetime,
        )
    ]
    start, end, full_start, full_end = values
    return BillingPeriod(start, end, start, end, full_start, full_end)  # type: ignore[arg-type]


def invoice_part(
    subscription: Subscription, terms: SubscriptionTerms, plan: Plan, boundary: datetime
) -> InvoicePart | None:
    """What `subscription` owes at `boundary` (None: nothing)."""
    origin = billing_origin(subscription, terms)
    if boundary == origin and _starts_with_invoice(terms, origin):
        period = billing_period_containing(terms, origin)
        return InvoicePart(
            subscription_id=subscription.lago_id,
            invoicing_reason="subscription_starting",
            fee_period=_period(period),
        )
    contents = invoice_contents_at(terms, boundary)
    terminating = terms.terminated_at is not None and boundary >= terms.terminated_at
    commitment: Period | None = None
    closes_interval = terminating or boundary == interval_containing(terms, boundary)[0]
    if plan.minimum_commitment is not None and closes_interval and boundary > origin:
        commitment = _period(billing_period_containing(terms, boundary - _TINY))
    if contents.subscription_fee_period is None and contents.charges_period is None and commitment is None:
        return None
    return InvoicePart(
        subscription_id=subscription.lago_id,
        invoicing_reason="subscription_terminating" if terminating else "subscription_periodic",
        fee_period=_period(contents.subscription_fee_period) if contents.subscription_fee_period else None,
        charges_period=_period(contents.charges_period, charges=True) if contents.charges_period else None,
        commitment_period=commitment,
    )


# --- computing an invoice --------------------------------------------------------------------------------


@dataclass
class _Fee:
    """A fee before coupons and taxes."""

    key: str
    fee_type: str
    amount_cents: int
    precise_amount: Decimal
    units: Decimal
    total_aggregated_units: Decimal
    unit_amount: Decimal
    events_count: int | None
    taxes: tuple[Tax, ...]
    subscription: Subscription
    plan: Plan
    item: FeeItem
    from_date: str | None
    to_date: str | None
    billable_metric_code: str | None = None
    charge_id: str | None = None
    charge_filter_id: str | None = None
    amount_details: dict[str, Any] = field(default_factory=dict)
    true_up_parent_key: str | None = None


@dataclass
class Computed:
    fees: list[_Fee]
    totals: InvoiceTotals
    applied: list[AppliedCoupon]


def _inclusive(value: str) -> str:
    return _text(_at(value) - timedelta(seconds=1))


def _fee_taxes(catalog: Catalog, customer: Customer, plan: Plan, own: list[str]) -> tuple[Tax, ...]:
    """Charge / commitment > plan > customer > organization (`engine.invoice_math.resolve_fee_taxes`)."""
    chosen = resolve_fee_taxes(
        organization=_rates(catalog.taxes(catalog.organization.tax_codes)),
        customer=_rates(catalog.taxes(customer.tax_codes)),
        plan=_rates(catalog.taxes(plan.tax_codes)),
        charge_or_add_on=_rates(catalog.taxes(own)),
    )
    return catalog.taxes(rate.code for rate in chosen)


def _subscription_fees(
    catalog: Catalog, customer: Customer, subscription: Subscription, part: InvoicePart
) -> list[_Fee]:
    plan = catalog.plan(subscription.plan_id)
    terms = catalog.terms(subscription)
    assert terms is not None
    exponent = currency_exponent(plan.amount_currency)
    fees: list[_Fee] = []
    sub_key = subscription.lago_id
    if part.fee_period is not None:
        amount = subscription_fee_for_period(plan.amount_cents, terms, _billing_period(part.fee_period))
        precise = Decimal(amount) / (Decimal(10) ** exponent)
        fees.append(
            _Fee(
                key=f"subscription#{sub_key}",
                fee_type="subscription",
                amount_cents=amount,
                precise_amount=precise,
                units=Decimal(1),
                total_aggregated_units=Decimal(1),
                unit_amount=precise,
                events_count=None,
                taxes=_fee_taxes(catalog, customer, plan, []),
                subscription=subscription,
                plan=plan,
                item=FeeItem(
                    type="subscription",
                    code=plan.code,
                    name=plan.name,
                    description=plan.description,
                    invoice_display_name=plan.invoice_display_name or plan.name,
                    lago_item_id=subscription.lago_id,
                    item_type="Subscription",
                ),
                from_date=part.fee_period.from_datetime,
                to_date=_inclusive(part.fee_period.to_datetime),
            )
        )
    charge_fees_by_charge: dict[str, int] = defaultdict(int)
    if part.charges_period is not None:
        charges = [c for c in plan.charges if not c.pay_in_advance and c.invoiceable]
        period = part.charges_period
        results = (
            usage.charges_usage(
                catalog.organization_id,
                subscription,
                plan,
                _at(period.from_datetime),
                _at(period.to_datetime),
                timezone=catalog.timezone(customer),
                metrics=catalog.metrics(plan),
                charges=charges,
            )
            if charges
            else []
        )
        for result in results:
            charge = result.charge
            charge_filter = result.charge_filter
            charge_fees_by_charge[charge.lago_id] += result.amount_cents
            group_text = "" if result.grouped_by is None else repr(sorted(result.grouped_by.items()))
            fees.append(
                _Fee(
                    key=f"charge#{sub_key}#{charge.lago_id}#{result.charge_filter_id or '-'}#{group_text}",
                    fee_type="charge",
                    amount_cents=result.amount_cents,
                    precise_amount=result.precise_amount,
                    units=result.units,
                    total_aggregated_units=result.total_aggregated_units,
                    unit_amount=result.unit_amount,
                    events_count=result.events_count,
                    taxes=_fee_taxes(catalog, customer, plan, charge.tax_codes),
                    subscription=subscription,
                    plan=plan,
                    billable_metric_code=result.billable_metric.code,
                    charge_id=charge.lago_id,
                    charge_filter_id=result.charge_filter_id,
                    amount_details=result.amount_details,
                    item=FeeItem(
                        type="charge",
                        code=result.billable_metric.code,
                        name=result.billable_metric.name,
                        description=result.billable_metric.description,
                        invoice_display_name=charge.invoice_display_name or result.billable_metric.name,
                        filter_invoice_display_name=(
                            charge_filter.invoice_display_name if charge_filter is not None else None
                        ),
                        filters=charge_filter.values if charge_filter is not None else None,
                        lago_item_id=result.billable_metric.lago_id,
                        item_type="BillableMetric",
                        grouped_by=result.grouped_by or {},
                    ),
                    from_date=period.from_datetime,
                    to_date=_inclusive(period.to_datetime),
                )
            )
        fees.extend(
            _charge_true_ups(catalog, customer, subscription, plan, terms, period, charge_fees_by_charge)
        )
    if part.commitment_period is not None and plan.minimum_commitment is not None:
        fees.extend(_commitment_fee(catalog, customer, subscription, plan, terms, part, fees))
    return fees


def _active_days(terms: SubscriptionTerms, period: Period) -> tuple[int, int]:
    full = days_between(
        _at(period.full_from_datetime),
        _at(period.full_to_datetime),
        terms.timezone,
    )
    active = days_between(
        _at(period.from_datetime),
        _at(period.to_datetime),
        terms.timezone,
    )
    return active, full


def _charge_true_ups(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    terms: SubscriptionTerms,
    period: Period,
    fees_by_charge: dict[str, int],
) -> list[_Fee]:
    """`min_amount_cents` true-ups: the shortfall of a charge's fees below its minimum, prorated on days."""
    charges_full = interval_containing(terms, _at(period.from_datetime), terms.charges_interval)
    full_period = period.model_copy(
        update={"full_from_datetime": iso(charges_full[0]), "full_to_datetime": iso(charges_full[1])}
    )
    active, full = _active_days(terms, full_period)
    exponent = currency_exponent(plan.amount_currency)
    found = []
    for charge in plan.charges:
        if not charge.min_amount_cents or charge.lago_id not in fees_by_charge:
            continue
        amount = true_up_amount_cents(
            fees_by_charge[charge.lago_id], charge.min_amount_cents, active_days=active, period_days=full
        )
        if amount <= 0:
            continue
        metric = catalog.metrics(plan).get(charge.billable_metric_id)
        precise = Decimal(amount) / (Decimal(10) ** exponent)
        found.append(
            _Fee(
                key=f"true_up#{subscription.lago_id}#{charge.lago_id}",
                fee_type="charge",
                amount_cents=amount,
                precise_amount=precise,
                units=Decimal(1),
                total_aggregated_units=Decimal(1),
                unit_amount=precise,
                events_count=0,
                taxes=_fee_taxes(catalog, customer, plan, charge.tax_codes),
                subscription=subscription,
                plan=plan,
                billable_metric_code=metric.code if metric else None,
                charge_id=charge.lago_id,
                item=FeeItem(
                    type="charge",
                    code=metric.code if metric else charge.billable_metric_code,
                    name=metric.name if metric else charge.billable_metric_code,
                    description=metric.description if metric else None,
                    invoice_display_name=charge.invoice_display_name
                    or (metric.name if metric else charge.billable_metric_code),
                    lago_item_id=charge.billable_metric_id,
                    item_type="BillableMetric",
                ),
                from_date=period.from_datetime,
                to_date=_inclusive(period.to_datetime),
                true_up_parent_key=f"charge#{subscription.lago_id}#{charge.lago_id}#-#",
            )
        )
    return found


def _commitment_fee(
    catalog: Catalog,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    terms: SubscriptionTerms,
    part: InvoicePart,
    fees_so_far: list[_Fee],
) -> list[_Fee]:
    """The minimum commitment true-up of the period that closes: its subscription fee and charges below
    the commitment, prorated on days for a partial period (checklist §4.3)."""
    commitment = plan.minimum_commitment
    period = part.commitment_period
    assert commitment is not None and period is not None
    subscription_fee = subscription_fee_for_period(plan.amount_cents, terms, _billing_period(period))
    charges = sum(f.amount_cents for f in fees_so_far if f.fee_type == "charge")
    charges += _charges_billed_earlier(catalog, subscription, part)
    active, full = _active_days(terms, period)
    amount = minimum_commitment_true_up_cents(
        commitment.amount_cents, subscription_fee + charges, active_days=active, period_days=full
    )
    if amount <= 0:
        return []
    precise = Decimal(amount) / (Decimal(10) ** currency_exponent(plan.amount_currency))
    return [
        _Fee(
            key=f"commitment#{subscription.lago_id}",
            fee_type="commitment",
            amount_cents=amount,
            precise_amount=precise,
            units=Decimal(1),
            total_aggregated_units=Decimal(1),
            unit_amount=precise,
            events_count=None,
            taxes=_fee_taxes(catalog, customer, plan, commitment.tax_codes),
            subscription=subscription,
            plan=plan,
            item=FeeItem(
                type="commitment",
                code=plan.code,
                name=plan.name,
                description=plan.description,
                invoice_display_name=commitment.invoice_display_name or "Minimum commitment true-up",
                lago_item_id=commitment.lago_id,
                item_type="Commitment",
            ),
            from_date=period.from_datetime,
            to_date=_inclusive(period.to_datetime),
        )
    ]


def _charges_billed_earlier(catalog: Catalog, subscription: Subscription, part: InvoicePart) -> int:
    """The charge fees of `subscription` already invoiced inside the commitment period: a yearly plan with
    `bill_charges_monthly` invoices its charges month by month, and its yearly commitment counts them all
    (pay-in-advance charges and voided invoices excepted). Zero for a plan whose charges period is the
    commitment period."""
    period = part.commitment_period
    assert period is not None
    current = part.charges_period.from_datetime if part.charges_period is not None else None
    total = 0
    for invoice in catalog.invoices_of(subscription.lago_customer_id):
        if invoice.status not in ("draft", "finalized", "closed"):
            continue
        for other in invoice.parts:
            charges_period = other.charges_period
            if (
                other.subscription_id != subscription.lago_id
                or other.invoicing_reason == "in_advance_charge"
                or charges_period is None
                or charges_period.from_datetime == current
                or not period.from_datetime <= charges_period.from_datetime < period.to_datetime
            ):
                continue
            total += sum(
                fee["amount_cents"]
                for fee in invoice.fees
                if fee.get("lago_subscription_id") == subscription.lago_id
                and (fee.get("item") or {}).get("type") == "charge"
            )
    return total


def _coupon_inputs(
    catalog: Catalog, customer: Customer, currency: str
) -> tuple[list[AppliedCouponInput], list[AppliedCoupon]]:
    applied = catalog.applied_coupons(customer.lago_id)
    inputs: list[AppliedCouponInput] = []
    kept: list[AppliedCoupon] = []
    for entry in applied:
        coupon = coupons.get_coupon_by_id(catalog.organization_id, entry.coupon_id)
        if coupon.coupon_type == "fixed_amount" and entry.amount_currency not in (None, currency):
            continue
        plan_codes = []
        for plan_id in coupon.plan_ids:
            with contextlib.suppress(errors.NotFound):
                plan_codes.append(catalog.plan(plan_id).code)
        metric_codes = [
            m.code
            for m in billable_metrics.get_billable_metrics_by_ids(
                catalog.organization_id, coupon.billable_metric_ids
            ).values()
        ]
        inputs.append(
            AppliedCouponInput(
                key=entry.lago_id,
                coupon_type=coupon.coupon_type,
                frequency=entry.frequency,
                amount_cents=entry.amount_cents or 0,
                amount_cents_remaining=entry.amount_cents_remaining,
                percentage_rate=entry.percentage_rate,
                frequency_duration_remaining=entry.frequency_duration_remaining,
                plan_codes=tuple(plan_codes),
                billable_metric_codes=tuple(metric_codes),
            )
        )
        kept.append(entry)
    return inputs, kept


def compute(
    catalog: Catalog,
    customer: Customer,
    parts: list[InvoicePart],
    currency: str,
    known: dict[str, Subscription] | None = None,
) -> Computed:
    """The fees and totals of an invoice covering `parts` (fees → coupons → taxes → credits)."""
    found: list[_Fee] = []
    for part in parts:
        subscription = (known or {}).get(part.subscription_id) or subscriptions.get_subscription_by_id(
            catalog.organization_id, part.subscription_id
        )
        found.extend(_subscription_fees(catalog, customer, subscription, part))
    coupon_inputs, applied = _coupon_inputs(catalog, customer, currency)
    totals = compute_invoice(
        [
            FeeInput(
                key=fee.key,
                amount_cents=fee.amount_cents,
                fee_type=fee.fee_type,
                plan_code=fee.plan.code,
                billable_metric_code=fee.billable_metric_code,
                taxes=_rates(fee.taxes),
            )
            for fee in found
        ],
        coupon_inputs,
        # Credit notes and wallets are deferred (DECISIONS.md): nothing to deduct yet.
        credit_notes_available_cents=0,
        prepaid_credits_available_cents=0,
    )
    return Computed(found, totals, applied)


def _fee_body(
    invoice_id: str, customer: Customer, currency: str, fee: _Fee, totals: FeeTotals, created_at: str
) -> dict[str, Any]:
    scale = Decimal(10) ** currency_exponent(currency)
    fee_id = stable_id(invoice_id, fee.key)
    taxes_precise_amount = totals.taxes_precise_amount_cents / scale
    sub_total_precise = Decimal(fee.amount_cents) - totals.precise_coupons_amount_cents
    amounts = FeeAmounts(
        amount_cents=fee.amount_cents,
        precise_amount=fee.precise_amount,
        precise_total_amount=fee.precise_amount + taxes_precise_amount,
        taxes_amount_cents=totals.taxes_amount_cents,
        taxes_precise_amount=taxes_precise_amount,
        taxes_rate=totals.taxes_rate,
        units=fee.units,
        precise_unit_amount=fee.unit_amount,
        total_aggregated_units=fee.total_aggregated_units,
        sub_total_excluding_taxes_amount_cents=round_cents(sub_total_precise),
        sub_total_excluding_taxes_precise_amount_cents=sub_total_precise,
        precise_coupons_amount_cents=totals.precise_coupons_amount_cents,
    )
    facts = FeeFacts(
        lago_id=fee_id,
        currency=currency,
        amounts=amounts,
        item=fee.item,
        taxes=invoiced_fee_taxes(fee_id, fee.taxes, totals.taxable_amount_cents),
        lago_customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        created_at=created_at,
        from_date=fee.from_date,
        to_date=fee.to_date,
        lago_invoice_id=invoice_id,
        lago_subscription_id=fee.subscription.lago_id,
        external_subscription_id=fee.subscription.external_id,
        lago_charge_id=fee.charge_id,
        lago_charge_filter_id=fee.charge_filter_id,
        lago_true_up_parent_fee_id=stable_id(invoice_id, fee.true_up_parent_key)
        if fee.true_up_parent_key
        else None,
        events_count=fee.events_count,
        amount_details=fee.amount_details,
    )
    return build_fee(facts, PERIOD_FEE)


def _apply_computed(
    invoice: Invoice, catalog: Catalog, customer: Customer, computed: Computed, stamp: str
) -> Invoice:
    totals = computed.totals
    by_key = {f.key: f for f in totals.fees}
    fees = [
        _fee_body(invoice.lago_id, customer, invoice.currency, fee, by_key[fee.key], invoice.created_at)
        for fee in computed.fees
    ]
    taxes_by_code = {t.code: t for fee in computed.fees for t in fee.taxes}
    applied_taxes = invoice_applied_taxes(
        invoice.lago_id, invoice.currency, invoice.created_at, totals.applied_taxes, taxes_by_code
    )
    applied_by_id = {a.lago_id: a for a in computed.applied}
    credits = []
    applications = []
    for application in totals.coupons:
        if application.amount_cents <= 0:
            continue
        applied = applied_by_id[application.key]
        coupon = coupons.get_coupon_by_id(catalog.organization_id, applied.coupon_id)
        credits.append(
            {
                "lago_id": stable_id(invoice.lago_id, "credit", applied.lago_id),
                "amount_cents": application.amount_cents,
                "amount_currency": invoice.currency,
                "before_taxes": True,
                "item": {
                    "lago_item_id": coupon.lago_id,
                    "type": "coupon",
                    "code": coupon.code,
                    "name": coupon.name,
                },
            }
        )
        applications.append(
            {
                "applied_coupon_id": applied.lago_id,
                "amount_cents": application.amount_cents,
                "amount_cents_remaining": application.amount_cents_remaining,
                "frequency_duration_remaining": application.frequency_duration_remaining,
                "terminated": application.terminated,
            }
        )
    return invoice.model_copy(
        update={
            "fees_amount_cents": totals.fees_amount_cents,
            "coupons_amount_cents": totals.coupons_amount_cents,
            "credit_notes_amount_cents": totals.credit_notes_amount_cents,
            "sub_total_excluding_taxes_amount_cents": totals.sub_total_excluding_taxes_amount_cents,
            "taxes_amount_cents": totals.taxes_amount_cents,
            "sub_total_including_taxes_amount_cents": totals.sub_total_including_taxes_amount_cents,
            "prepaid_credit_amount_cents": totals.prepaid_credit_amount_cents,
            "total_amount_cents": totals.total_amount_cents,
            "fees": fees,
            "applied_taxes": applied_taxes,
            "credits": credits,
            "coupon_applications": applications,
            "updated_at": stamp,
        }
    )


# --- finalization ----------------------------------------------------------------------------------------


def _finalize_into(
    writes: entities.Writes, invoice: Invoice, catalog: Catalog, customer: Customer, moment: datetime
) -> Invoice:
    """Number the invoice (or close a skipped zero-amount one), consume its coupons, schedule the overdue
    check and record `invoice.created` — all in `writes`, conditional on the counters' revisions."""
    organization = catalog.organization
    timezone = catalog.timezone(customer)
    issuing = invoice.issuing_date
    adjustment = customer.billing_configuration.subscription_invoice_issuing_date_adjustment
    if invoice.grace_ends_at is not None and adjustment != "keep_anchor":
        issuing = invoice_terms.local_today(moment, timezone)  # Lago's align_with_finalization_date
    update: dict[str, Any] = {
        "issuing_date": issuing,
        "payment_due_date": invoice_terms.payment_due_date(issuing, invoice.net_payment_term),
        "finalized_at": iso(moment),
        "updated_at": iso(moment),
    }
    for application in invoice.coupon_applications:
        document = entities.get(
            catalog.organization_id, coupons.APPLIED_COUPON, application["applied_coupon_id"]
        )
        if document is None:
            continue
        applied = AppliedCoupon.model_validate(document)
        changes: dict[str, Any] = {
            "amount_cents_remaining": application["amount_cents_remaining"],
            "frequency_duration_remaining": application["frequency_duration_remaining"],
        }
        if application["terminated"]:
            changes.update(status="terminated", terminated_at=iso(moment))
        coupons.put_applied_coupon(writes, applied.model_copy(update=changes))
    customer_counter = catalog.take_counter(invoice_store.customer_counter_key(customer.lago_id))
    if invoice.total_amount_cents == 0 and not invoice_terms.finalizes_zero_amount(organization, customer):
        # DECISIONS.md: a skipped zero-amount invoice is closed — not numbered, no webhook. The counter's
        # revision still moves, so coupon consumption stays serialised per customer.
        invoice_store.touch_counter(writes, catalog.organization_id, customer_counter)
        closed = invoice.model_copy(update={**update, "status": "closed"})
        return invoice_store.put_invoice(writes, closed, new=invoice.revision == 0)
    number, customer_sequence = numbering.take_invoice_number(
        writes, organization, customer, customer_counter, issuing
    )
    finalized = invoice.model_copy(
        update={
            **update,
            "status": "finalized",
            "number": number,
            "sequential_id": customer_sequence,
            # Lago: nothing to collect on a zero-amount invoice, so it is paid (and never overdue)
            "payment_status": "pending" if invoice.total_amount_cents > 0 else "succeeded",
        }
    )
    stored = invoice_store.put_invoice(writes, finalized, new=invoice.revision == 0)
    writes.message(invoices.message("invoice.created", stored, "finalized", catalog.lookups))
    invoice_store.schedule(writes, stored, invoice_terms.overdue_at(stored, timezone), "overdue")
    invoice_store.schedule_document(writes, stored, moment)
    return stored


def _after_commit(invoice: Invoice, previous: Invoice | None = None) -> None:
    """Fee documents, and (once final) the period-closed markers that stop late events from counting."""
    final = invoice.status in ("finalized", "closed")
    invoice_store.project_fees(invoice, previous, with_items=_closed_items(invoice) if final else [])
    if invoice.status == "draft":
        mark_draft_periods(invoice)


def mark_draft_periods(invoice: Invoice) -> None:
    """Tell the aggregator which draft covers each period, so late events there flag it for a refresh. A
    closed marker is never turned back into a draft one (a finalization may have overtaken this call)."""
    store = UsageStore()
    for table, item in _closed_items(invoice):
        store.put_item(
            table,
            {**item, "ms": S(MARKER_DRAFT)},
            condition="attribute_not_exists(#pk) OR #ms = :draft",
            names={"#pk": "pk", "#ms": "ms"},
            values={":draft": S(MARKER_DRAFT)},
        )


def close_periods(invoice: Invoice) -> None:
    items = _closed_items(invoice)
    if items:
        UsageStore().batch_write(items)


def _closed_items(invoice: Invoice) -> list[tuple[str, dict[str, Any]]]:
    items: list[tuple[str, dict[str, Any]]] = []
    for part in invoice.parts:
        if part.charges_period is None:
            continue
        pk = aggregate_pk(invoice.organization_id, part.subscription_id)
        items.append(
            (
                aggregates_table(),
                {
                    "pk": {"S": pk},
                    "sk": {"S": closed_sk(part.charges_period.from_datetime)},
                    "inv": {"S": invoice.lago_id},
                },
            )
        )
    return items


# --- creating the invoice of a boundary ------------------------------------------------------------------


@dataclass
class _Cursor:
    billed_through: datetime | None
    revision: int | None


def _read_cursors(organization_id: str, subscription_ids: list[str]) -> dict[str, _Cursor]:
    documents = entities.get_many(organization_id, CURSOR_KIND, subscription_ids) if subscription_ids else {}
    found = {}
    for subscription_id in subscription_ids:
        document = documents.get(subscription_id)
        if document is None:
            found[subscription_id] = _Cursor(None, None)
        else:
            found[subscription_id] = _Cursor(parse_iso(document["billed_through"]), int(document["revision"]))
    return found


def _advance_cursor(
    writes: entities.Writes, organization_id: str, subscription_id: str, cursor: _Cursor, to: datetime
) -> None:
    revision = (cursor.revision or 0) + 1
    body = {"billed_through": iso(to), "revision": revision}
    if cursor.revision is None:
        writes.put(
            organization_id, CURSOR_KIND, subscription_id, body, must_not_exist=True, revision=revision
        )
    else:
        writes.put(
            organization_id,
            CURSOR_KIND,
            subscription_id,
            body,
            expected_revision=cursor.revision,
            revision=revision,
        )


@dataclass
class RunReport:
    invoices: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    skipped: int = 0
    failures: int = 0


def _create_invoice(
    catalog: Catalog,
    customer: Customer,
    boundary: datetime,
    due: list[tuple[Subscription, InvoicePart, _Cursor]],
    moment: datetime,
) -> Invoice | None:
    """Create the invoice of `customer` at `boundary` and advance the cursors, in one transaction. Returns
    None when another run did it first (the cursors' conditions fail)."""
    organization = catalog.organization
    org = catalog.organization_id
    timezone = catalog.timezone(customer)
    billing_key = f"{customer.lago_id}#{iso(boundary)}"
    lago_id = stable_id(org, billing_key)
    if invoice_store.find_invoice(org, lago_id) is not None:
        # This boundary already has an invoice (a subscription joined it late): a separate one.
        lago_id = stable_id(org, billing_key, *sorted(s.lago_id for s, _, _ in due))
        billing_key = f"{billing_key}#{len(due)}"
    parts = [part for _, part, _ in due]
    currency = catalog.plan(due[0][0].plan_id).amount_currency
    stamp = _text(moment)
    issuing = local_date(boundary, timezone).isoformat()
    term = invoice_terms.net_payment_term(organization, customer)
    grace = invoice_terms.grace_period_days(organization, customer)
    draft = Invoice(
        lago_id=lago_id,
        organization_id=org,
        customer_id=customer.lago_id,
        external_customer_id=customer.external_id,
        billing_key=billing_key,
        boundary=iso(boundary),  # type: ignore[arg-type]
        parts=parts,
        status="draft",
        number=numbering.draft_number(organization),
        issuing_date=issuing,
        payment_due_date=invoice_terms.payment_due_date(issuing, term),
        net_payment_term=term,
        currency=currency,
        grace_ends_at=iso(boundary + timedelta(days=grace)) if grace else None,
        created_at=stamp,  # type: ignore[arg-type]
        updated_at=stamp,  # type: ignore[arg-type]
        revision=0,
    )
    draft = _apply_computed(
        draft,
        catalog,
        customer,
        compute(catalog, customer, parts, currency, {s.lago_id: s for s, _, _ in due}),
        stamp,
    )
    writes = entities.Writes()
    for subscription, _, cursor in due:
        _advance_cursor(writes, org, subscription.lago_id, cursor, boundary)
    if grace:
        stored = invoice_store.put_invoice(writes, draft, new=True)
        writes.message(invoices.message("invoice.drafted", stored, "drafted", catalog.lookups))
        invoice_store.schedule(writes, stored, boundary + timedelta(days=grace), "finalize")
    else:
        stored = _finalize_into(writes, draft, catalog, customer, moment)
    # Done again by the next run if this one stops before `_after_commit` (idempotent).
    invoice_store.schedule(writes, stored, moment, "project")
    try:
        writes.commit()
    except errors.ConflictRetry:
        catalog.invoices_changed()  # the winner's invoice is not in the cache
        return None
    catalog.remember_invoice(stored)
    if stored.coupon_applications:
        catalog.coupons_changed()
    _after_commit(stored)
    catalog.done_timers.append(invoice_store.timer_key(moment, stored, "project"))
    return stored


def _awaiting_clock(subscription: Subscription, boundary: datetime) -> bool:
    """An active subscription whose `ending_at` or pending downgrade falls at or before `boundary`: the
    subscription clock ends it there first (its termination hook then bills it), so the run leaves it."""
    if subscription.status != "active":
        return False
    ending = parse_iso(subscription.ending_at)
    if ending is not None and ending <= boundary:
        return True
    if subscription.next_subscription_id and subscription.downgrade_plan_date:
        return boundary.date().isoformat() >= subscription.downgrade_plan_date
    return False


def bill_customer(
    catalog: Catalog,
    customer_id: str,
    found: list[Subscription],
    now: datetime,
    moment: datetime,
    report: RunReport,
    known_cursors: dict[str, _Cursor] | None = None,
) -> None:
    """Invoice every boundary up to `now` of one customer's subscriptions, oldest first, one invoice per
    boundary. After a lost race it reads the cursors again (the winner's invoice stands)."""
    customer = catalog.customer(customer_id)
    lost = 0
    ids = [s.lago_id for s in found]
    if known_cursors is not None and all(i in known_cursors for i in ids):
        cursors = {i: known_cursors[i] for i in ids}  # read for the whole organization at the run's start
    else:
        cursors = _read_cursors(catalog.organization_id, ids)
    while lost < MAX_ATTEMPTS:
        by_boundary: dict[datetime, list[tuple[Subscription, InvoicePart, _Cursor]]] = defaultdict(list)
        for subscription in found:
            terms = catalog.terms(subscription)
            if terms is None:
                continue
            cursor = cursors[subscription.lago_id]
            plan = catalog.plan(subscription.plan_id)
            for boundary in due_boundaries(subscription, terms, cursor.billed_through, now):
                if _awaiting_clock(subscription, boundary):
                    break
                part = invoice_part(subscription, terms, plan, boundary)
                if part is not None:
                    by_boundary[boundary].append((subscription, part, cursor))
                    break  # its next boundary waits for this one's invoice (the cursor moves with it)
        if not by_boundary:
            return
        boundary = min(by_boundary)
        created = _create_invoice(catalog, customer, boundary, by_boundary[boundary], moment)
        if created is None:
            lost += 1
            report.skipped += 1
            cursors = _read_cursors(catalog.organization_id, ids)
        else:
            report.invoices.append(created.lago_id)
            for subscription, _, cursor in by_boundary[boundary]:  # as `_advance_cursor` wrote them
                cursors[subscription.lago_id] = _Cursor(boundary, (cursor.revision or 0) + 1)


def run_billing(now: datetime, *, moment: datetime | None = None) -> RunReport:
    """The hourly run at `now` (the schedule's time): invoice what is due, finalize drafts whose grace period
    ended, flag overdue invoices, and redo interrupted post-commit work."""
    report = RunReport()
    moment = moment or now
    for organization in organizations.list_organizations():
        bill_organization(organization.lago_id, now, moment, report)
    refresh_flagged_drafts(moment, report)
    process_timers(now, report)
    return report


def bill_organization(organization_id: str, now: datetime, moment: datetime, report: RunReport) -> None:
    catalog = Catalog(organization_id)
    by_customer: dict[str, list[Subscription]] = defaultdict(list)
    for subscription in subscriptions.list_billable_subscriptions(organization_id):
        by_customer[subscription.lago_customer_id].append(subscription)
        catalog.lookups.remember(subscription)
    catalog.lookups.preload_customers(list(by_customer))
    catalog.preload_counters(list(by_customer))
    cursors = _read_cursors(organization_id, [s.lago_id for found in by_customer.values() for s in found])
    try:
        for customer_id, found in by_customer.items():
            try:
                bill_customer(catalog, customer_id, found, now, moment, report, cursors)
            except (errors.TransientFailure, errors.NotFound) as exc:
                report.failures += 1
                logger.exception(
                    "billing a customer failed", extra={"customer_id": customer_id, "error": str(exc)}
                )
    finally:
        catalog.drop_done_timers()


# --- drafts: refresh and finalize ------------------------------------------------------------------------


def refresh_invoice(organization_id: str, lago_id: str, now: datetime | None = None) -> Invoice:
    """`PUT /invoices/{lago_id}/refresh`: recompute a draft from the current usage, coupons and taxes."""
    invoice = invoice_store.get_invoice(organization_id, lago_id)
    if invoice.status != "draft":
        return invoice
    moment = now or datetime.now(UTC)
    catalog = Catalog(organization_id)
    customer = catalog.customer(invoice.customer_id)
    computed = compute(catalog, customer, list(invoice.parts), invoice.currency)
    refreshed = _apply_computed(invoice, catalog, customer, computed, _text(moment))
    writes = entities.Writes()
    stored = invoice_store.put_invoice(writes, refreshed)
    writes.commit()
    _after_commit(stored, invoice)
    return stored


def finalize_invoice(organization_id: str, lago_id: str, now: datetime | None = None) -> Invoice:
    """`PUT /invoices/{lago_id}/finalize` (and the end of the grace period): close the periods so late
    events stop counting, recompute, number and record `invoice.created` — in one transaction."""
    moment = now or datetime.now(UTC)
    for _attempt in range(MAX_ATTEMPTS):
        invoice = invoice_store.get_invoice(organization_id, lago_id)
        if invoice.status != "draft":
            return invoice
        close_periods(invoice)
        catalog = Catalog(organization_id)
        customer = catalog.customer(invoice.customer_id)
        computed = compute(catalog, customer, list(invoice.parts), invoice.currency)
        refreshed = _apply_computed(invoice, catalog, customer, computed, _text(moment))
        writes = entities.Writes()
        stored = _finalize_into(writes, refreshed, catalog, customer, moment)
        if invoice.grace_ends_at:
            invoice_store.unschedule(writes, invoice, parse_iso(invoice.grace_ends_at), "finalize")  # type: ignore[arg-type]
        try:
            writes.commit()
        except errors.ConflictRetry:
            continue  # a concurrent finalization or number: read again
        _after_commit(stored, invoice)
        return stored
    raise errors.TransientFailure("the invoice could not be finalized, retry")


def refresh_flagged_drafts(moment: datetime, report: RunReport) -> None:
    """Refresh the drafts late events were counted into since the last run (the aggregator flags them). A
    flag rewritten while its draft was being refreshed stays for the next run."""
    store = UsageStore()
    table = aggregates_table()
    for item in list(store.query(table, REFRESH_PK)):
        organization_id, _, lago_id = item["sk"]["S"].partition("#")
        try:
            refresh_invoice(organization_id, lago_id, moment)
        except errors.NotFound:
            pass  # the invoice or its organization is gone: nothing to refresh
        except errors.ConflictRetry:
            continue  # the draft changed meanwhile (a finalization, a refresh): the next run looks again
        except errors.TransientFailure as exc:
            report.failures += 1
            logger.exception("refreshing a draft failed", extra={"invoice_id": lago_id, "error": str(exc)})
            continue
        else:
            report.refreshed.append(lago_id)
        store.delete_item(
            table,
            (REFRESH_PK, item["sk"]["S"]),
            condition="#at = :at",
            names={"#at": "at"},
            values={":at": item["at"]},
        )


def finalize_customer_drafts(organization_id: str, customer_id: str, now: datetime | None = None) -> None:
    for invoice in invoice_store.invoices_of_customer(organization_id, customer_id, ("draft",)):
        finalize_invoice(organization_id, invoice.lago_id, now)


# --- timers: finalize, overdue, post-commit work ---------------------------------------------------------


def mark_overdue(organization_id: str, lago_id: str) -> Invoice | None:
    """Flag an unpaid finalized invoice as overdue, once (`invoice.payment_overdue`)."""
    invoice = invoice_store.find_invoice(organization_id, lago_id)
    if invoice is None or invoice.status != "finalized" or invoice.payment_status == "succeeded":
        return None
    if invoice.payment_overdue:
        return None
    writes = entities.Writes()
    stored = invoice_store.put_invoice(writes, invoice.model_copy(update={"payment_overdue": True}))
    writes.message(invoices.message("invoice.payment_overdue", stored, "overdue"))
    writes.commit()
    return stored


def process_timers(now: datetime, report: RunReport) -> None:
    for key, timer in invoice_store.due_timers(now):
        org, lago_id, action = timer["organization_id"], timer["invoice_id"], timer["action"]
        try:
            if action == "finalize":
                finalize_invoice(org, lago_id, invoice_store.parse_timer_due(key))
                report.finalized.append(lago_id)
            elif action == "overdue":
                if mark_overdue(org, lago_id) is not None:
                    report.overdue.append(lago_id)
            elif action == "project":
                invoice = invoice_store.find_invoice(org, lago_id)
                if invoice is not None:
                    _after_commit(invoice)
        except errors.ConflictRetry:
            continue  # a concurrent run did it; the next run sees the timer gone or retries
        except (errors.TransientFailure, errors.NotFound) as exc:
            report.failures += 1
            logger.exception("invoice timer failed", extra={"timer": key, "error": str(exc)})
            continue
        with contextlib.suppress(errors.ConflictRetry):
            invoice_store.drop_timer(key)


# --- terminations and deletions (called by lagoon.services.lifecycle) ----------------------------------


def bill_termination(organization_id: str, subscription: Subscription) -> None:
    """A terminated subscription (API, clock, upgrade, downgrade, deletions): bill what is due at once. A
    failure is logged, never raised: the hourly run bills it (the cursor has not moved)."""
    terminated_at = parse_iso(subscription.terminated_at)
    if terminated_at is None:
        return
    try:
        catalog = Catalog(organization_id)
        found = [
            s
            for s in subscriptions.list_billable_subscriptions(organization_id)
            if s.lago_customer_id == subscription.lago_customer_id
        ]
        try:
            bill_customer(
                catalog, subscription.lago_customer_id, found, terminated_at, datetime.now(UTC), RunReport()
            )
        finally:
            catalog.drop_done_timers()
    except errors.LagoonError as exc:
        logger.exception(
            "termination billing deferred to the hourly run",
            extra={"subscription_id": subscription.lago_id, "error": str(exc)},
        )


def finalize_plan_drafts(organization_id: str, plan: Plan) -> None:
    """Plan deletion (after its subscriptions were terminated and billed): finalize the drafts that bill it."""
    for invoice in invoice_store.all_invoices(organization_id):
        if invoice.status != "draft":
            continue
        if any(
            subscriptions.get_subscription_by_id(organization_id, part.subscription_id).plan_id
            == plan.lago_id
            for part in invoice.parts
        ):
            finalize_invoice(organization_id, invoice.lago_id)
