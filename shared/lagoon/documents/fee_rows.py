"""The fee table's rows: which fees an invoice lists, in which order, and the name of each (Lago's v4
invoice template, `templates/invoices/v4/_subscription_details.slim` and `_true_up_fee.slim`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from lagoon.documents.formatting import plain_text, to_decimal
from lagoon.documents.locales import Locale

Fee = Mapping[str, Any]


def table_fees(fees: Sequence[Fee]) -> list[Fee]:
    """The fees the table lists, in invoice order, each `min_amount_cents` true-up right after the charge fee
    it completes (`lago_true_up_parent_fee_id`). Lago leaves charges with no units and no amount off the
    invoice, except the fee a true-up completes; subscription fees always show."""
    true_ups = {fee["lago_true_up_parent_fee_id"]: fee for fee in fees if _completes(fee)}
    listed = {fee.get("lago_id") for fee in fees}
    rows: list[Fee] = []
    for fee in fees:
        if _completes(fee) and fee["lago_true_up_parent_fee_id"] in listed:
            continue  # listed after the fee it completes
        true_up = true_ups.get(fee.get("lago_id"))
        if true_up is not None or _completes(fee) or _has_usage(fee):
            rows.append(fee)
        if true_up is not None:
            rows.append(true_up)
    return rows


def fee_name(fee: Fee, locale: Locale) -> str:
    """The fee's invoice name: display name (or name), then its filter's display name or grouped values. A
    true-up is named after the charge alone: "<name> - True-up" (Lago's `invoice.true_up_metric`)."""
    item = fee.get("item") or {}
    name = plain_text(item.get("invoice_display_name")) or plain_text(item.get("name"))
    name = name or plain_text(item.get("code"))
    if _completes(fee):
        return locale.label("true_up_metric", metric=name)
    qualifiers = []
    if plain_text(item.get("filter_invoice_display_name")):
        qualifiers.append(plain_text(item["filter_invoice_display_name"]))
    grouped_by = item.get("grouped_by") or {}
    qualifiers += [plain_text(value) for value in grouped_by.values() if plain_text(value)]
    return " • ".join([name, *qualifiers])


def _completes(fee: Fee) -> bool:
    """Whether the fee is a true-up (it completes another fee)."""
    return bool(fee.get("lago_true_up_parent_fee_id"))


def _has_usage(fee: Fee) -> bool:
    if (fee.get("item") or {}).get("type") == "subscription":
        return True
    return bool(int(fee.get("amount_cents") or 0)) or to_decimal(fee.get("units")) != Decimal(0)
