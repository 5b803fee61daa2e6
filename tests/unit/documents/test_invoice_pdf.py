"""Invoice PDFs as specifications: what an accountant reads in the document (text extracted with pypdf)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from lagoon.documents import render_invoice_pdf
from lagoon.documents.fonts import reset_font_cache
from lagoon.documents.locales import NARROW_NBSP, NBSP

from tests.contract import assert_matches_schema
from tests.unit.documents.pdf_text import page_texts, pdf_text


def render(example: dict[str, Any], locale: str | None = None) -> bytes:
    return render_invoice_pdf(example["invoice"], example["organization"], example["customer"], locale)


def lines(example: dict[str, Any], locale: str | None = None) -> list[str]:
    return pdf_text(render(example, locale)).splitlines()


def test_the_fixture_is_exactly_in_the_contracts_shape(example: dict[str, Any]) -> None:
    assert_matches_schema("InvoiceObjectExtended", example["invoice"])
    assert_matches_schema("OrganizationObject", example["organization"])
    assert_matches_schema("CustomerObject", example["customer"])


def test_the_header_states_the_number_the_dates_and_both_parties(example: dict[str, Any]) -> None:
    # Given an invoice issued on 2026-11-01, due 30 days later, rendered in the customer's locale (en)
    text = lines(example)

    # Then the accountant finds the facts of the invoice…
    assert text[0] == "Invoice Nordlicht Software GmbH"
    assert "Invoice number NOR-7F3A-202611-087" in text
    assert "Issue date Nov. 01, 2026" in text
    assert "Net payment term 30 days" in text
    assert "Due date Dec. 01, 2026" in text
    assert "€1,800.28 due Dec. 01, 2026" in text
    # …and both legal entities with their addresses and identification numbers
    for line in ("Nordlicht Software GmbH", "Großbeerenstraße 12", "10963 Berlin", "Tax ID: DE123456789"):
        assert line in text
    assert "Legal number: HRB 123456 B" in text
    for line in ("Żółw Analytics sp. z o.o.", "ul. Żelazna 59", "00-855 Warszawa", "Tax ID: PL5260250995"):
        assert line in text


def test_each_fee_is_a_line_with_units_unit_price_tax_rate_and_amount(example: dict[str, Any]) -> None:
    text = lines(example)

    assert "Fees from Oct. 01, 2026 to Oct. 31, 2026" in text  # the one period, in the customer's timezone
    assert "Item Units Unit price Tax rate Amount (excl. tax)" in text
    assert "Scale plan — monthly subscription 1 €199.00 22% €199.00" in text
    assert "Object storage (GB-month) 1,250.5 €0.02 22% €25.01" in text
    assert "Text messages 3,400 €0.0075 22% €25.50" in text
    # a charge filter is named after the charge and the filter's invoice display name
    assert "Compute hours • Region eu-west (Frankfurt) 730 €0.045 22% €32.85" in text
    assert "Compute hours • Region us-east (Virginia) 512 €0.045 22% €23.04" in text


def test_a_graduated_fee_lists_each_tier_and_its_flat_fee(example: dict[str, Any]) -> None:
    text = lines(example)

    start = text.index("API calls 25,000 €0.00152 22% €38.00")
    assert text[start + 1 : start + 5] == [
        "Fee per unit for the first 1,000 1,000 €0.00 €0.00",
        "Fee per unit for the next 1,001 to 10,000 9,000 €0.002 €18.00",
        "Flat fee for the next 1,001 to 10,000 1 €5.00 €5.00",
        "Fee per unit for 10,001 and above 15,000 €0.001 €15.00",
    ]


def test_package_percentage_and_volume_fees_show_lagos_breakdown(example: dict[str, Any]) -> None:
    text = lines(example)

    start = text.index("Egress bandwidth (GB) 12,345 €0.005265 22% €65.00")
    assert text[start + 1 : start + 3] == [
        "Free units for the first 100 100 €0.00 €0.00",
        "Fee per package 12,245 €5.00 per 1,000 €65.00",
    ]
    start = text.index("Payment volume 48,000 €0.014869 22% €713.70")
    assert text[start + 1 : start + 5] == [
        "Total event 48,000",
        "Free units for 3 transactions 1,200 €0.00",
        "Rate on the amount 46,800 1.5% €702.00",
        "Fixed fee per transaction 117 €0.10 €11.70",
    ]
    start = text.index("Team seats 42 €8.47619 22% €356.00")
    assert text[start + 1 : start + 3] == [
        "Fee per unit 42 €8.00 €336.00",
        "Flat fee for all units 1 €20.00 €20.00",
    ]


def test_totals_read_top_down_as_lago_computes_them(example: dict[str, Any]) -> None:
    text = lines(example)

    start = text.index("Subtotal €1,628.10")
    assert text[start : start + 10] == [  # the invoice footer follows the total
        "Subtotal €1,628.10",
        "Launch discount -€50.00",
        "Sub total (excl. tax) €1,578.10",
        "VAT DE (19% on €1,578.10) €299.84",
        "Digital services levy (3% on €1,578.10) €47.34",
        "Sub total (incl. tax) €1,925.28",
        "Credit notes -€25.00",
        "Prepaid credits -€100.00",
        "Total due €1,800.28",
        "Nordlicht Software GmbH · IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX · Please quote the invoice "
        "number with your payment.",
    ]


def test_the_invoice_footer_closes_the_document(example: dict[str, Any]) -> None:
    text = pdf_text(render(example))

    assert "Geschäftsführer: Jürgen Weiß." in text
    assert "NOR-7F3A-202611-087 · Page 2/2" in text


@pytest.mark.parametrize(
    ("locale", "expected_lines"),
    [
        (
            "fr",
            [
                "Facture Nordlicht Software GmbH",
                "Numéro de facture NOR-7F3A-202611-087",
                "Date d'émission 1 novembre 2026",
                "Date d'échéance 1 décembre 2026",
                f"1{NARROW_NBSP}800,28{NBSP}€ à payer avant le 1 décembre 2026",
                f"API calls 25{NARROW_NBSP}000 0,00152{NBSP}€ 22{NBSP}% 38,00{NBSP}€",
                f"Sous-total (HT) 1{NARROW_NBSP}578,10{NBSP}€",
                f"VAT DE (19{NBSP}% sur 1{NARROW_NBSP}578,10{NBSP}€) 299,84{NBSP}€",
                f"Avoirs -25,00{NBSP}€",
                f"Total à payer 1{NARROW_NBSP}800,28{NBSP}€",
            ],
        ),
        (
            "de",
            [
                "Rechnung Nordlicht Software GmbH",
                "Rechnungsnummer NOR-7F3A-202611-087",
                "Rechnungsdatum 1. November 2026",
                "Fälligkeitsdatum 1. Dezember 2026",
                "USt-IdNr.: DE123456789",
                f"Gebühr pro Einheit für die nächsten 1.001 bis 10.000 9.000 0,002{NBSP}€ 18,00{NBSP}€",
                f"Zwischensumme (netto) 1.578,10{NBSP}€",
                f"Vorausbezahltes Guthaben -100,00{NBSP}€",
                f"Gesamtbetrag fällig 1.800,28{NBSP}€",
            ],
        ),
        (
            "es",
            [
                "Factura Nordlicht Software GmbH",
                "Número de factura NOR-7F3A-202611-087",
                "Fecha de emisión 1 de noviembre de 2026",
                f"Egress bandwidth (GB) 12.345 0,005265{NBSP}€ 22{NBSP}% 65,00{NBSP}€",
                f"Cargo por paquete 12.245 5,00{NBSP}€ por 1.000 65,00{NBSP}€",
                f"Subtotal (con impuestos) 1.925,28{NBSP}€",
                f"Total a pagar 1.800,28{NBSP}€",
            ],
        ),
    ],
)
def test_the_document_speaks_the_locale_with_its_number_and_date_formats(
    example: dict[str, Any], locale: str, expected_lines: list[str]
) -> None:
    text = lines(example, locale)

    for line in expected_lines:
        assert line in text


def test_the_language_is_the_customers_then_the_organizations_then_english(example: dict[str, Any]) -> None:
    # Given a customer in "es" and an organization in "de"
    example["customer"]["billing_configuration"]["document_locale"] = "es"
    assert lines(example)[0] == "Factura Nordlicht Software GmbH"

    # Without a customer locale, the organization's applies
    del example["customer"]["billing_configuration"]["document_locale"]
    assert lines(example)[0] == "Rechnung Nordlicht Software GmbH"

    # Without either, English
    del example["organization"]["billing_configuration"]["document_locale"]
    assert lines(example)[0] == "Invoice Nordlicht Software GmbH"


def test_euro_sign_polish_and_german_letters_render_with_the_embedded_font(
    example: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        document = render(example)

    text = pdf_text(document)
    assert "€" in text and "Ż" in text and "ß" in text
    assert not [record for record in caplog.records if "missing" in record.getMessage()]
    assert b"/FontFile2" in document  # a TrueType font program is embedded


def test_the_same_invoice_always_gives_the_same_bytes(example: dict[str, Any]) -> None:
    first = render(example)
    assert render(example) == first

    # a fresh container (cold font cache) renders the very same document
    reset_font_cache()
    assert render(example) == first
    assert b"/CreationDate (D:20261101000000Z" in first


def test_an_invoice_without_optional_fields_still_renders(example: dict[str, Any]) -> None:
    # Given no addresses, no tax ids, no taxes, no coupon or credits, no footer, no due date, no details
    invoice, organization, customer = example["invoice"], example["organization"], example["customer"]
    for party in (organization, customer):
        for key in ("address_line1", "address_line2", "city", "zipcode", "state", "country", "email"):
            party.pop(key, None)
        party["tax_identification_number"] = None
        party["legal_name"] = None
        party["legal_number"] = None
    customer["name"] = None
    del organization["billing_configuration"]
    for key in ("payment_due_date", "net_payment_term", "applied_taxes", "credits"):
        invoice.pop(key)
    invoice["fees"] = [
        {**fee, "amount_details": {}, "from_date": None, "to_date": None} for fee in invoice["fees"]
    ]
    invoice.update(
        coupons_amount_cents=0,
        credit_notes_amount_cents=0,
        prepaid_credit_amount_cents=0,
        taxes_amount_cents=0,
        sub_total_excluding_taxes_amount_cents=162810,
        sub_total_including_taxes_amount_cents=162810,
        total_amount_cents=162810,
    )

    text = lines(example)

    assert "Nordlicht Cloud" in text  # the organization's name stands in for its legal name
    assert "cus_zolw_042" in text  # a customer without any name is named by its external id
    assert "Total due: €1,628.10" in text
    assert "Sub total (excl. tax) €1,628.10" in text
    assert not [line for line in text if "Tax ID" in line or "Fees from" in line or "Subtotal" in line]
    assert_matches_schema("InvoiceObjectExtended", invoice)


def test_charges_without_usage_are_left_off_but_the_subscription_stays(example: dict[str, Any]) -> None:
    fees = example["invoice"]["fees"]
    fees[0].update(amount_cents=0, units="1.0", precise_unit_amount="0.0")  # a free plan
    fees[9].update(amount_cents=0, units="0.0", precise_unit_amount="0.0")  # no messages sent

    text = pdf_text(render(example))

    assert "Scale plan — monthly subscription 1 €0.00 22% €0.00" in text
    assert "Text messages" not in text


def test_draft_invoices_say_so(example: dict[str, Any]) -> None:
    example["invoice"]["status"] = "draft"

    assert lines(example)[0].startswith("InvoiceDRAFT")


def test_a_long_invoice_repeats_the_table_header_and_keeps_the_totals_together(
    example: dict[str, Any],
) -> None:
    fees = example["invoice"]["fees"]
    example["invoice"]["fees"] = fees * 6  # 60 fees

    pages = [page.splitlines() for page in page_texts(render(example))]

    assert len(pages) >= 3
    table_pages = [page for page in pages if any(line.startswith("Text messages") for line in page)]
    assert len(table_pages) >= 2
    for page in table_pages:
        assert "Item Units Unit price Tax rate Amount (excl. tax)" in page
    totals_page = next(page for page in pages if "Total due €1,800.28" in page)
    assert "Subtotal €1,628.10" in totals_page and "Prepaid credits -€100.00" in totals_page
    assert pages[-1][-1] == f"NOR-7F3A-202611-087 · Page {len(pages)}/{len(pages)}"


@pytest.mark.parametrize(
    ("currency", "cents", "expected_total"),
    [("JPY", 150000, "¥150,000"), ("BHD", 1234567, f"BHD{NBSP}1,234.567"), ("USD", 123456, "$1,234.56")],
)
def test_amounts_use_the_currencys_decimals(
    example: dict[str, Any], currency: str, cents: int, expected_total: str
) -> None:
    invoice = example["invoice"]
    invoice.update(currency=currency, total_amount_cents=cents)
    invoice["fees"] = [
        {**fee, "amount_currency": currency, "total_amount_currency": currency} for fee in invoice["fees"]
    ]

    assert f"Total due {expected_total}" in lines(example)
