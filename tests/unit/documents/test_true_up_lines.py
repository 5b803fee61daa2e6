"""True-up fees on the invoice PDF: the line Lago's template prints for a charge's minimum spend
(`templates/invoices/v4/_true_up_fee.slim`, right after the fee it completes, named after it)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lagoon.documents import render_invoice_pdf

from tests.contract import assert_matches_schema
from tests.unit.documents.pdf_text import pdf_text

NBSP = "\u00a0"


def _true_up_of(parent: dict[str, Any], lago_id: str, amount_cents: int) -> dict[str, Any]:
    """A true-up as the billing run builds it: a one-unit copy of its parent, without events or breakdown."""
    true_up = copy.deepcopy(parent)
    amount = f"{amount_cents / 100:.2f}"
    true_up.update(
        lago_id=lago_id,
        lago_true_up_parent_fee_id=parent["lago_id"],
        amount_cents=amount_cents,
        precise_amount=amount,
        units="1",
        total_aggregated_units="1",
        precise_unit_amount=amount,
        events_count=0,
        amount_details={},
    )
    parent["lago_true_up_fee_id"] = lago_id
    return true_up


def _with_true_ups(example: dict[str, Any]) -> dict[str, Any]:
    # API calls (€38.00, graduated) fall €12.00 short of a €50.00 minimum; no text message was sent (€0.00)
    # under a €10.00 minimum. The billing run lists true-ups after every charge fee.
    fees = example["invoice"]["fees"]
    api_calls, messages = fees[1], fees[9]
    messages.update(amount_cents=0, units="0.0", precise_unit_amount="0.0", events_count=0)
    fees.append(_true_up_of(api_calls, "1a900000-0000-4000-8000-0000000001a1", 1200))
    fees.append(_true_up_of(messages, "1a900000-0000-4000-8000-0000000001a2", 1000))
    return example


def _lines(example: dict[str, Any], locale: str = "en") -> list[str]:
    document = render_invoice_pdf(example["invoice"], example["organization"], example["customer"], locale)
    return pdf_text(document).splitlines()


def test_a_true_up_follows_the_fee_it_completes_and_is_named_after_it(example: dict[str, Any]) -> None:
    text = _lines(_with_true_ups(example))

    # The true-up comes right after its charge and that charge's tiers, not at the end of the table
    api_calls = text.index("API calls 25,000 €0.00152 22% €38.00")
    true_up = text.index("API calls - True-up 1 €12.00 22% €12.00")
    assert true_up == api_calls + 5  # the charge's four tier lines come between
    assert text[true_up + 1].startswith("Object storage (GB-month)")
    # A charge without usage is shown when a true-up completes it, as Lago shows a true-up's parent
    messages = text.index("Text messages 0 €0.00 22% €0.00")
    assert text[messages + 1] == "Text messages - True-up 1 €10.00 22% €10.00"
    assert_matches_schema("InvoiceObjectExtended", example["invoice"])


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        # lago-api config/locales/*/invoice.yml `invoice.true_up_metric`
        ("fr", f"API calls - Frais d'ajustement 1 12,00{NBSP}€ 22{NBSP}% 12,00{NBSP}€"),
        ("de", f"API calls - Kosten für die Anpassung 1 12,00{NBSP}€ 22{NBSP}% 12,00{NBSP}€"),
        ("es", f"API calls • Ajuste real 1 12,00{NBSP}€ 22{NBSP}% 12,00{NBSP}€"),
    ],
)
def test_the_true_up_line_speaks_the_documents_language(
    example: dict[str, Any], locale: str, expected: str
) -> None:
    assert expected in _lines(_with_true_ups(example), locale)


def test_a_true_up_of_a_grouped_charge_is_named_after_the_charge_alone(example: dict[str, Any]) -> None:
    # Lago names a true-up after its parent's invoice name, without the parent's group values
    example = _with_true_ups(example)
    for fee in example["invoice"]["fees"]:
        if fee["lago_id"] in ("1a900000-0000-4000-8000-00000000006f", "1a900000-0000-4000-8000-0000000001a1"):
            fee["item"]["grouped_by"] = {"model": "gpt"}
    text = _lines(example)
    assert "API calls • gpt 25,000 €0.00152 22% €38.00" in text
    assert "API calls - True-up 1 €12.00 22% €12.00" in text
