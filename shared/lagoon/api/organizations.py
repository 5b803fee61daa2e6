"""Routes of the organizations group: PUT /organizations."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from lagoon.api.resolver import organization_id
from lagoon.contract.organizations import render_organization
from lagoon.domain.organizations import OrganizationUpdate
from lagoon.models import LagoonModel
from lagoon.services import organizations

router = APIGatewayRouter()


class OrganizationUpdateBody(LagoonModel):
    organization: OrganizationUpdate


@router.put("/organizations")
def update_organization(body: Annotated[OrganizationUpdateBody, Body()]) -> dict[str, Any]:
    org_id = organization_id(router)
    updated = organizations.update_organization(org_id, body.organization)
    return {"organization": render_organization(updated)}
