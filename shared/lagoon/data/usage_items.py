"""The items of EventsTable (docs/ingestion.md "Storage"): events, pages of event keys, day lists, error lists
and orphan lists. The aggregator builds them from plain values for its batch writes; the events routes, the
orphan replay and the hourly errors report read them back as plain values. Nothing above lagoon.data sees an
attribute name or a DynamoDB type. Keys: lagoon.data.usage_keys; the aggregates: lagoon.data.aggregates.

Attribute names are short on purpose (a write unit is billed per started KB, names included).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lagoon.data.usage_keys import (
    day_key,
    days_pk,
    errors_pk,
    errors_sk,
    event_pk,
    orphans_pk,
    page_pk,
    page_prefix,
    page_sk,
)
from lagoon.data.usage_store import Item, N, S, UsageStore, Write, events_table, number, text
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


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event item, read back."""

    transaction_id: str
    external_subscription_id: str
    code: str | None
    timestamp_us: int
    properties: dict[str, Any]
    precise_total_amount_cents: str | None
    received_ms: int
    status: str | None
    lago_subscription_id: str | None
    lago_customer_id: str | None

    def incoming(self) -> IncomingEvent:
        """The event as it came in (to send it through the stream again)."""
        return IncomingEvent(
            transaction_id=self.transaction_id,
            external_subscription_id=self.external_subscription_id,
            code=self.code or "",
            timestamp_us=self.timestamp_us,
            properties=self.properties,
            precise_total_amount_cents=self.precise_total_amount_cents,
        )


def _stored_event(item: Mapping[str, Any]) -> StoredEvent:
    properties = text(item, "p")
    return StoredEvent(
        transaction_id=item["pk"]["S"].split("#", 2)[2],
        external_subscription_id=item["sk"]["S"],
        code=text(item, "c"),
        timestamp_us=number(item, "t") or 0,
        properties=json.loads(properties) if properties else {},
        precise_total_amount_cents=text(item, "a"),
        received_ms=number(item, "r") or 0,
        status=text(item, "st"),
        lago_subscription_id=text(item, "ls"),
        lago_customer_id=text(item, "lc"),
    )


def first_stored_event(organization_id: str, transaction_id: str, store: UsageStore) -> StoredEvent | None:
    """The first stored event with this transaction_id, whatever its subscription (one Query)."""
    for item in store.query(events_table(), event_pk(organization_id, transaction_id)):
        return _stored_event(item)
    return None


def read_stored_events(
    organization_id: str, keys: Iterable[tuple[str, str]], store: UsageStore
) -> dict[tuple[str, str], StoredEvent]:
    """The stored events among (external_subscription_id, transaction_id) `keys`, in the order DynamoDB
    answered (BatchGetItem, 100 keys a call); absent keys are absent."""
    table = events_table()
    wanted = {(table, (event_pk(organization_id, tx), sub)): (sub, tx) for sub, tx in keys}
    found = store.batch_get(wanted)
    return {wanted[table_key]: _stored_event(item) for table_key, item in found.items()}


# -- pages of event keys and day lists (GET /events) ----------------------------------------------------


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


def read_event_days(
    organization_id: str, store: UsageStore, *, since: datetime | None, until: datetime | None
) -> list[str]:
    """The organization's days with events (`usage_keys.day_key`), newest first, from the day of `since` to
    the day of `until` (each bound optional; one Query)."""
    first_day = day_key(since) if since else None
    last_day = day_key(until) if until else None
    return [
        item["sk"]["S"]
        for item in store.query(events_table(), days_pk(organization_id), descending=True)
        if (first_day is None or item["sk"]["S"] >= first_day)
        and (last_day is None or item["sk"]["S"] <= last_day)
    ]


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of event keys: its subscription and its (timestamp µs, code, transaction_id) entries."""

    external_subscription_id: str
    entries: list[tuple[int, str, str]]


def read_event_pages(
    organization_id: str, day: str, store: UsageStore, *, external_subscription_id: str | None = None
) -> Iterator[EventPage]:
    """The pages of a day (only the subscription's, when given), read as they are consumed (one Query)."""
    prefix = page_prefix(external_subscription_id) if external_subscription_id else None
    for item in store.query(events_table(), page_pk(organization_id, day), prefix=prefix):
        subscription = item["s"]["S"]
        if external_subscription_id and subscription != external_subscription_id:
            continue
        body = json.loads(zlib.decompress(bytes(item["e"]["B"])))
        codes = body["c"]
        yield EventPage(subscription, [(ts, codes[index], tx) for ts, index, tx in body["e"]])


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


def read_error_lists(hour: str, store: UsageStore) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """(organization, transaction ids by category) of every error list filed under `hour` (one Query)."""
    for item in store.query(events_table(), errors_pk(hour)):
        yield item["o"]["S"], json.loads(item["b"]["S"])


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


def read_orphan_lists(
    organization_id: str, external_subscription_id: str, store: UsageStore
) -> list[tuple[str, list[str]]]:
    """Every list of waiting events of the external_subscription_id, in order (one Query): (its sort key, the
    transaction ids)."""
    return [
        (item["sk"]["S"], json.loads(item["b"]["S"]))
        for item in store.query(events_table(), orphans_pk(organization_id, external_subscription_id))
    ]


def delete_orphan_lists(
    organization_id: str, external_subscription_id: str, sort_keys: Sequence[str], store: UsageStore
) -> None:
    """Delete lists whose events were replayed (a list a replay writes again has another sort key)."""
    pk = orphans_pk(organization_id, external_subscription_id)
    for sort_key in sort_keys:
        store.delete_item(
            events_table(), (pk, sort_key), condition="attribute_exists(#pk)", names={"#pk": "pk"}, values={}
        )
