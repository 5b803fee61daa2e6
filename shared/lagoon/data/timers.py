"""Timers: work due at an instant, one item each in the entities table's global partition of their kind
(`global#<kind>`), keyed `<due ISO time>#…` so that the due ones are a key range (subscription transitions,
invoice finalization and overdue marks, documents to render)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lagoon.data import entities
from lagoon.data.connection import get_settings
from lagoon.data.usage_store import UsageStore
from lagoon.domain.times import iso

GLOBAL = "global"


def due_timers(kind: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The timers of `kind` due at `now` (sk ≤ now), oldest first: (key, timer document)."""
    table = get_settings().entities_table
    items = UsageStore().query(table, entities.partition(GLOBAL, kind), before=f"{iso(now)}#\U0010ffff")
    return [(item["sk"]["S"], json.loads(item["body"]["S"])) for item in items]
