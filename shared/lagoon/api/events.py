"""Routes of the events group: POST /events, POST /events/batch, GET /events, GET /events/{transaction_id}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.pagination import Page, PageParam, PerPageParam
from lagoon.api.resolver import organization_id
from lagoon.domain.events import EventInput
from lagoon.domain.subscriptions import IsoDateTime
from lagoon.models import LagoonModel
from lagoon.services.usage import events

router = APIGatewayRouter()


class EventCreateBody(LagoonModel):
    event: EventInput


@router.post("/events")
def create_event(body: Annotated[EventCreateBody, Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    received_at = datetime.now(UTC)
    (accepted,) = events.ingest(org_id, [body.event], received_at)
    return {"event": events.render_accepted(org_id, accepted, received_at)}


@router.post("/events/batch")
def create_events_batch(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    received_at = datetime.now(UTC)
    accepted = events.ingest(org_id, events.validate_batch(body), received_at)
    return {"events": [events.render_accepted(org_id, event, received_at) for event in accepted]}


@router.get("/events")
def list_events(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    external_subscription_id: Annotated[str | None, Query()] = None,
    code: Annotated[str | None, Query()] = None,
    timestamp_from: Annotated[IsoDateTime, Query()] = None,
    timestamp_to: Annotated[IsoDateTime, Query()] = None,
) -> dict[str, Any]:
    org_id = organization_id(router)
    filters = events.EventFilters(
        external_subscription_id=external_subscription_id,
        code=code,
        timestamp_from=timestamp_from,
        timestamp_to=timestamp_to,
    )
    found, meta = events.list_events(org_id, filters, Page.of(page, per_page))
    return {"events": found, "meta": meta}


@router.get("/events/<transaction_id>")
def get_event(transaction_id: str) -> dict[str, Any]:
    return {"event": events.get_event(organization_id(router), transaction_id)}
