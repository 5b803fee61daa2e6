"""The label catalog and the choice of a document's language (lago-docs/24-resources.md "Document locales")."""

from __future__ import annotations

from string import Formatter

import pytest
from fontTools.ttLib import TTFont
from lagoon.documents.fonts import FONT_FILES, font_path
from lagoon.documents.formatting import CURRENCY_SYMBOLS
from lagoon.documents.locales import EN, LABEL_KEYS, LOCALES, document_locale


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field}


@pytest.mark.parametrize("code", sorted(LOCALES))
def test_every_locale_has_every_label_with_the_same_placeholders(code: str) -> None:
    labels = LOCALES[code].labels
    assert set(labels) == set(LABEL_KEYS)
    for key in LABEL_KEYS:
        assert placeholders(labels[key]) == placeholders(EN.labels[key]), key


def test_at_least_english_french_german_and_spanish() -> None:
    assert {"en", "fr", "de", "es"} <= set(LOCALES)


@pytest.mark.parametrize(
    ("explicit", "customer_locale", "organization_locale", "expected"),
    [
        (None, "fr", "de", "fr"),  # the customer's choice first
        (None, None, "de", "de"),  # then the organization's
        (None, None, None, "en"),  # then English
        ("es", "fr", "de", "es"),  # an explicit locale (a re-render on demand) wins
        (None, "fr-FR", None, "fr"),  # a regional variant uses its language
        (None, "DE", None, "de"),
        (None, "it", "es", "es"),  # a language without a catalog yet falls to the next choice
        (None, "", None, "en"),
    ],
)
def test_document_locale_is_chosen_as_lago_does(
    explicit: str | None, customer_locale: str | None, organization_locale: str | None, expected: str
) -> None:
    customer = {"billing_configuration": {"document_locale": customer_locale}}
    organization = {"billing_configuration": {"document_locale": organization_locale}}

    assert document_locale(customer, organization, explicit).code == expected


def test_missing_billing_configurations_mean_english() -> None:
    assert document_locale({}, {"billing_configuration": None}).code == "en"


@pytest.mark.parametrize("style", sorted(FONT_FILES))
def test_the_font_has_a_glyph_for_every_label_and_currency_symbol(style: str) -> None:
    # Missing glyphs would print blank (fpdf2 only logs a warning).
    cmap = TTFont(font_path(style)).getBestCmap()
    text = "".join(
        "".join(labels.labels.values()) + "".join(labels.dates.month_names) for labels in LOCALES.values()
    )
    text += "".join(CURRENCY_SYMBOLS.values()) + "€Żżßł•—·\u00a0\u202f"
    missing = sorted({char for char in text if ord(char) not in cmap and char not in "{}"})
    assert not missing


@pytest.mark.parametrize("code", sorted(LOCALES))
def test_every_fee_table_header_fits_its_column(code: str) -> None:
    # The header cells after the first are single lines: a longer label ran into its neighbour (Spanish did)
    from fpdf import FPDF
    from lagoon.documents import fonts
    from lagoon.documents.invoice_pdf import COLUMNS

    pdf = FPDF()
    fonts.add_document_fonts(pdf)
    pdf.set_font(fonts.FAMILY, "B", 8)
    locale = LOCALES[code]
    for key, width in zip(("unit", "unit_price", "tax_rate", "amount"), COLUMNS[1:], strict=True):
        assert pdf.get_string_width(locale.label(key)) <= width - 2 * pdf.c_margin, (code, key)
