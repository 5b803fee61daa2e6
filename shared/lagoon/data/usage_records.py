"""PynamoDB models of the usage tables (events and aggregates) — the schema, documented in one place.

The aggregator's hot path writes these items with batched low-level calls (lagoon.data.usage_store); the
models describe the same items for reads by the API and the billing modules. Attribute names are short on
purpose: DynamoDB bills a write per started KB *including attribute names* (docs/ingestion.md "Cost").

EventsTable (pk, sk):
- event            pk `ev#<org>#<transaction_id>`, sk `<external_subscription_id>` — one per event, first
                   write wins; the key serves the dedupe check and `GET /events/{transaction_id}`.
- event page       pk `pg#<org>#<UTC day of the events>`, sk `<external_subscription_id>#<first sequence>` —
                   the keys of one subscription's events in one aggregator batch (zlib JSON), for `GET /events`.
- event day        pk `days#<org>`, sk `<UTC day>` — which days have pages.
- error batch      pk `err#<UTC hour>`, sk `<org>#<external_subscription_id>#<first sequence>` — invalid
                   events by category, read by the hourly `events.errors` report.
- orphan batch     pk `orph#<org>#<external_subscription_id>`, sk `<first sequence>` — events that arrived
                   before their subscription existed, replayed when it is created.
AggregatesTable (pk, sk):
- aggregate        pk `<org>#<subscription lago_id>`, sk `<charges period from>#<charge>#<filter>#<group>` —
                   the running aggregate (engine AggregationState of the events of that period only) and the
                   per-shard sequence watermark of the stream records already folded into it.
- period closed    pk `<org>#<subscription lago_id>`, sk `closed#<charges period from>` — set by invoicing;
                   with `ms = draft` (a draft invoice covers it) the period still counts late events.
- draft to refresh pk `drafts_to_refresh`, sk `<org>#<invoice lago_id>`, `at` — set by the aggregator when
                   events land in a draft's period; the billing run refreshes the draft and removes it.
"""

from __future__ import annotations

from pynamodb.attributes import BinaryAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from lagoon.data.connection import table_model


@table_model("events_table")
class UsageEventRecord(Model):
    """Any item of EventsTable (events, pages, days, errors, orphans), by its generic attributes."""

    class Meta:
        table_name = "lagoon-events"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    code = UnicodeAttribute(null=True, attr_name="c")
    timestamp_us = NumberAttribute(null=True, attr_name="t")
    properties = UnicodeAttribute(null=True, attr_name="p")
    precise_total_amount_cents = UnicodeAttribute(null=True, attr_name="a")
    received_ms = NumberAttribute(null=True, attr_name="r")
    source = UnicodeAttribute(null=True, attr_name="src")
    status = UnicodeAttribute(null=True, attr_name="st")
    lago_subscription_id = UnicodeAttribute(null=True, attr_name="ls")
    lago_customer_id = UnicodeAttribute(null=True, attr_name="lc")
    external_subscription_id = UnicodeAttribute(null=True, attr_name="s")
    organization_id = UnicodeAttribute(null=True, attr_name="o")
    entries = BinaryAttribute(null=True, legacy_encoding=False, attr_name="e")
    body = UnicodeAttribute(null=True, attr_name="b")
    expires_at = TTLAttribute(null=True)


@table_model("aggregates_table")
class AggregateRecord(Model):
    """A running aggregate or a period-closed marker (AggregatesTable)."""

    class Meta:
        table_name = "lagoon-aggregates"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    state = UnicodeAttribute(null=True, attr_name="st")
    watermarks = UnicodeAttribute(null=True, attr_name="wm")
    charge_id = UnicodeAttribute(null=True, attr_name="ch")
    billable_metric_id = UnicodeAttribute(null=True, attr_name="m")
    charge_filter_id = UnicodeAttribute(null=True, attr_name="f")
    grouped_by = UnicodeAttribute(null=True, attr_name="g")
    period_from = UnicodeAttribute(null=True, attr_name="pf")
    period_to = UnicodeAttribute(null=True, attr_name="pt")
    updated_at = UnicodeAttribute(null=True, attr_name="u")
