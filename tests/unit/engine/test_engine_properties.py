"""Invariants of the engine, checked with hypothesis (issue 4 "Tests and benchmark")."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings, strategies as st
from lagoon.engine.aggregation_state import KEEP_EVERY_EVENT_VALUE, new_state
from lagoon.engine.charge_models import price_graduated, price_volume
from lagoon.engine.folding import fold_events, merge
from lagoon.engine.invoice_math import AppliedCouponInput, FeeInput, TaxRate, compute_invoice
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.period_units import finalize
from lagoon.engine.properties import GraduatedProperties, VolumeProperties, validate_charge_properties

START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 2, 1, tzinfo=UTC)

amounts = st.decimals(min_value=0, max_value=1000, places=2)
units_strategy = st.decimals(min_value=0, max_value=100_000, places=3)


@st.composite
def tier_lists(draw: st.DrawFn, adjacent: bool = False) -> list[dict[str, Any]]:
    """Tiers with `to_value + 1` bounds, or (`adjacent`) each next tier starting at the previous `to_value`
    or one above it, with decimal bounds, as lago-api's RangeBoundsValidator accepts them."""
    widths = draw(st.lists(st.integers(min_value=1, max_value=500), min_size=0, max_size=9))
    tiers = []
    from_value: Any = 0
    for width in widths:
        to_value = from_value + (Decimal(width) / 100 if adjacent else width)
        tiers.append(
            {
                "from_value": str(from_value) if adjacent else from_value,
                "to_value": str(to_value) if adjacent else to_value,
                "per_unit_amount": str(draw(amounts)),
                "flat_amount": str(draw(amounts)),
            }
        )
        from_value = to_value + (draw(st.sampled_from([0, 1])) if adjacent else 1)
    tiers.append(
        {
            "from_value": str(from_value) if adjacent else from_value,
            "to_value": None,
            "per_unit_amount": str(draw(amounts)),
            "flat_amount": str(draw(amounts)),
        }
    )
    return tiers


@given(st.one_of(tier_lists(), tier_lists(adjacent=True)), units_strategy)
def test_graduated_is_the_sum_of_its_tiers(ranges: list[dict[str, Any]], units: Decimal) -> None:
    properties = validate_charge_properties("graduated", {"graduated_ranges": ranges})
    assert isinstance(properties, GraduatedProperties)
    amount, details = price_graduated(properties, units)
    tiers = details["graduated_ranges"]
    assert amount == sum((tier["total_with_flat_amount"] for tier in tiers), Decimal(0))
    assert sum((tier["units"] for tier in tiers), Decimal(0)) == units
    assert amount >= 0


@given(tier_lists(), units_strategy)
def test_volume_picks_exactly_one_range(ranges: list[dict[str, Any]], units: Decimal) -> None:
    properties = validate_charge_properties("volume", {"volume_ranges": ranges})
    assert isinstance(properties, VolumeProperties)
    amount, details = price_volume(properties, units)
    if units == 0:
        # lago-api (#5760): no usage pays the first tier's flat amount.
        assert amount == properties.volume_ranges[0].flat_amount
        assert details["per_unit_amount"] == 0
        return
    containing = [
        r
        for index, r in enumerate(properties.volume_ranges)
        if units > (properties.volume_ranges[index - 1].to_value or 0 if index else -1)
        and (r.to_value is None or units <= r.to_value)
    ]
    assert len(containing) == 1
    assert amount == containing[0].flat_amount + units * containing[0].per_unit_amount
    assert details["per_unit_amount"] == containing[0].per_unit_amount


fee_strategy = st.builds(
    lambda index, cents, kind, metric: FeeInput(
        f"f{index}",
        cents,
        kind,
        plan_code="p",
        billable_metric_code=metric,
        taxes=(TaxRate("t", Decimal("20")),),
    ),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**7),
    st.sampled_from(["subscription", "charge", "add_on", "commitment"]),
    st.sampled_from(["api", "storage", None]),
)
coupon_strategy = st.builds(
    AppliedCouponInput,
    key=st.text(min_size=1, max_size=3),
    coupon_type=st.sampled_from(["fixed_amount", "percentage"]),
    frequency=st.sampled_from(["once", "recurring", "forever"]),
    amount_cents=st.integers(min_value=0, max_value=10**7),
    percentage_rate=st.decimals(min_value=0, max_value=100, places=2),
    frequency_duration_remaining=st.integers(min_value=1, max_value=12),
    billable_metric_codes=st.sampled_from([(), ("api",)]),
)


