"""The objects a fuzzed request can name: a small organization seeded through the API once, which every case
starts from (tests/fuzz/conftest.py).

Codes and ids follow the examples of Lago's OpenAPI file (customer `5eb02857-…`, plan `startup`, coupon
`startup_deal`, add-on `setup_fee`, tax `french_standard_vat`, subscription `sub_1234567890`…), so the cases
schemathesis builds from those examples reach existing objects. Ids the server draws (invoices, fees, webhook
endpoints, applied coupons) are read back; `FuzzWorld` offers them all to the generator's hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CUSTOMER = "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba"  # Lago's example customer, also an example subscription id
DRAFTS_CUSTOMER = "hooli_1234"  # with a grace period: its period invoices stay drafts
SUBSCRIPTION = "sub_1234567890"
TRANSACTION = "transaction_1234567890"

Request = Callable[..., Any]
"""`request(method, path, body)` → a response with `.status` and `.json` (tests.conftest.ApiClient.request)."""


@dataclass
class FuzzWorld:
    """Values a generated path parameter or body reference may take, by where they are used."""

    path_values: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(first path segment, parameter name) → existing ids, e.g. ("plans", "code") → ["startup", "premium"]."""
    references: dict[str, list[Any]] = field(default_factory=dict)
    """Body field or query parameter name → existing values, e.g. "plan_code" → ["startup", "premium"]."""

    def path_value(self, path: str, name: str, pick: int) -> str | None:
        values = self.path_values.get((path.strip("/").split("/")[0], name))
        return values[pick % len(values)] if values else None

    def reference(self, name: str, pick: int) -> Any:
        values = self.references.get(name)
        return values[pick % len(values)] if values else None


CURRENT = FuzzWorld()
"""The world being fuzzed: the generator's hooks are built when the test module loads, the world after."""


def _ok(response: Any, what: str) -> dict[str, Any]:
    assert response.status == 200, (
        f"seeding the fuzz world ({what}): {response.status} {response.body[:500]!r}"
    )
    return response.json  # type: ignore[no-any-return]


TAX = {"tax": {"name": "VAT", "code": "french_standard_vat", "rate": "20.0"}}
METRICS = [
    {
        "billable_metric": {
            "name": "Storage",
            "code": "storage",
            "aggregation_type": "sum_agg",
            "field_name": "gb",
        }
    },
    {"billable_metric": {"name": "API requests", "code": "api_requests", "aggregation_type": "count_agg"}},
]
ADD_ON = {"add_on": {"name": "Setup", "code": "setup_fee", "amount_cents": 12000, "amount_currency": "USD"}}
COUPON = {
    "coupon": {
        "name": "Startup deal",
        "code": "startup_deal",
        "coupon_type": "fixed_amount",
        "amount_cents": 2000,
        "amount_currency": "USD",
        "frequency": "recurring",
        "frequency_duration": 3,
        "expiration": "no_expiration",
    }
}
CUSTOMERS = [
    {"customer": {"external_id": CUSTOMER, "name": "Example", "currency": "USD"}},
    {
        "customer": {
            "external_id": DRAFTS_CUSTOMER,
            "name": "Hooli",
            "currency": "USD",
            "billing_configuration": {"invoice_grace_period": 3},
        }
    },
]
EVENT = {
    "event": {
        "transaction_id": TRANSACTION,
        "external_subscription_id": SUBSCRIPTION,
        "code": "storage",
        "properties": {"gb": 12},
    }
}
ONE_OFF_INVOICE = {
    "invoice": {"external_customer_id": CUSTOMER, "fees": [{"add_on_code": "setup_fee", "units": "2"}]}
}
WEBHOOK_ENDPOINT = {
    "webhook_endpoint": {"webhook_url": "https://example.com/webhooks", "signature_algo": "hmac"}
}


