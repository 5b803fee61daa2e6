"""DynamoDB capacity accounting computed from item sizes (moto reports a constant ConsumedCapacity).

DynamoDB bills a write 1 write unit per started KB of the item, per table and per index it lands in
(aws-limits-and-costs.md §2.3); a transactional write costs double. `CapacityMeter` watches every botocore
call of the process (boto3 and PynamoDB alike), counts requests per operation and computes the write units of
every item written, attributed to a *part* named by the item's key (events, pages, aggregates, …), so the
ingestion benchmark and the cost tests report each part separately.

Item size follows the DynamoDB rules closely enough for accounting: attribute names plus values; strings and
binaries by length, numbers by significant digits / 2 + 1, lists and maps 3 bytes + 1 per element.
"""

from __future__ import annotations

import base64
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

KB = 1024

# Part of an item, named by its key: the ingestion store prefixes its partition keys (lagoon.data.usage_store).
_EVENT_PARTS = {
    "ev": "events",
    "pg": "event_pages",
    "days": "event_pages",
    "err": "errors",
    "orph": "orphans",
}


def attribute_value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one low-level AttributeValue ({"S": ...}, {"N": ...}, …)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits.rstrip("0") or "0") / 2) + 1
    if kind == "B":
        return len(raw) if isinstance(raw, bytes | bytearray) else len(base64.b64decode(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_value_size(v) for k, v in raw.items())
    if kind == "SS":
        return sum(len(s.encode()) for s in raw)
    if kind == "NS":
        return sum(attribute_value_size({"N": n}) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    return 0


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB bills for an item in low-level form."""
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


def write_units(item: Mapping[str, Mapping[str, Any]], *, indexes: int = 0) -> int:
    """Write units of one standard write of `item`: 1 per started KB, for the table and each index."""
    units = max(1, math.ceil(item_size(item) / KB))
    return units * (1 + indexes)


def part_of(table: str, item_key: Mapping[str, Mapping[str, Any]]) -> str:
    """The accounting part of an item: the ingestion store's key prefix, else the table."""
    pk = item_key.get("pk", {}).get("S", "")
    prefix = pk.split("#", 1)[0]
    if prefix in _EVENT_PARTS:
        return _EVENT_PARTS[prefix]
    if "aggregate" in table:
        return "aggregates"
    return table.rsplit("-", 1)[-1].lower()


@dataclass
class CapacityMeter:
    """Requests per operation and computed write units per part, for every DynamoDB/Kinesis call watched.

    `index_counts` maps a table name to the number of GSIs each of its items is written to (sparse indexes
    are counted as written, an upper bound).
    """

    index_counts: dict[str, int] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    write_units: Counter[str] = field(default_factory=Counter)
    items_written: Counter[str] = field(default_factory=Counter)
    # Strongly consistent reads of small items: 1 read unit per item asked for (a lower bound for Query).
    read_units: int = 0
    kinesis_records: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.write_units.clear()
            self.items_written.clear()
            self.read_units = 0
            self.kinesis_records = 0

    @property
    def dynamodb_requests(self) -> int:
        return sum(n for op, n in self.requests.items() if op.startswith("dynamodb."))

    @property
    def kinesis_requests(self) -> int:
        return sum(n for op, n in self.requests.items() if op.startswith("kinesis."))

    @property
    def total_write_units(self) -> int:
        return sum(self.write_units.values())

    def _count_item(self, table: str, item: Mapping[str, Any], factor: int = 1) -> None:
        part = part_of(table, item)
        self.write_units[part] += factor * write_units(item, indexes=self.index_counts.get(table, 0))
        self.items_written[part] += 1

    def observe(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Account one API call (called before it is sent)."""
        with self._lock:
            self.requests[f"{service}.{operation}"] += 1
            if service == "dynamodb":
                self._observe_dynamodb(operation, params)
            elif service == "kinesis" and operation in ("PutRecords", "PutRecord"):
                records = params.get("Records") or [params]
                self.kinesis_records += len(records)

    def _observe_dynamodb(self, operation: str, params: Mapping[str, Any]) -> None:
        if operation == "BatchGetItem":
            self.read_units += sum(len(r["Keys"]) for r in params["RequestItems"].values())
        elif operation in ("GetItem", "Query"):
            self.read_units += 1
        if operation == "PutItem":
            self._count_item(params["TableName"], params["Item"])
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        self._count_item(table, request["PutRequest"]["Item"])
                    else:
                        self._count_item(table, request["DeleteRequest"]["Key"])
        elif operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                if kind == "ConditionCheck":
                    continue
                self._count_item(body["TableName"], body.get("Item") or body["Key"], factor=2)
        elif operation in ("UpdateItem", "DeleteItem"):
            # The stored item's size is unknown here: counted as a small item (1 unit), a lower bound.
            self._count_item(params["TableName"], params["Key"])


_active: list[CapacityMeter] = []


def _before_call(model: Any, params: Mapping[str, Any], **_: Any) -> None:
    for meter in list(_active):
        meter.observe(model.service_model.endpoint_prefix, model.name, params)


_installed: list[bool] = []


def _install() -> None:
    """Hook botocore's client calls once (boto3 and PynamoDB both go through BaseClient._make_api_call)."""
    if _installed:
        return

    original: Callable[..., Any] = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counted(self: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        if _active:
            operation = self.meta.service_model.operation_model(operation_name)
            _before_call(operation, api_params)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counted  # type: ignore[attr-defined]
    _installed.append(True)


@contextmanager
def metering(meter: CapacityMeter | None = None) -> Iterator[CapacityMeter]:
    """Count every AWS call made in this process while the block runs."""
    _install()
    chosen = meter or CapacityMeter()
    _active.append(chosen)
    try:
        yield chosen
    finally:
        _active.remove(chosen)
