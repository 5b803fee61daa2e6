"""The hourly `events.errors` report: per organization, the transaction ids of the events the aggregator
found invalid in the previous hour, by category (DECISIONS.md "Events"; EventsErrorsObject).

The aggregator files invalid events under the hour their batch arrived (`err#<hour>`). Each organization's
report is one outbox message whose id derives from (organization, hour): a re-run never sends it twice.
Lagoon adds two categories to Lago's three when they are not empty: `unknown_subscription` (stored, not
counted) and `invalid_event` (rejected from a direct stream producer), see docs/ingestion.md.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from lagoon import errors
from lagoon.data import entities
from lagoon.data.usage_store import UsageStore, events_table
from lagoon.ingestion.aggregator import (
    INVALID_CODE,
    INVALID_EVENT,
    INVALID_FILTER_VALUES,
    MISSING_AGGREGATION_PROPERTY,
    UNKNOWN_SUBSCRIPTION,
    errors_pk,
)

_NAMESPACE = uuid.UUID("a4f3c2b1-7e6d-4c5b-9a8f-1e2d3c4b5a69")
LAGO_CATEGORIES = (INVALID_CODE, MISSING_AGGREGATION_PROPERTY, INVALID_FILTER_VALUES)
LAGOON_CATEGORIES = (UNKNOWN_SUBSCRIPTION, INVALID_EVENT)


def report_events_errors(now: datetime, store: UsageStore | None = None) -> int:
    """Record the previous hour's reports; returns how many organizations got one."""
    store = store or UsageStore()
    hour = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H")
    found: dict[str, dict[str, dict[str, None]]] = defaultdict(lambda: defaultdict(dict))
    for item in store.query(events_table(), errors_pk(hour)):
        organization_id = item["o"]["S"]
        for category, transaction_ids in json.loads(item["b"]["S"]).items():
            for transaction_id in transaction_ids:
                found[organization_id][category][transaction_id] = None
    sent = 0
    for organization_id, categories in found.items():
        payload: dict[str, list[str]] = {c: list(categories.get(c, {})) for c in LAGO_CATEGORIES}
        payload["missing_group_key"] = []
        for category in LAGOON_CATEGORIES:
            if categories.get(category):
                payload[category] = list(categories[category])
        message = entities.OutboxMessage(organization_id, "events.errors", "events_errors", payload)
        message.message_id = str(uuid.uuid5(_NAMESPACE, f"{organization_id}/{hour}"))
        try:
            entities.Writes().message(message).commit()
            sent += 1
        except errors.ConflictRetry:
            continue  # already reported by an earlier run
    return sent
