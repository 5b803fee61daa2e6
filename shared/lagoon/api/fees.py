"""Routes of the fees group: /fees and /fees/{lago_id} (`lagoon.services.invoicing.fees`)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.pagination import Page, PageParam, PerPageParam, list_body
from lagoon.api.resolver import organization_id
from lagoon.domain.fees import FeePaymentStatus, FeeType, FeeUpdateInput
from lagoon.domain.organizations import Currency
from lagoon.domain.subscriptions import IsoDateTime
from lagoon.models import LagoonModel
from lagoon.services.invoicing import fees

router = APIGatewayRouter()

Moment = Annotated[IsoDateTime, Query()]
"""An ISO 8601 date-time filter, as Lago parses them (`BaseQuery#parse_datetime_filter`: else `invalid_date`)."""


class FeeUpdateBody(LagoonModel):
    fee: FeeUpdateInput


@router.get("/fees")
def list_fees(
    page: PageParam = 1,
    per_page: PerPageParam = 100,
    external_customer_id: Annotated[str | None, Query()] = None,
    external_subscription_id: Annotated[str | None, Query()] = None,
    currency: Annotated[Currency, Query()] = None,
    fee_type: Annotated[FeeType | None, Query()] = None,
    billable_metric_code: Annotated[str | None, Query()] = None,
    payment_status: Annotated[FeePaymentStatus | None, Query()] = None,
    event_transaction_id: Annotated[str | None, Query()] = None,
    created_at_from: Moment = None,
    created_at_to: Moment = None,
    succeeded_at_from: Moment = None,
    succeeded_at_to: Moment = None,
    failed_at_from: Moment = None,
    failed_at_to: Moment = None,
    refunded_at_from: Moment = None,
    refunded_at_to: Moment = None,
) -> dict[str, Any]:
    filters = fees.FeeFilters(
        external_customer_id=external_customer_id,
        external_subscription_id=external_subscription_id,
        currency=currency,
        fee_type=fee_type,
        billable_metric_code=billable_metric_code,
        payment_status=payment_status,
        event_transaction_id=event_transaction_id,
        created_at_from=created_at_from,
        created_at_to=created_at_to,
        succeeded_at_from=succeeded_at_from,
        succeeded_at_to=succeeded_at_to,
        failed_at_from=failed_at_from,
        failed_at_to=failed_at_to,
        refunded_at_from=refunded_at_from,
        refunded_at_to=refunded_at_to,
    )
    found = fees.list_fees(organization_id(router), filters)
    return list_body("fees", found, Page.of(page, per_page), lambda fee: fee)


@router.get("/fees/<lago_id>")
def get_fee(lago_id: str) -> dict[str, Any]:
    return {"fee": fees.get_fee(organization_id(router), lago_id)}


@router.put("/fees/<lago_id>")
def update_fee(lago_id: str, body: Annotated[FeeUpdateBody, Body()]) -> dict[str, Any]:
    return {"fee": fees.update_fee(organization_id(router), lago_id, body.fee.payment_status)}


@router.delete("/fees/<lago_id>")
def delete_fee(lago_id: str) -> dict[str, Any]:
    return {"fee": fees.delete_fee(organization_id(router), lago_id)}
