"""The service invoicing calls: a subscription's charges priced from the running aggregates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe


def _models(org_id: str, external_id: str = "sub_1"):
    from lagoon.data import subscriptions
    from lagoon.services.catalog import plans

    subscription = subscriptions.get_subscription(org_id, external_id)
    plan = plans.get_plan_by_id(org_id, subscription.plan_id)
    return subscription, plan


def test_charges_usage_prices_each_bucket_from_the_aggregates(api, org, stream):
    # Given a sum of gb at 0.5 per gb and three events in January
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, properties={"amount": "0.5"})])
    subscribe(api)
    for i, gb in enumerate((10, 20, 5)):
        api.post("/events", {"event": event(f"tx_{i}", gb=gb)})
    stream.drain()
    # When invoicing prices January's charges
    from lagoon.services.usage.charges import charges_usage
    from lagoon.services.usage.current import subscription_usage

    subscription, plan = _models(org.id)
    [result] = charges_usage(
        org.id, subscription, plan, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    )
    # Then 35 gb cost 17.50
    assert result.units == Decimal(35)
    assert result.events_count == 3
    assert result.amount_cents == 1750
    assert result.precise_amount == Decimal("17.5")
    assert result.charge_filter is None and result.grouped_by is None
    # And the subscription's totals say the same (no taxes)
    usage = subscription_usage(org.id, subscription, at=datetime(2024, 1, 20, tzinfo=UTC))
    assert (usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents) == (1750, 0, 1750)
    # And February has nothing yet
    [february] = charges_usage(
        org.id, subscription, plan, datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
    )
    assert february.amount_cents == 0 and february.events_count == 0
