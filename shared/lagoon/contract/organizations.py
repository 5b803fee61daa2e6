"""OrganizationObject: the organization as `PUT /organizations` and the invoice PDFs render it."""

from __future__ import annotations

from typing import Any

from lagoon.contract.taxes import render_taxes
from lagoon.data.webhook_endpoints import list_endpoints
from lagoon.domain.organizations import Organization


def render_organization(organization: Organization) -> dict[str, Any]:
    """OrganizationObject of the contract; `webhook_url` is the first webhook endpoint's URL, as in Lago."""
    body = organization.model_dump(
        mode="json", exclude={"hmac_key", "tax_codes", "revision", "webhook_private_networks"}
    )
    body["webhook_urls"] = [endpoint.webhook_url for endpoint in list_endpoints(organization.lago_id)]
    body["webhook_url"] = body["webhook_urls"][0] if body["webhook_urls"] else organization.webhook_url
    body["taxes"] = render_taxes(organization.lago_id, organization.tax_codes)
    return body
