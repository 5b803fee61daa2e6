"""Lago's FeeObject: the fee as an invoice shows it."""

from __future__ import annotations

from typing import Any

from lagoon.domain.invoices import Invoice


def render_fee(invoice: Invoice, fee: dict[str, Any]) -> dict[str, Any]:
    """FeeObject of an invoiced fee: the stored fee with its invoice's payment status."""
    succeeded = invoice.updated_at if invoice.payment_status == "succeeded" else None
    failed = invoice.updated_at if invoice.payment_status == "failed" else None
    return dict(fee, payment_status=invoice.payment_status, succeeded_at=succeeded, failed_at=failed)
