"""Engine benchmark: events folded per second (count/sum/max) and charges priced per second.

Run from the repository root: `python -m bench.engine.run`. Goals (issue 4): >= 200k events/s per core for
count/sum/max; >= 50k prices/s for a 10-tier graduated charge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from lagoon.engine.aggregation_state import new_state
from lagoon.engine.charge_models import price_graduated, tier_table
from lagoon.engine.charges import price_charge
from lagoon.engine.folding import fold
from lagoon.engine.metric_definitions import MetricDefinition, UsageEvent
from lagoon.engine.period_units import AggregationResult
from lagoon.engine.properties import GraduatedProperties, validate_charge_properties

EVENTS = 200_000
PRICES = 50_000
GOAL_EVENTS_PER_SECOND = 200_000
GOAL_PRICES_PER_SECOND = 50_000


def _events(count: int) -> list[UsageEvent]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        UsageEvent(f"tx-{index}", start + timedelta(seconds=index), {"gb": str(index % 97), "region": "eu"})
        for index in range(count)
    ]


def _best_rate(operations: int, run: Callable[[], None], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return operations / best


def bench_fold(aggregation_type: str, events: list[UsageEvent]) -> float:
    """Events folded per second, one event at a time through the public `fold`."""
    metric = MetricDefinition("storage", aggregation_type, None if aggregation_type == "count_agg" else "gb")

    def run() -> None:
        state = new_state(metric)
        for event in events:
            fold(state, event)

    return _best_rate(len(events), run)


def _ten_tier_graduated() -> GraduatedProperties:
    ranges = []
    for tier in range(10):
        ranges.append(
            {
                "from_value": 0 if tier == 0 else tier * 100 + 1,
                "to_value": None if tier == 9 else (tier + 1) * 100,
                "per_unit_amount": str(Decimal("1.5") - Decimal(tier) / 10),
                "flat_amount": "2",
            }
        )
    properties = validate_charge_properties("graduated", {"graduated_ranges": ranges})
    assert isinstance(properties, GraduatedProperties)
    return properties


def bench_graduated_price_charge(properties: GraduatedProperties) -> float:
    """Full `price_charge` (tiers prepared each call, fee rounded, details) on units in the last tier."""
    aggregations = [
        AggregationResult(
            units=Decimal(950 + index % 50), events_count=10, total_aggregated_units=Decimal(950)
        )
        for index in range(PRICES)
    ]

    def run() -> None:
        for aggregation in aggregations:
            price_charge("graduated", properties, aggregation, "EUR")

    return _best_rate(PRICES, run)


def bench_graduated_prepared(properties: GraduatedProperties) -> float:
    """`price_graduated` with a precomputed `tier_table`, as a usage loop over many subscriptions would."""
    tiers = tier_table(properties.graduated_ranges)
    units = [Decimal(950 + index % 50) for index in range(PRICES)]

    def run() -> None:
        for value in units:
            price_graduated(tiers, value)

    return _best_rate(PRICES, run)


def main() -> None:
    events = _events(EVENTS)
    print(f"events folded per second ({EVENTS:,} events, best of 3; goal >= {GOAL_EVENTS_PER_SECOND:,}):")
    for aggregation_type in ("count_agg", "sum_agg", "max_agg"):
        rate = bench_fold(aggregation_type, events)
        verdict = "ok" if rate >= GOAL_EVENTS_PER_SECOND else "BELOW GOAL"
        print(f"  {aggregation_type:<10} {rate:>12,.0f} events/s  {verdict}")
    properties = _ten_tier_graduated()
    print(f"10-tier graduated charges priced per second (goal >= {GOAL_PRICES_PER_SECOND:,}):")
    for label, bench in (
        ("price_charge", bench_graduated_price_charge),
        ("price_graduated (prepared tiers)", bench_graduated_prepared),
    ):
        rate = bench(properties)
        verdict = "ok" if rate >= GOAL_PRICES_PER_SECOND else "BELOW GOAL"
        print(f"  {label:<33} {rate:>10,.0f} prices/s  {verdict}")


if __name__ == "__main__":
    main()
