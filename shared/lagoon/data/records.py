"""PynamoDB persistence models. Domain objects are stored as JSON documents (`body`), mapped in one place each."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from lagoon.data.connection import table_model


@table_model("entities_table")
class EntityRecord(Model):
    """Every catalog/customer/billing object: pk = "<organization_id>#<kind>", sk = the object's key."""

    class Meta:
        table_name = "lagoon-entities"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    body = UnicodeAttribute()
    revision = NumberAttribute(default=1)
    expires_at = TTLAttribute(null=True)


class PendingIndex(GlobalSecondaryIndex["OutboxRecord"]):
    """Sparse index of messages still to deliver, spread over a few shards, ordered by next attempt."""

    class Meta:
        index_name = "pending-by-next-attempt"
        projection = AllProjection()

    pending_shard = UnicodeAttribute(hash_key=True)
    next_attempt_at = UnicodeAttribute(range_key=True)


@table_model("outbox_table")
class OutboxRecord(Model):
    """A webhook message recorded in the same transaction as the change that caused it."""

    class Meta:
        table_name = "lagoon-outbox"

    message_id = UnicodeAttribute(hash_key=True)
    organization_id = UnicodeAttribute()
    webhook_type = UnicodeAttribute()
    object_type = UnicodeAttribute()
    payload = UnicodeAttribute()
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    attempts = NumberAttribute(default=0)
    # Set while the message waits for delivery; removed once delivered or failed (sparse index).
    pending_shard = UnicodeAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    # Delivery state (lagoon.data.webhook_outbox): the per-endpoint deliveries and their attempts (JSON), the
    # dispatcher run holding the message while it delivers it, and when delivery ended.
    deliveries = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    pending_index = PendingIndex()
