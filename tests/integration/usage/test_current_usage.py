"""GET /customers/{id}/current_usage: events through the real aggregator, priced by the engine — every
charge model and aggregation type, filters, groups, a period boundary, taxes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.ingestion.conftest import charge, create_metric, create_plan, event, subscribe
from tests.integration.usage.conftest import current_usage, send


def test_standard_sum_usage_in_the_current_period(api, org, stream):
    # Given a sum of gb at 0.5 per gb
    metric = create_metric(api)
    plan = create_plan(api, charges=[charge(metric, properties={"amount": "0.5"})])
    subscribe(api)
    # When three events arrive in January
    send(api, stream, event("tx_1", gb=10), event("tx_2", gb=20), event("tx_3", gb=5))
    # Then January's usage is 35 gb, 17.50
    usage = current_usage(api)
    assert usage["from_datetime"] == "2024-01-01T00:00:00Z"
    assert usage["to_datetime"] == "2024-01-31T23:59:59Z"
    assert usage["issuing_date"] == "2024-02-01"
    assert usage["currency"] == "USD"
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"]) == (
        1750,
        0,
        1750,
    )
    [charge_usage] = usage["charges_usage"]
    assert charge_usage["units"] == "35"
    assert charge_usage["total_aggregated_units"] == "35"
    assert charge_usage["events_count"] == 3
    assert charge_usage["amount_cents"] == 1750
    assert charge_usage["amount_currency"] == "USD"
    assert charge_usage["charge"]["lago_id"] == plan["charges"][0]["lago_id"]
    assert charge_usage["billable_metric"]["code"] == "storage"
    assert charge_usage["filters"] == [] and charge_usage["grouped_usage"] == []


CHARGE_MODELS = [
    # (charge model, properties, gb of each event, amount_cents)
    ("standard", {"amount": "0.25"}, (10, 5), 375),
    # 15 units: tier 1 = 10 x 1 + flat 2, tier 2 = 5 x 0.5
    (
        "graduated",
        {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "2"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
            ]
        },
        (8, 7),
        1450,
    ),
    # 15 units fall in the second tier: 15 x 0.5 + flat 3
    (
        "volume",
        {
            "volume_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "3"},
            ]
        },
        (8, 7),
        1050,
    ),
    # 16 units, 5 free: 11 paid units = 2 started packages of 10 at 10
    ("package", {"amount": "10", "package_size": 10, "free_units": 5}, (9, 7), 2000),
    # first event (100) free; 2 % of 50 + 0.10 fixed fee for the one paid event
    ("percentage", {"rate": "2", "fixed_amount": "0.1", "free_units_per_events": 1}, (100, 50), 110),
    # 150: 1 % of the first 100, 2 % of the next 50 + flat 1
    (
        "graduated_percentage",
        {
            "graduated_percentage_ranges": [
                {"from_value": 0, "to_value": 100, "rate": "1", "flat_amount": "0"},
                {"from_value": 101, "to_value": None, "rate": "2", "flat_amount": "1"},
            ]
        },
        (100, 50),
        300,
    ),
]


@pytest.mark.parametrize(("model", "properties", "values", "amount_cents"), CHARGE_MODELS)
def test_every_charge_model(api, org, stream, model, properties, values, amount_cents):
    # Given a sum of gb priced with the model
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, charge_model=model, properties=properties)])
    subscribe(api)
    # When the events are aggregated
    send(api, stream, *(event(f"tx_{i}", gb=gb) for i, gb in enumerate(values)))
    # Then the usage is priced by the model, exactly
    usage = current_usage(api)
    [charge_usage] = usage["charges_usage"]
    assert charge_usage["units"] == str(sum(values))
    assert charge_usage["amount_cents"] == amount_cents
    assert usage["amount_cents"] == amount_cents


def test_no_usage_shows_the_first_tiers_flat_amounts(api, org, stream):
    # Given graduated (flat 2.00) and volume (flat 0.75) charges and no event yet
    metric = create_metric(api)
    graduated = CHARGE_MODELS[1][1]
    volume = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0.75"},
            {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "3"},
        ]
    }
    create_plan(
        api,
        charges=[
            charge(metric, charge_model="graduated", properties=graduated),
            charge(metric, charge_model="volume", properties=volume),
        ],
    )
    subscribe(api)
    # Then the current usage already owes both flat amounts, at 0 units (lago-api #5760)
    usage = current_usage(api)
    assert [(c["charge"]["charge_model"], c["units"], c["amount_cents"]) for c in usage["charges_usage"]] == [
        ("graduated", "0", 200),
        ("volume", "0", 75),
    ]
    assert usage["amount_cents"] == 275 and usage["total_amount_cents"] == 275


def test_decimal_adjacent_graduated_tiers_price_each_slice(api, org, stream):
    # Given tiers of 0 → 0.1 TB at 10, 0.1 → 1 TB at 5 and 1 TB and more at 1 (lago-api #5269's example)
    metric = create_metric(api)
    ranges = [
        {"from_value": 0, "to_value": 0.1, "per_unit_amount": "10", "flat_amount": "0"},
        {"from_value": 0.1, "to_value": 1, "per_unit_amount": "5", "flat_amount": "0"},
        {"from_value": 1, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
    ]
    create_plan(
        api, charges=[charge(metric, charge_model="graduated", properties={"graduated_ranges": ranges})]
    )
    subscribe(api)
    # When 1.5 TB are used
    send(api, stream, event("tx_1", gb="1.5"))
    # Then 0.1 x 10 + 0.9 x 5 + 0.5 x 1 = 6.00
    [charge_usage] = current_usage(api)["charges_usage"]
    assert (charge_usage["units"], charge_usage["amount_cents"]) == ("1.5", 600)


def test_percentage_with_only_a_free_amount_frees_the_transactions_below_it(api, org, stream):
    # Given 1 % + 0.50 per transaction, the first 500 free (no free transaction count)
    metric = create_metric(api)
    properties = {"rate": "1", "fixed_amount": "0.5", "free_units_per_total_aggregation": "500"}
    create_plan(api, charges=[charge(metric, charge_model="percentage", properties=properties)])
    subscribe(api)
    # When ten transactions of 100 arrive, the latest first and in two batches
    days = [f"2024-01-{day:02d}T10:00:00Z" for day in range(2, 12)]
    send(api, stream, *(event(f"tx_{day}", at=day, gb=100) for day in reversed(days[5:])))
    send(api, stream, *(event(f"tx_{day}", at=day, gb=100) for day in days[:5]))
    # Then, as lago-api counts them, the running totals 100…400 stay below 500: 4 free transactions,
    # 1 % of 500 + 6 x 0.50 = 8.00
    [charge_usage] = current_usage(api)["charges_usage"]
    assert (charge_usage["units"], charge_usage["events_count"], charge_usage["amount_cents"]) == (
        "1000",
        10,
        800,
    )


def test_dynamic_charge_sums_the_events_amounts(api, org, stream):
    # Given a dynamic charge: each event carries its own price
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, charge_model="dynamic", properties={})])
    subscribe(api)
    first, second = event("tx_1", gb=1), event("tx_2", gb=2)
    first["precise_total_amount_cents"] = "120.4"
    second["precise_total_amount_cents"] = "80.2"
    send(api, stream, first, second)
    # Then the usage is the sum of their amounts, rounded once
    [charge_usage] = current_usage(api)["charges_usage"]
    assert charge_usage["amount_cents"] == 201
    assert charge_usage["units"] == "3"


AGGREGATIONS: list[tuple[dict[str, Any], list[dict[str, Any]], str, int]] = [
    ({"aggregation_type": "count_agg", "field_name": None}, [{}, {}, {}], "3", 300),
    ({"aggregation_type": "max_agg"}, [{"gb": 10}, {"gb": 20}, {"gb": 5}], "20", 2000),
    (
        {"aggregation_type": "unique_count_agg", "field_name": "user"},
        [{"user": "a"}, {"user": "b"}, {"user": "a"}],
        "2",
        200,
    ),
]


@pytest.mark.parametrize(("metric_fields", "properties", "units", "amount_cents"), AGGREGATIONS)
def test_aggregation_types(api, org, stream, metric_fields, properties, units, amount_cents):
    metric = create_metric(api, **metric_fields)
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    send(api, stream, *(event(f"tx_{i}", **props) for i, props in enumerate(properties)))
    [charge_usage] = current_usage(api)["charges_usage"]
    assert (charge_usage["units"], charge_usage["amount_cents"]) == (units, amount_cents)
    assert charge_usage["billable_metric"]["aggregation_type"] == metric_fields["aggregation_type"]


def test_latest_agg_takes_the_latest_event_by_timestamp(api, org, stream):
    metric = create_metric(api, aggregation_type="latest_agg")
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    send(
        api,
        stream,
        event("tx_1", at="2024-01-15T00:00:00Z", gb=10),
        event("tx_2", at="2024-01-16T00:00:00Z", gb=5),
        event("tx_3", at="2024-01-14T00:00:00Z", gb=20),
    )
    [charge_usage] = current_usage(api)["charges_usage"]
    assert (charge_usage["units"], charge_usage["amount_cents"]) == ("5", 500)


def test_weighted_sum_over_the_period(api, org, stream):
    # Given +10 gb from January 1st and +10 gb more from January 16th (31 days)
    metric = create_metric(api, aggregation_type="weighted_sum_agg")
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    send(
        api,
        stream,
        event("tx_1", at="2024-01-01T00:00:00Z", gb=10),
        event("tx_2", at="2024-01-16T00:00:00Z", gb=10),
    )
    # Then units = (10 x 15 + 20 x 16) / 31 = 15.16…, ceiled to 20 decimals as lago-api does, 15.16 at 1
    # per unit; the total aggregated units are the level reached, 20
    [charge_usage] = current_usage(api)["charges_usage"]
    assert charge_usage["units"] == "15.1612903225806451613"
    assert charge_usage["total_aggregated_units"] == "20"
    assert charge_usage["amount_cents"] == 1516


def test_weighted_sum_of_a_first_partial_period_divides_by_the_whole_month(api, org, stream, clock):
    # Given lago-api's weighted_sum_agg_spec: a recurring weighted sum at 1 per unit, subscribed on March 5th
    # 2023, and +2500 that day
    metric = create_metric(api, aggregation_type="weighted_sum_agg", recurring=True)
    create_plan(api, amount_cents=0, charges=[charge(metric)])
    subscribe(api, subscription_at="2023-03-05T00:00:00Z")
    send(api, stream, event("tx_1", at="2023-03-05T00:00:00Z", gb=2500))
    # Then the units are 2500 x 27/31 days of March (lago-api: `charges_duration`), not 2500
    clock.set("2023-03-05T12:00:00Z")
    usage = current_usage(api)
    [charge_usage] = usage["charges_usage"]
    assert charge_usage["units"] == "2177.41935483870967741936"
    assert (charge_usage["total_aggregated_units"], usage["total_amount_cents"]) == ("2500", 217742)


def test_recurring_sum_carries_into_the_next_period(api, org, stream, clock):
    # Given a recurring sum: +10 seats in January, +5 in February
    metric = create_metric(api, recurring=True)
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    send(
        api,
        stream,
        event("tx_1", at="2024-01-10T00:00:00Z", gb=10),
        event("tx_2", at="2024-02-10T00:00:00Z", gb=5),
    )
    # Then February's usage counts the 10 carried and the 5 added, and both events: lago-api counts a
    # recurring sum's events since the subscription started
    clock.set("2024-02-20T00:00:00Z")
    usage = current_usage(api)
    assert usage["from_datetime"] == "2024-02-01T00:00:00Z"
    [charge_usage] = usage["charges_usage"]
    assert (charge_usage["units"], charge_usage["events_count"], charge_usage["amount_cents"]) == (
        "15",
        2,
        1500,
    )
    # And March, without events, still both
    clock.set("2024-03-20T00:00:00Z")
    [march] = current_usage(api)["charges_usage"]
    assert (march["units"], march["events_count"], march["amount_cents"]) == ("15", 2, 1500)


def test_filters_price_each_filter_and_the_default(api, org, stream):
    # Given storage filtered by region: eu at 2, us at 3, anything else at the default 1
    metric = create_metric(api, filters=[{"key": "region", "values": ["eu", "us"]}])
    create_plan(
        api,
        charges=[
            charge(
                metric,
                filters=[
                    {
                        "values": {"region": ["eu"]},
                        "properties": {"amount": "2"},
                        "invoice_display_name": "EU",
                    },
                    {"values": {"region": ["us"]}, "properties": {"amount": "3"}},
                ],
            )
        ],
    )
    subscribe(api)
    send(
        api, stream, event("tx_1", gb=10, region="eu"), event("tx_2", gb=5, region="us"), event("tx_3", gb=1)
    )
    # Then each filter is priced with its own price: 20 + 15 + 1
    [charge_usage] = current_usage(api)["charges_usage"]
    assert charge_usage["amount_cents"] == 3600
    assert charge_usage["units"] == "16"
    by_values = {str(f["values"]): f for f in charge_usage["filters"]}
    assert by_values["{'region': ['eu']}"]["amount_cents"] == 2000
    assert by_values["{'region': ['eu']}"]["invoice_display_name"] == "EU"
    assert by_values["{'region': ['us']}"]["amount_cents"] == 1500
    assert by_values["{}"]["amount_cents"] == 100
    assert by_values["{}"]["events_count"] == 1


def test_grouped_usage_prices_each_group(api, org, stream):
    # Given a graduated charge grouped by cloud: the first 2 units of each group at 1, then 0.5
    metric = create_metric(api)
    ranges = [
        {"from_value": 0, "to_value": 2, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 3, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    create_plan(
        api,
        charges=[
            charge(
                metric,
                charge_model="graduated",
                properties={"graduated_ranges": ranges, "pricing_group_keys": ["cloud"]},
            )
        ],
    )
    subscribe(api)
    send(api, stream, event("tx_1", gb=4, cloud="aws"), event("tx_2", gb=3, cloud="gcp"))
    # Then aws: 2 + 1 = 3.00, gcp: 2 + 0.5 = 2.50 — tiers apply per group
    [charge_usage] = current_usage(api)["charges_usage"]
    groups = {g["grouped_by"]["cloud"]: g for g in charge_usage["grouped_usage"]}
    assert groups["aws"]["amount_cents"] == 300 and groups["aws"]["units"] == "4"
    assert groups["gcp"]["amount_cents"] == 250 and groups["gcp"]["events_count"] == 1
    assert charge_usage["amount_cents"] == 550


def test_period_boundary_splits_the_usage(api, org, stream, clock):
    # Given one call on the last second of January and one on the first second of February
    metric = create_metric(api, "calls", aggregation_type="count_agg", field_name=None)
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    send(
        api,
        stream,
        event("tx_1", code="calls", at="2024-01-31T23:59:59Z"),
        event("tx_2", code="calls", at="2024-02-01T00:00:00Z"),
        event("tx_3", code="calls", at="2024-02-02T00:00:00Z"),
    )
    # Then January holds one and February two
    clock.set("2024-01-31T23:59:59Z")
    assert current_usage(api)["charges_usage"][0]["units"] == "1"
    clock.set("2024-02-01T00:00:00Z")
    february = current_usage(api)
    assert february["charges_usage"][0]["units"] == "2"
    assert february["from_datetime"] == "2024-02-01T00:00:00Z"
    assert february["to_datetime"] == "2024-02-29T23:59:59Z"


def test_taxes_apply_unless_apply_taxes_is_false(api, org, stream):
    # Given a 20 % tax on the plan
    assert api.post("/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}}).status == 200
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric, properties={"amount": "0.5"})], tax_codes=["vat"])
    subscribe(api)
    send(api, stream, event("tx_1", gb=35))
    # Then 17.50 + 3.50 tax
    usage = current_usage(api)
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"]) == (
        1750,
        350,
        2100,
    )
    # And without taxes
    untaxed = current_usage(api, apply_taxes="false")
    assert (untaxed["taxes_amount_cents"], untaxed["total_amount_cents"]) == (0, 1750)


def test_unknown_customer_or_subscription_is_404(api, org, stream):
    metric = create_metric(api)
    create_plan(api, charges=[charge(metric)])
    subscribe(api)
    response = api.get("/customers/nobody/current_usage", query={"external_subscription_id": "sub_1"})
    assert (response.status, response.json["code"]) == (404, "customer_not_found")
    response = api.get("/customers/cus_1/current_usage", query={"external_subscription_id": "nope"})
    assert (response.status, response.json["code"]) == (404, "subscription_not_found")


def test_current_usage_reads_the_same_whatever_the_number_of_events(api, org, stream, monkeypatch):
    # Given a charge with two filters and a group key, and 10 events over both filters and three groups
    import botocore.client

    metric = create_metric(api, filters=[{"key": "region", "values": ["eu", "us"]}])
    create_plan(
        api,
        charges=[
            charge(
                metric,
                properties={"amount": "1", "pricing_group_keys": ["cloud"]},
                filters=[
                    {
                        "values": {"region": ["eu"]},
                        "properties": {"amount": "2", "pricing_group_keys": ["cloud"]},
                    },
                    {
                        "values": {"region": ["us"]},
                        "properties": {"amount": "3", "pricing_group_keys": ["cloud"]},
                    },
                ],
            )
        ],
    )
    subscribe(api)

    def events(first: int, count: int) -> list[dict[str, Any]]:
        return [
            event(f"tx_{n}", gb=1, region=("eu", "us")[n % 2], cloud=("aws", "gcp", "azure")[n % 3])
            for n in range(first, first + count)
        ]

    calls: list[tuple[str, int]] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = real(client, operation, params)
        if client.meta.service_model.service_name == "dynamodb":
            calls.append((operation, len(answer.get("Items", [])) if isinstance(answer, dict) else 0))
        return answer

    def reads_of_one_call() -> tuple[list[tuple[str, int]], int]:
        calls.clear()
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
        try:
            amount = current_usage(api)["amount_cents"]
        finally:
            monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)
        return list(calls), amount

    send(api, stream, *events(0, 10))
    few, few_amount = reads_of_one_call()
    # When 1,000 more events arrive in the same buckets
    send(api, stream, *events(10, 1000))
    many, many_amount = reads_of_one_call()
    # Then the call makes the same DynamoDB requests and reads the same number of items (one aggregate per
    # filter x group bucket), while the amount follows the events: 505 eu x 2 + 505 us x 3
    assert many_amount == 505 * 200 + 505 * 300 and few_amount == 5 * 200 + 5 * 300
    assert many == few and ("Query", 6) in many, many
    assert sum(items for operation, items in many if operation == "Query") <= 2 * 3 + 2