def _plans(storage_id: str, requests_id: str) -> list[dict[str, Any]]:
    """`startup` (in arrears, a standard charge) and `premium` (in advance, standard and graduated charges)."""
    standard = {"billable_metric_id": storage_id, "charge_model": "standard", "properties": {"amount": "0.5"}}
    tiers = [
        {"from_value": 0, "to_value": 10, "flat_amount": "10", "per_unit_amount": "0.5"},
        {"from_value": 11, "to_value": None, "flat_amount": "0", "per_unit_amount": "0.4"},
    ]
    graduated = {
        "billable_metric_id": requests_id,
        "charge_model": "graduated",
        "properties": {"graduated_ranges": tiers},
    }
    common = {"interval": "monthly", "amount_currency": "USD", "tax_codes": ["french_standard_vat"]}
    return [
        {
            "plan": {
                **common,
                **{"name": "Startup", "code": "startup", "amount_cents": 10000, "pay_in_advance": False},
                "charges": [standard],
            }
        },
        {
            "plan": {
                **common,
                **{"name": "Premium", "code": "premium", "amount_cents": 50000, "pay_in_advance": True},
                "charges": [standard, graduated],
            }
        },
    ]


def _subscriptions() -> list[dict[str, Any]]:
    """Both customers subscribed since 40 days ago (a period to bill), the second one with Lago's other example
    subscription id."""
    started = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    common = {"subscription_at": started, "billing_time": "calendar"}
    return [
        {
            "subscription": {
                **common,
                **{"external_customer_id": CUSTOMER, "external_id": SUBSCRIPTION, "plan_code": "startup"},
            }
        },
        {
            "subscription": {
                **common,
                **{"external_customer_id": DRAFTS_CUSTOMER, "external_id": CUSTOMER, "plan_code": "premium"},
            }
        },
    ]


def seed_world(request: Request, aggregate: Callable[[], Any], bill: Callable[[datetime], Any]) -> FuzzWorld:
    """Create the catalog, two customers with subscriptions, an aggregated event, an applied coupon, a one-off
    invoice, this month's invoices (one a draft) and a webhook endpoint; return what can be named.
    `aggregate()` runs the aggregator on the stream, `bill(moment)` the billing run."""

    def post(path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        return _ok(request("POST", path, body), what)

    post("/taxes", TAX, "tax")
    metrics = [post("/billable_metrics", body, "metric")["billable_metric"]["lago_id"] for body in METRICS]
    for body in _plans(*metrics):
        post("/plans", body, "plan")
    post("/add_ons", ADD_ON, "add-on")
    post("/coupons", COUPON, "coupon")
    for body in CUSTOMERS:
        post("/customers", body, "customer")
    for body in _subscriptions():
        post("/subscriptions", body, "subscription")
    applied = post(
        "/applied_coupons",
        {"applied_coupon": {"external_customer_id": CUSTOMER, "coupon_code": "startup_deal"}},
        "applied coupon",
    )
    post("/events", EVENT, "event")
    aggregate()
    post("/invoices", ONE_OFF_INVOICE, "one-off invoice")
    endpoint = post("/webhook_endpoints", WEBHOOK_ENDPOINT, "webhook endpoint")["webhook_endpoint"]
    now = datetime.now(UTC)
    bill(
        (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=1)
    )  # this month: finalized and a draft
    invoices = [
        invoice["lago_id"] for invoice in _ok(request("GET", "/invoices", None), "invoices")["invoices"]
    ]
    fees = [fee["lago_id"] for fee in _ok(request("GET", "/fees", None), "fees")["fees"]]
    customers = [CUSTOMER, DRAFTS_CUSTOMER]
    subscriptions = [SUBSCRIPTION, CUSTOMER]
    plans = ["startup", "premium"]
    return FuzzWorld(
        path_values={
            ("customers", "external_customer_id"): customers,
            ("customers", "applied_coupon_id"): [applied["applied_coupon"]["lago_id"]],
            ("subscriptions", "external_id"): subscriptions,
            ("plans", "code"): plans,
            ("billable_metrics", "code"): ["storage", "api_requests"],
            ("taxes", "code"): ["french_standard_vat"],
            ("add_ons", "code"): ["setup_fee"],
            ("coupons", "code"): ["startup_deal"],
            ("invoices", "lago_id"): invoices,
            ("fees", "lago_id"): fees,
            ("webhook_endpoints", "lago_id"): [endpoint["lago_id"]],
            ("events", "transaction_id"): [TRANSACTION],
        },
        references={
            "external_customer_id": customers,
            "external_subscription_id": subscriptions,
            "plan_code": plans,
            "coupon_code": ["startup_deal"],
            "add_on_code": ["setup_fee"],
            "billable_metric_id": metrics,
            "billable_metric_code": ["storage", "api_requests"],
            "tax_codes": [["french_standard_vat"]],
            "invoice_id": invoices,
        },
    )
