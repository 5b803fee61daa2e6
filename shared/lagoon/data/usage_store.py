"""Batched reads and writes of the usage tables (docs/ingestion.md "Storage" documents the items).

The aggregator reads what exists with BatchGetItem (100 keys a call) and writes what is new with
BatchWriteItem (25 items a call, across tables), so 1,000 events cost ~50 requests instead of ~2,000. Batch
writes are unconditional: exactly-once rests on the aggregator being the single writer of its keys (one
subscription's records are on one shard and processed in order) and on the watermarks it keeps
(lagoon.ingestion.aggregator). Unprocessed keys/items are retried with backoff; a write that still fails
raises `TransientFailure`, so the Kinesis batch is retried rather than lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lagoon import errors
from lagoon.data.connection import aws_client, get_settings

Item = dict[str, dict[str, Any]]
Key = tuple[str, str]
"""(pk, sk) of an item."""
Write = tuple[str, Item]
"""(table, item): one put of `UsageStore.batch_write`."""

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
MAX_ATTEMPTS = 8


def S(value: str) -> dict[str, str]:
    return {"S": value}


def N(value: int) -> dict[str, str]:
    return {"N": str(value)}


def text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value.get("S"))


def number(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name)
    return None if value is None else int(value["N"])


def events_table() -> str:
    return get_settings().events_table


def aggregates_table() -> str:
    return get_settings().aggregates_table


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pause(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 1.0))


def _sort_key_condition(
    prefix: str | None, after: str | None, before: str | None
) -> tuple[str, dict[str, Any]]:
    """The sort-key part of a query: a prefix, or bounds (inclusive here; the caller drops the bounds)."""
    if prefix is not None:
        return "begins_with(#sk, :prefix)", {":prefix": S(prefix)}
    if after is not None and before is not None:
        return "#sk BETWEEN :lo AND :hi", {":lo": S(after), ":hi": S(before)}
    if before is not None:
        return "#sk <= :hi", {":hi": S(before)}
    if after is not None:
        return "#sk >= :lo", {":lo": S(after)}
    return "", {}


class UsageStore:
    """Batched access to the usage tables. `after_write` runs after each write request succeeds (the crash
    tests use it to stop the aggregator between two writes)."""

    def __init__(self, after_write: Callable[[int], None] | None = None) -> None:
        self._after_write = after_write
        self.write_requests = 0

    @property
    def _client(self) -> Any:
        return aws_client("dynamodb", validate=False)

    def batch_get(
        self, keys: Iterable[tuple[str, Key]], projection: Sequence[str] | None = None
    ) -> dict[tuple[str, Key], Item]:
        """Items by (table, (pk, sk)), strongly consistent; absent keys are absent from the result."""
        unique = list(dict.fromkeys(keys))
        found: dict[tuple[str, Key], Item] = {}
        for chunk in _chunks(unique, BATCH_GET_LIMIT):
            request: dict[str, Any] = {}
            for table, (pk, sk) in chunk:
                entry = request.setdefault(table, {"Keys": [], "ConsistentRead": True})
                entry["Keys"].append({"pk": S(pk), "sk": S(sk)})
                if projection:
                    names = {f"#a{i}": name for i, name in enumerate(("pk", "sk", *projection))}
                    entry["ProjectionExpression"] = ", ".join(names)
                    entry["ExpressionAttributeNames"] = names
            attempt = 0
            while request:
                try:
                    response = self._client.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    if attempt >= MAX_ATTEMPTS:
                        raise errors.TransientFailure("usage store read failed") from exc
                    attempt += 1
                    _pause(attempt)
                    continue
                for table, items in response.get("Responses", {}).items():
                    for item in items:
                        found[(table, (item["pk"]["S"], item["sk"]["S"]))] = item
                request = response.get("UnprocessedKeys") or {}
                if request:
                    attempt += 1
                    if attempt > MAX_ATTEMPTS:
                        raise errors.TransientFailure("usage store read throttled")
                    _pause(attempt)
        return found

    def batch_write(self, items: Iterable[Write]) -> None:
        """Put every item (last one wins for a repeated key), 25 a request across tables."""
        unique: dict[tuple[str, str, str], tuple[str, Item]] = {}
        for table, item in items:
            unique[(table, item["pk"]["S"], item["sk"]["S"])] = (table, item)
        for chunk in _chunks(list(unique.values()), BATCH_WRITE_LIMIT):
            request: dict[str, list[dict[str, Any]]] = {}
            for table, item in chunk:
                request.setdefault(table, []).append({"PutRequest": {"Item": item}})
            attempt = 0
            while request:
                try:
                    response = self._client.batch_write_item(RequestItems=request)
                except (ClientError, BotoCoreError) as exc:
                    if attempt >= MAX_ATTEMPTS:
                        raise errors.TransientFailure("usage store write failed") from exc
                    attempt += 1
                    _pause(attempt)
                    continue
                request = response.get("UnprocessedItems") or {}
                if request:
                    attempt += 1
                    if attempt > MAX_ATTEMPTS:
                        raise errors.TransientFailure("usage store write throttled")
                    _pause(attempt)
            self.write_requests += 1
            if self._after_write is not None:
                self._after_write(self.write_requests)

    def put_item(
        self, table: str, item: Item, *, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """Put one item if `condition` holds; False when it does not."""
        return self._conditional(
            "put_item",
            TableName=table,
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def delete_item(
        self, table: str, key: Key, *, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """Delete one item if `condition` holds; False when it does not."""
        return self._conditional(
            "delete_item",
            TableName=table,
            Key={"pk": S(key[0]), "sk": S(key[1])},
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        if not kwargs.get("ExpressionAttributeValues"):
            kwargs.pop("ExpressionAttributeValues", None)  # DynamoDB refuses an empty map
        try:
            getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise errors.TransientFailure(f"usage store {operation} failed") from exc
        except BotoCoreError as exc:
            raise errors.TransientFailure(f"usage store {operation} failed") from exc
        return True

    def query(
        self,
        table: str,
        pk: str,
        *,
        prefix: str | None = None,
        after: str | None = None,
        before: str | None = None,
        descending: bool = False,
        projection: Sequence[str] | None = None,
    ) -> Iterator[Item]:
        """Items of one partition in sort-key order (optionally by prefix, or strictly between bounds)."""
        names = {"#pk": "pk"}
        values: dict[str, Any] = {":pk": S(pk)}
        condition = "#pk = :pk"
        sort_condition, sort_values = _sort_key_condition(prefix, after, before)
        if sort_condition:
            names["#sk"] = "sk"
            values.update(sort_values)
            condition += f" AND {sort_condition}"
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            "ScanIndexForward": not descending,
        }
        if projection:
            for i, name in enumerate(projection):
                names[f"#p{i}"] = name
            kwargs["ProjectionExpression"] = ", ".join(["#pk"] + [f"#p{i}" for i in range(len(projection))])
        while True:
            try:
                response = self._client.query(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise errors.TransientFailure("usage store query failed") from exc
            for item in response.get("Items", []):
                if item["sk"]["S"] not in (after, before):  # the bounds are exclusive
                    yield item
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def get_documents(
        self, keys: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Entity documents (lagoon.data.entities) by (organization, kind, key), in BatchGetItem calls."""

        table = get_settings().entities_table
        wanted = {(table, (f"{org}#{kind}", key)): (org, kind, key) for org, kind, key in keys}
        found = self.batch_get(wanted, projection=("body",))
        return {wanted[k]: json.loads(item["body"]["S"]) for k, item in found.items() if "body" in item}
