"""A webhook message claimed by a dispatch run (docs/webhooks.md): its deliveries per endpoint, its Lago envelope
and signatures — built once, shared by the worker threads that POST it — and the headers of each POST.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from lagoon.data.webhook_outbox import PENDING, OutboxEntry
from lagoon.domain.webhook_addresses import AddressPolicy
from lagoon.domain.webhook_endpoints import WebhookEndpoint
from lagoon.domain.webhook_signatures import envelope_body, hmac_signature, jwt_signature
from lagoon.services.webhooks import webhook_keys

USER_AGENT = "Lagoon-Webhooks/1.0"


@dataclass
class OrganizationEndpoints:
    """What a run needs of an organization: its HMAC key, its webhook endpoints by lago_id, and the addresses
    its webhooks may reach."""

    hmac_key: str | None
    endpoints: dict[str, WebhookEndpoint]
    addresses: AddressPolicy = field(default_factory=AddressPolicy)


@dataclass
class ClaimedMessage:
    """A message opened by the run; `outstanding` counts its deliveries queued or under way in this run (at
    0 the run hands it back)."""

    entry: OutboxEntry
    deliveries: dict[str, dict[str, Any]]
    organization: OrganizationEndpoints
    outstanding: int = 0
    _body: bytes | None = None
    _signatures: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self) -> bytes:
        with self._lock:
            if self._body is None:
                payload = json.loads(self.entry.payload)
                self._body = envelope_body(
                    self.entry.webhook_type, self.entry.object_type, self.entry.organization_id, payload
                )
            return self._body

    def signature(self, algo: str, issuer: str) -> str:
        body = self.body()
        with self._lock:
            if algo not in self._signatures:
                if algo == "hmac":
                    self._signatures[algo] = hmac_signature(body, self.organization.hmac_key or "")
                else:
                    self._signatures[algo] = jwt_signature(body, webhook_keys.signing_keys(), issuer)
            return self._signatures[algo]

    def headers(self, endpoint: WebhookEndpoint, issuer: str) -> dict[str, str]:
        """The headers of a POST to `endpoint`: Lago's signature in the endpoint's algorithm, and the message id
        as the unique key (the same on every attempt and every endpoint)."""
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Lago-Signature": self.signature(endpoint.signature_algo, issuer),
            "X-Lago-Signature-Algorithm": endpoint.signature_algo,
            "X-Lago-Unique-Key": self.entry.message_id,
        }


@dataclass
class DeliveryTask:
    """One POST to make: a claimed message to one of its endpoints."""

    message: ClaimedMessage
    endpoint: WebhookEndpoint


def new_delivery(now: str) -> dict[str, Any]:
    """The delivery of a message to an endpoint the first time it is dispatched: due now, no attempt yet."""
    return {"status": PENDING, "next_attempt_at": now, "round_attempts": 0, "attempts": []}
