"""The hourly `events.errors` report: per organization, the transaction ids of the events the aggregator
found invalid in the previous hour, by category (DECISIONS.md "Events"; EventsErrorsObject).

The aggregator files invalid events under the hour their batch arrived (`err#<hour>`). Each organization's
report is one outbox message whose id derives from (organization, hour): a re-run never sends it twice. A
cursor (the last hour reported) makes a run catch up the hours a failed or missed run left, up to
`MAX_CATCH_UP_HOURS`; a run at an earlier time than the cursor (a local clock moved back) reports its own
previous hour and moves the cursor there.
Lagoon adds three categories to Lago's three when they are not empty: `unknown_subscription` (stored, not
counted), `invalid_event` (rejected from a direct stream producer) and `aggregate_too_large` (not counted in an
aggregate that would pass DynamoDB's item size), see docs/ingestion.md.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from lagoon import errors
from lagoon.data import entities
from lagoon.data.usage_items import read_error_lists
from lagoon.data.usage_store import UsageStore
from lagoon.ingestion.occurrences import (
    AGGREGATE_TOO_LARGE,
    INVALID_CODE,
    INVALID_EVENT,
    INVALID_FILTER_VALUES,
    MISSING_AGGREGATION_PROPERTY,
    UNKNOWN_SUBSCRIPTION,
)
from lagoon.services.organizations import GLOBAL

_NAMESPACE = uuid.UUID("a4f3c2b1-7e6d-4c5b-9a8f-1e2d3c4b5a69")
LAGO_CATEGORIES = (INVALID_CODE, MISSING_AGGREGATION_PROPERTY, INVALID_FILTER_VALUES)
LAGOON_CATEGORIES = (UNKNOWN_SUBSCRIPTION, INVALID_EVENT, AGGREGATE_TOO_LARGE)


CURSOR_KIND = "events_errors_cursor"
CURSOR_KEY = "hourly"
MAX_CATCH_UP_HOURS = 48
_HOUR = "%Y-%m-%dT%H"


def report_events_errors(now: datetime, store: UsageStore | None = None) -> int:
    """Record the reports of the previous hour and of any hour since the last run that reported; returns how
    many reports (organization and hour) were recorded."""
    store = store or UsageStore()
    last = (now - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    cursor = entities.get(GLOBAL, CURSOR_KIND, CURSOR_KEY)
    reported = (
        datetime.strptime(cursor["reported_through"], _HOUR).replace(tzinfo=last.tzinfo) if cursor else None
    )
    if reported is None or reported > last:
        start = last
    else:
        start = max(reported + timedelta(hours=1), last - timedelta(hours=MAX_CATCH_UP_HOURS - 1))
    sent = 0
    hour = start
    while hour <= last:
        sent += _report_hour(hour.strftime(_HOUR), store)
        hour += timedelta(hours=1)
    if reported != last:
        body = {"reported_through": last.strftime(_HOUR)}
        entities.Writes().put(GLOBAL, CURSOR_KIND, CURSOR_KEY, body).commit()
    return sent


def _report_hour(hour: str, store: UsageStore) -> int:
    found: dict[str, dict[str, dict[str, None]]] = defaultdict(lambda: defaultdict(dict))
    for organization_id, transaction_ids_by_category in read_error_lists(hour, store):
        for category, transaction_ids in transaction_ids_by_category.items():
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
