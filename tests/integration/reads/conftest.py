"""A meter of DynamoDB reads: every item a request gets back, by operation and table, counted at botocore (the
one client PynamoDB and boto3 both call), so a test can show that a request reads the same with ten times the
organization's history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient


class ReadMeter:
    def __init__(self) -> None:
        self.items: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.on = False

    def record(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        if not self.on:
            return
        if operation == "Scan":
            raise AssertionError(f"a Scan of {params.get('TableName')}")
        if operation == "GetItem":
            self._count(operation, params["TableName"], 1 if "Item" in response else 0)
        elif operation == "Query":
            self._count(operation, params["TableName"], len(response.get("Items", [])))
        elif operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                self._count(operation, table, len(items))

    def _count(self, operation: str, table: str, items: int) -> None:
        self.requests[f"{operation} {table}"] += 1
        self.items[f"{operation} {table}"] += items

    def measure(self, action: Any) -> Counter[str]:
        """The items read while `action()` runs, by operation and table."""
        self.items, self.requests, self.on = Counter(), Counter(), True
        try:
            action()
        finally:
            self.on = False
        return self.items

    def total(self) -> int:
        return sum(self.items.values())


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReadMeter]:
    meter = ReadMeter()
    original = BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        response = original(client, operation, params)
        meter.record(operation, params, response)
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    yield meter
