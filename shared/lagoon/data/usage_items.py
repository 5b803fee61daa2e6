"""The items of EventsTable (docs/ingestion.md "Storage"): events, pages of event keys, day lists, error lists
and orphan lists. The aggregator builds them from plain values for its batch writes, and reads back what its
dedupe check needs. Keys: lagoon.data.usage_keys; the aggregates: lagoon.data.aggregates.

Attribute names are short on purpose (a write unit is billed per started KB, names included).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lagoon.data.usage_keys import (
    days_pk,
    errors_pk,
    errors_sk,
    event_pk,
    orphans_pk,
    page_pk,
    page_sk,
)
from lagoon.data.usage_store import Item, N, S, UsageStore, Write, events_table, text
from lagoon.domain.events import IncomingEvent

EventKey = tuple[str, str, str]
"""(organization, transaction_id, external_subscription_id): an event's dedupe key."""


# -- events --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventMark:
    """What the dedupe check reads of a stored event: the stream position that first carried it (`src`) and
    what the aggregator decided for it (`st`)."""

    source: str | None
    status: str | None


def read_event_marks(keys: Iterable[EventKey], store: UsageStore) -> dict[EventKey, EventMark]:
    """The marks of the stored events among `keys` (absent keys are absent): BatchGetItem, 100 keys a call,
    projected on `src` and `st`."""
    table = events_table()
    wanted = [(key, (table, (event_pk(key[0], key[1]), key[2]))) for key in keys]
    found = store.batch_get((table_key for _, table_key in wanted), projection=("src", "st"))
    marks: dict[EventKey, EventMark] = {}
    for key, table_key in wanted:
        item = found.get(table_key)
        if item is not None:
            marks[key] = EventMark(text(item, "src"), text(item, "st"))
    return marks


def event_write(
    organization_id: str,
    external_subscription_id: str,
    event: IncomingEvent,
    *,
    received_ms: int,
    source: str,
    status: str,
    lago_ids: tuple[str, str] | None,
) -> Write:
    """The event item: written once, by the record that first carried it (`source`). `lago_ids` = (the
    subscription's lago_id, its customer's lago_id) when the subscription is known."""
    item: Item = {
        "pk": S(event_pk(organization_id, event.transaction_id)),
        "sk": S(external_subscription_id),
        "c": S(event.code),
        "t": N(event.timestamp_us),
        "r": N(received_ms),
        "src": S(source),
        "st": S(status),
    }
    if event.properties:
        item["p"] = S(json.dumps(event.properties, separators=(",", ":"), default=str))
    if event.precise_total_amount_cents is not None:
        item["a"] = S(event.precise_total_amount_cents)
    if lago_ids is not None:
        item["ls"] = S(lago_ids[0])
        item["lc"] = S(lago_ids[1])
    return (events_table(), item)


# -- pages of event keys and day lists ----------------------------------------------------


def event_page_write(
    organization_id: str,
    external_subscription_id: str,
    day: str,
    source: str,
    entries: Iterable[tuple[int, str, str]],
) -> Write:
    """One page of a batch's event keys of a subscription and UTC day: zlib JSON of `{"c": [codes], "e":
    [[timestamp µs, code index, transaction_id], …]}`, from (timestamp µs, code, transaction_id) entries."""
    codes: dict[str, int] = {}
    rows = [[timestamp_us, codes.setdefault(code, len(codes)), tx] for timestamp_us, code, tx in entries]
    body = json.dumps({"c": list(codes), "e": rows}, separators=(",", ":")).encode()
    item: Item = {
        "pk": S(page_pk(organization_id, day)),
        "sk": S(page_sk(external_subscription_id, source)),
        "s": S(external_subscription_id),
        "e": {"B": zlib.compress(body, 6)},
    }
    return (events_table(), item)


def event_day_write(organization_id: str, day: str) -> Write:
    """The organization has events on `day` (keys only)."""
    return (events_table(), {"pk": S(days_pk(organization_id)), "sk": S(day)})


# -- error and orphan lists ---------------------------------------------------------------------------------


def error_list_write(
    hour: str,
    organization_id: str,
    external_subscription_id: str,
    source: str,
    categories: dict[str, list[str]],
) -> Write:
    """A batch's invalid events of one (organization, subscription): transaction ids by category, filed under
    `hour` (`usage_keys.hour_key`)."""
    item: Item = {
        "pk": S(errors_pk(hour)),
        "sk": S(errors_sk(organization_id, external_subscription_id, source)),
        "o": S(organization_id),
        "b": S(json.dumps(categories, separators=(",", ":"))),
    }
    return (events_table(), item)


def orphan_list_write(
    organization_id: str, external_subscription_id: str, source: str, transaction_ids: Sequence[str]
) -> Write:
    """A batch's events of an external_subscription_id with no subscription (their transaction ids)."""
    item: Item = {
        "pk": S(orphans_pk(organization_id, external_subscription_id)),
        "sk": S(source),
        "b": S(json.dumps(transaction_ids, separators=(",", ":"))),
    }
    return (events_table(), item)
