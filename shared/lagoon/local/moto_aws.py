"""moto as the local AWS, in this process: a threaded moto server whose Kinesis, DynamoDB queries and
DynamoDB transactions stay fast as they fill.

moto's Kinesis shard finds its max sequence number by listing every stored record and scans from the start
on GetRecords, so each put costs more with every stored record (TOOLCHAIN-NOTES). Sequence numbers are
contiguous integers per shard (moto allocates `max + 1`), so the patched methods index the shard's dict
directly: O(1) per put, O(limit) per read. The patches apply only to the process that runs the server.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.core.parse import BaseJSONParser, default_blob_parser
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.kinesis import models
from moto.kinesis.models import kinesis_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

_PATCHED: list[bool] = []


def _max_sequence_number(self: Any) -> int:
    return next(reversed(self.records), 0) if self.records else 0


def _min_sequence_number(self: Any) -> int:
    return next(iter(self.records), 0) if self.records else 0


def _put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:

    sequence_number = _max_sequence_number(self) + 1
    self.records[sequence_number] = models.Record(partition_key, data, sequence_number, explicit_hash_key)
    return str(sequence_number)


def _get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
    last = int(last_sequence_id)
    records = self.records
    if not records:
        return [], last, 0
    first, newest = _min_sequence_number(self), _max_sequence_number(self)
    start = max(last + 1, first)
    stop = newest + 1 if limit is None else min(newest + 1, start + limit)
    results = [records[n] for n in range(start, stop) if n in records]
    if not results:
        return [], last, 0
    behind = records[newest].created_at - results[-1].created_at
    return results, results[-1].sequence_number, int(behind * 1000)


def _sequence_number_at(self: Any, at_timestamp: float) -> int:
    """The last sequence number stored before `at_timestamp` (binary search: arrival times only grow)."""
    if not self.records:
        return 0
    low, high = _min_sequence_number(self), _max_sequence_number(self)
    if at_timestamp <= self.records[low].created_at:
        return 0
    while low < high:  # invariant: records[low] was created before at_timestamp
        middle = (low + high + 1) // 2
        if self.records[middle].created_at < at_timestamp:
            low = middle
        else:
            high = middle - 1
    return low


def patch_kinesis_shards() -> None:
    """Make moto's Kinesis shard operations O(1)/O(limit) (idempotent)."""
    if _PATCHED:
        return

    models.Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign]
    models.Shard.get_min_sequence_number = _min_sequence_number  # type: ignore[method-assign]
    models.Shard.put_record = _put_record  # type: ignore[method-assign]
    models.Shard.get_records = _get_records  # type: ignore[method-assign]
    models.Shard.get_sequence_number_at = _sequence_number_at  # type: ignore[method-assign]
    # Per-put CloudWatch metrics grow without bound and nobody reads them locally.
    models.KinesisBackend._send_stream_metrics = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    _PATCHED.append(True)


_QUERY = threading.local()


def patch_dynamodb_queries() -> None:
    """A base-table Query reads its partition only (idempotent).

    moto's Query lists and sorts every item of the table (`Table.all_items`) before keeping the partition
    asked for, so each query costs O(table): with 100k stored events, a customer lookup took ~1 s. Index
    queries and scans keep moto's behaviour.
    """

    if getattr(Table.query, "lagoon_patched", False):
        return
    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)  # .get: items is a defaultdict
        if self.range_key_attr:
            items = list(partition.values()) if partition else []
        else:
            items = [partition] if partition is not None else []
        _QUERY.scope = (self, items)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERY.scope = None

    def all_items(self: Any) -> list[Any]:
        scope = getattr(_QUERY, "scope", None)
        if scope is not None and scope[0] is self:
            return list(scope[1])
        return original_all_items(self)  # type: ignore[no-any-return]

    query.lagoon_patched = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _put_back(table: Any, hash_value: Any, range_value: Any, previous: Any) -> None:
    if range_value is None:
        if previous is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = previous
    elif previous is None:
        table.items[hash_value].pop(range_value, None)
    else:
        table.items[hash_value][range_value] = previous