@given(
    st.lists(fee_strategy, max_size=6, unique_by=lambda fee: fee.key),
    st.lists(coupon_strategy, max_size=4),
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**7),
)
def test_coupons_never_exceed_the_base_and_totals_are_never_negative(
    fees: list[FeeInput], coupons: list[AppliedCouponInput], credit_notes: int, prepaid: int
) -> None:
    totals = compute_invoice(
        fees, coupons, credit_notes_available_cents=credit_notes, prepaid_credits_available_cents=prepaid
    )
    eligible = sum(fee.amount_cents for fee in fees if fee.fee_type != "add_on")
    assert 0 <= totals.coupons_amount_cents <= eligible
    for fee in totals.fees:
        assert fee.precise_coupons_amount_cents <= fee.amount_cents
    for value in (
        totals.sub_total_excluding_taxes_amount_cents,
        totals.taxes_amount_cents,
        totals.sub_total_including_taxes_amount_cents,
        totals.credit_notes_amount_cents,
        totals.prepaid_credit_amount_cents,
        totals.total_amount_cents,
    ):
        assert value >= 0
    assert totals.total_amount_cents == (
        totals.sub_total_including_taxes_amount_cents
        - totals.credit_notes_amount_cents
        - totals.prepaid_credit_amount_cents
    )


event_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=31 * 86400 - 1),
        st.one_of(
            st.integers(min_value=-50, max_value=1000),
            st.sampled_from(["abc", None, "2.5"]),
            st.sampled_from(["u1", "u2", "u3"]),
        ),
        st.sampled_from(["add", "remove"]),
    ),
    max_size=30,
)


def _events(raw: list[tuple[int, Any, str]]) -> list[UsageEvent]:
    return [
        UsageEvent(
            f"tx-{index}", START + timedelta(seconds=offset), {"v": value, "operation_type": operation}
        )
        for index, (offset, value, operation) in enumerate(raw)
    ]


@settings(max_examples=150)
@given(
    st.sampled_from(
        ["count_agg", "sum_agg", "max_agg", "latest_agg", "weighted_sum_agg", "unique_count_agg"]
    ),
    st.booleans(),
    event_strategy,
    st.lists(st.integers(min_value=0, max_value=30), max_size=4),
    st.randoms(use_true_random=False),
)
def test_folding_in_any_split_equals_folding_at_once(
    aggregation_type: str, recurring: bool, raw: list[tuple[int, Any, str]], cuts: list[int], rng: Any
) -> None:
    metric = MetricDefinition(
        "m", aggregation_type, None if aggregation_type == "count_agg" else "v", recurring=recurring
    )
    events = _events(raw)
    at_once = finalize(
        fold_events(
            new_state(metric, keep_event_values=KEEP_EVERY_EVENT_VALUE),
            sorted(events, key=lambda e: e.timestamp),
        ),
        START,
        END,
    )

    shuffled = list(events)
    rng.shuffle(shuffled)
    bounds = sorted({0, len(shuffled), *(min(cut, len(shuffled)) for cut in cuts)})
    parts = [
        fold_events(new_state(metric, keep_event_values=KEEP_EVERY_EVENT_VALUE), shuffled[a:b])
        for a, b in itertools.pairwise(bounds)
    ] or [new_state(metric, keep_event_values=KEEP_EVERY_EVENT_VALUE)]
    rng.shuffle(parts)
    combined = parts[0]
    for part in parts[1:]:
        combined = merge(combined, part)
    assert finalize(combined, START, END) == at_once


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=31 * 86400 - 1), st.integers(min_value=0, max_value=300)
        ),
        max_size=30,
    ),
    st.integers(min_value=0, max_value=2000),
    st.lists(st.integers(min_value=0, max_value=30), max_size=4),
    st.randoms(use_true_random=False),
)
def test_values_kept_until_a_total_are_the_prefix_lago_reads_in_any_order_and_split(
    raw: list[tuple[int, int]], cap: int, cuts: list[int], rng: Any
) -> None:
    # A percentage charge with only a free amount keeps the values lago-api reads: in time order, until the
    # running total passes the cap (non-negative values: a later, earlier-stamped value only shortens it).
    metric = MetricDefinition("m", "sum_agg", "v")
    events = [UsageEvent(f"tx-{i}", START + timedelta(seconds=t), {"v": v}) for i, (t, v) in enumerate(raw)]
    ordered = [e.properties["v"] for e in sorted(events, key=lambda e: (e.timestamp, e.transaction_id))]
    expected, total = [], 0
    for value in ordered:
        if total > cap:
            break
        total += value
        expected.append(Decimal(value))

    shuffled = list(events)
    rng.shuffle(shuffled)
    bounds = sorted({0, len(shuffled), *(min(cut, len(shuffled)) for cut in cuts)})
    parts = [
        fold_events(new_state(metric, keep_values_until=Decimal(cap)), shuffled[a:b])
        for a, b in itertools.pairwise(bounds)
    ] or [new_state(metric, keep_values_until=Decimal(cap))]
    combined = parts[0]
    for part in parts[1:]:
        combined = merge(combined, part)
    assert list(finalize(combined, START, END).event_values) == expected
