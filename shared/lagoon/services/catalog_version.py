"""The version of an organization's catalog as the aggregator caches it (plans, billable metrics, timezone).

Every change to one of them writes a new version after it commits. The aggregator reads the versions of a
batch's organizations in the BatchGetItem it makes anyway (lagoon.ingestion.directory), and drops what it
cached for an organization whose version moved: an edited plan or metric applies from the next batch on, not
after the cache's TTL. Should the version write be lost (a crash between the two writes), the TTL still
bounds the staleness.
"""

from __future__ import annotations

import uuid

from lagoon.data import entities

KIND = "catalog_version"
KEY = "current"


def bump(organization_id: str) -> None:
    entities.Writes().put(organization_id, KIND, KEY, {"version": uuid.uuid4().hex}).commit()