class _Transaction:
    """One TransactWriteItems: the items touched, their snapshots (to put back), one outcome per action."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.touched: set[tuple[str, Any, Any]] = set()
        self.snapshots: list[tuple[Any, Any, Any, Any]] = []
        self.outcomes: list[tuple[str | None, str | None, Any]] = []

    def roll_back(self) -> None:
        for table, hash_value, range_value, previous in reversed(self.snapshots):
            _put_back(table, hash_value, range_value, previous)

    def _checked_item(self, kind: str, op: dict[str, Any]) -> tuple[Any, dict[str, Any], Any, Any]:
        """The action's table, key and current item, once its condition holds (moto's checks and errors)."""

        if kind not in ("ConditionCheck", "Put", "Delete", "Update"):
            raise ValueError("Unsupported transaction operation")
        table = self.backend.get_table(op["TableName"])
        attributes = op["Item"] if kind == "Put" else op["Key"]
        key = {table.hash_key_attr: attributes[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attributes[table.range_key_attr]
        hash_value, range_value = self.backend.get_keys_value(table, key)
        if (op["TableName"], hash_value, range_value) in self.touched:
            raise MultipleTransactionsException()
        self.touched.add((op["TableName"], hash_value, range_value))
        current = table.get_item(hash_value, range_value)
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(condition, names, values).expr(current):
            old_item = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old_item = current.to_json()["Attributes"]
            failure = ConditionalCheckFailed(item=old_item)
            failure.old_item = old_item  # type: ignore[attr-defined]  # the cancellation reason's Item
            raise failure
        return table, key, (hash_value, range_value), current

    def apply(self, kind: str, op: dict[str, Any]) -> None:

        table, key, (hash_value, range_value), current = self._checked_item(kind, op)
        if kind == "ConditionCheck":
            return
        self.snapshots.append((table, hash_value, range_value, copy.deepcopy(current)))
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        expressions = {"expression_attribute_names": names, "expression_attribute_values": values}
        if kind == "Put":
            self.backend.put_item(op["TableName"], op["Item"], **expressions)
        elif kind == "Delete":
            self.backend.delete_item(op["TableName"], key, **expressions)
        else:
            self.backend.update_item(
                op["TableName"], key, update_expression=op["UpdateExpression"], **expressions
            )


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    transaction = _Transaction(self)
    for action in transact_items:
        if len(action) > 1:
            raise TransactWriteSingleOpException
        kind, op = next(iter(action.items()))
        try:
            transaction.apply(kind, op)
            transaction.outcomes.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            transaction.roll_back()
            raise
        except ConditionalCheckFailed as exc:
            transaction.outcomes.append(
                ("ConditionalCheckFailed", str(exc.message), getattr(exc, "old_item", None))
            )
        except Exception as exc:  # moto reports any other failure as the action's cancellation reason
            transaction.outcomes.append((type(exc).__name__, str(exc), None))
    if any(code is not None for code, _, _ in transaction.outcomes):
        transaction.roll_back()
        raise TransactionCanceledException(transaction.outcomes)


def patch_dynamodb_transactions() -> None:
    """TransactWriteItems snapshots the items it touches, not whole tables (idempotent).

    To roll back a failed transaction, moto deep-copies every table the transaction names before applying it:
    O(table) per transaction, so every invoice of a billing run cost more with every item stored (a run of
    1,000 subscriptions spent most of its time copying the entities table). This version keeps moto's checks,
    order and errors (one outcome per action, `TransactionCanceledException` with the reasons), evaluates
    each condition before its write, and on failure puts back only the items it changed.
    """

    if getattr(DynamoDBBackend.transact_write_items, "lagoon_patched", False):
        return
    _transact_write_items.lagoon_patched = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def _attribute_value(node: Any) -> Any:

    if not isinstance(node, dict):
        return node
    parsed: dict[str, Any] = {}
    for name, value in node.items():
        if value is None or name not in _ATTRIBUTE_VALUE_MEMBERS:
            continue
        if name == "M":
            value = {key: _attribute_value(member) for key, member in value.items()}
        elif name == "L":
            value = [_attribute_value(member) for member in value]
        elif name == "B":
            value = default_blob_parser(value)
        elif name == "BS":
            value = [default_blob_parser(member) for member in value]
        parsed[name] = value
    return parsed


def patch_dynamodb_request_parsing() -> None:
    """Parse DynamoDB `AttributeValue`s directly instead of shape by shape (idempotent).

    moto turns every request body into parameters with a botocore-shape parser that visits each member of
    each attribute value through several dynamic calls: ~10% of the local stack's CPU under ingestion (a
    25-item BatchWriteItem holds ~200 attribute values). The result is the same: blobs (`B`, `BS`) decoded
    from base64, maps and lists parsed recursively, absent and null members dropped, the rest unchanged.
    """

    if getattr(BaseJSONParser._parse_shape, "lagoon_patched", False):
        return
    original = BaseJSONParser._parse_shape

    def parse_shape(self: Any, shape: Any, node: Any) -> Any:
        if self.operation_model.service_model.endpoint_prefix == "dynamodb":
            if shape.name == "AttributeValue":
                return _attribute_value(node)
            if shape.type_name == "map" and shape.value.name == "AttributeValue" and isinstance(node, dict):
                return {name: _attribute_value(value) for name, value in node.items()}  # an item or a key
        return original(self, shape, node)

    parse_shape.lagoon_patched = True  # type: ignore[attr-defined]
    BaseJSONParser._parse_shape = parse_shape  # type: ignore[method-assign]


_ATTRIBUTE_VALUE_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def quiet_werkzeug() -> None:
    """werkzeug logs every request at INFO: keep only errors."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def shard_tail(stream_name: str, region: str, account_id: str) -> dict[str, int]:
    """{shard id: highest sequence number} of a stream, read from moto's memory (this process only)."""

    stream = kinesis_backends[account_id][region].streams[stream_name]
    return {shard_id: shard.get_max_sequence_number() for shard_id, shard in stream.shards.items()}


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class _KeepAliveMotoHandler(MotoRequestHandler):
    """werkzeug writes headers and body separately: with Nagle on, every keep-alive call to moto stalls
    ~40 ms on the client's delayed ACK (TOOLCHAIN-NOTES) — 28 instead of hundreds of API requests/s."""

    disable_nagle_algorithm = True


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host: moto lists its package directory (one
    `isdir` per service, ~190) on every request to answer that, ~10% of the local stack's CPU under ingestion.
    The answer depends only on the host (the service list and URL patterns are fixed)."""

    _CACHE_LIMIT = 256

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host in self._backends:
            return self._backends[host]
        backend = super().get_backend_for_host(host)
        if len(self._backends) < self._CACHE_LIMIT:
            self._backends[host] = backend
        return backend


class MotoServer(ThreadedMotoServer):
    """moto's `ThreadedMotoServer`, with an optional WSGI wrapper around moto's app (the persistence journal)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, wrap: Callable[[WsgiApp], WsgiApp] | None = None
    ) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        # moto's own app (persistence replays its journal straight into it, before the server starts).
        self.app: WsgiApp = CachedDispatcher(create_backend_app)
        self._wrap = wrap

    def _server_entry(self) -> None:
        server = make_server(
            self._ip_address,
            self._port,
            self._wrap(self.app) if self._wrap else self.app,
            threaded=True,
            request_handler=_KeepAliveMotoHandler,
        )
        server.daemon_threads = True  # type: ignore[attr-defined]  # a ThreadedWSGIServer
        self._server = server
        self._server_ready_event.set()
        server.serve_forever(poll_interval=0.1)

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        super().stop()
        if self._server:
            self._server.server_close()
