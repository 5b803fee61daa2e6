"""The invoice PDF: a contract-shaped invoice (`InvoiceObjectExtended`) → the document bytes.

Pure: no AWS, no clock, no I/O but reading the bundled font. Deterministic: the PDF's creation date is the
invoice's issuing date, so the same invoice always gives the same bytes (stored once at finalization,
re-rendered on demand).

Layout (A4, mm): title and organization, invoice facts, "From" / "Bill to" blocks, the amount due, the fee
table (one line per fee with its detail lines), the totals in Lago's order (fees, coupons, sub total excl.
tax, one line per tax rate, sub total incl. tax, credit notes, prepaid credits, total due), the invoice footer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, XPos, YPos

from lagoon.documents.fee_details import DetailLine, fee_detail_lines
from lagoon.documents.fee_rows import fee_name, table_fees
from lagoon.documents.fonts import FAMILY, add_document_fonts
from lagoon.documents.formatting import (
    format_date,
    format_money_cents,
    format_quantity,
    format_rate,
    format_unit_price,
    parse_date,
    parse_local_date,
    plain_text,
    to_decimal,
)
from lagoon.documents.locales import Locale, document_locale
from lagoon.documents.parties import displayed_metadata, party_lines, party_name

PAGE_MARGIN = 15.0
CONTENT_WIDTH = 210.0 - 2 * PAGE_MARGIN
BOTTOM_MARGIN = 20.0

TEXT = (17, 24, 39)
MUTED = (107, 114, 128)
RULE = (209, 213, 219)
HEADER_FILL = (243, 244, 246)
ALERT = (185, 28, 28)

# Fee table columns: item, units, unit price, tax rate, amount (mm, total CONTENT_WIDTH).
COLUMNS = (82.0, 22.0, 30.0, 18.0, 28.0)
ROW_LINE = 4.4
DETAIL_LINE = 3.8
METADATA_X = CONTENT_WIDTH / 2 + 5.0
"""Where the customer's metadata column starts, beside the invoice's facts; its keys are METADATA_KEY wide."""
METADATA_KEY = 35.0
TOTALS_X = PAGE_MARGIN + 80.0
TOTALS_LABEL = 70.0
TOTALS_AMOUNT = CONTENT_WIDTH - 80.0 - TOTALS_LABEL


@dataclass(frozen=True, slots=True)
class _Row:
    """A table row: the first cell wraps, the others are single right-aligned values."""

    cells: Sequence[str]
    widths: Sequence[float]
    size: float = 9
    style: str = ""
    color: tuple[int, int, int] = TEXT
    indent: float = 0.0
    line_height: float = ROW_LINE
    notes: Sequence[str] = ()
    """Muted lines under the first cell (the fee's period)."""


class _InvoiceDocument(FPDF):
    """FPDF with the invoice's page footer (number and page count) and a table header repeated per page."""

    def __init__(self, invoice_number: str, locale: Locale) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.invoice_number = invoice_number
        self.locale = locale
        self.table_header: _Row | None = None
        self.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
        self.set_auto_page_break(True, margin=BOTTOM_MARGIN)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*MUTED)
        # Left-aligned: the page count alias ("{nb}") is replaced after layout, so right-aligning it would
        # be computed on the alias' width.
        page = self.locale.label("page", page=self.page_no(), pages="{nb}")
        self.cell(CONTENT_WIDTH, 4, f"{self.invoice_number} · {page}")


def render_invoice_pdf(
    invoice: Mapping[str, Any],
    organization: Mapping[str, Any],
    customer: Mapping[str, Any],
    locale: str | None = None,
) -> bytes:
    """The invoice as PDF bytes.

    `invoice` is an `InvoiceObjectExtended` (with `fees`, `applied_taxes`, `credits`), `organization` an
    `OrganizationObject` (its `billing_configuration.invoice_footer` is printed), `customer` a
    `CustomerObject`. The language is `locale` when given, else the customer's document locale, else the
    organization's, else English (`document_locale`).
    """
    chosen = document_locale(customer, organization, locale)
    currency = str(invoice["currency"])
    pdf = _InvoiceDocument(plain_text(invoice.get("number")), chosen)
    add_document_fonts(pdf)
    issuing_date = parse_date(str(invoice["issuing_date"]))
    pdf.set_creation_date(datetime.combine(issuing_date, time(0), tzinfo=UTC))
    pdf.set_title(f"{chosen.label('document_name')} {plain_text(invoice.get('number'))}")
    pdf.set_author(party_name(organization))
    pdf.set_creator("Lagoon")
    pdf.set_lang(chosen.code)
    pdf.add_page()

    renderer = _InvoiceRenderer(pdf, invoice, organization, customer, chosen, currency)
    renderer.header()
    renderer.parties()
    renderer.amount_due()
    renderer.fees()
    renderer.totals()
    renderer.footer_text()
    return bytes(pdf.output())


class _InvoiceRenderer:
    def __init__(
        self,
        pdf: _InvoiceDocument,
        invoice: Mapping[str, Any],
        organization: Mapping[str, Any],
        customer: Mapping[str, Any],
        locale: Locale,
        currency: str,
    ) -> None:
        self.pdf = pdf
        self.invoice = invoice
        self.organization = organization
        self.customer = customer
        self.locale = locale
        self.currency = currency

    # -- helpers -------------------------------------------------------------------------------------------

    def money(self, cents: object) -> str:
        return format_money_cents(int(cents or 0), self.currency, self.locale)  # type: ignore[call-overload]

    def font(self, size: float, style: str = "", color: tuple[int, int, int] = TEXT) -> None:
        self.pdf.set_font(FAMILY, style, size)
        self.pdf.set_text_color(*color)

    def lines_of(self, text: str, width: float) -> list[str]:
        if not text:
            return [""]
        if self.pdf.get_string_width(text) <= width and "\n" not in text:
            return [text]
        lines = self.pdf.multi_cell(width, 1, text, dry_run=True, output=MethodReturnValue.LINES)
        assert isinstance(lines, list)
        return [str(line) for line in lines] or [""]

    def wrapped(self, text: str, width: float, line_height: float) -> None:
        """Text wrapped to `width` from the current position, one cell per line (faster than multi_cell)."""
        for line in self.lines_of(text, width - 2 * self.pdf.c_margin):
            self.pdf.cell(width, line_height, line, new_x=XPos.LEFT, new_y=YPos.NEXT)

    def rule(self, color: tuple[int, int, int] = RULE, width: float = 0.2, x: float = PAGE_MARGIN) -> None:
        self.pdf.set_draw_color(*color)
        self.pdf.set_line_width(width)
        self.pdf.line(x, self.pdf.get_y(), PAGE_MARGIN + CONTENT_WIDTH, self.pdf.get_y())

    def row(self, row: _Row, x: float = PAGE_MARGIN) -> None:
        """Draw a row, first moving to a new page (with the table header again) if it does not fit."""
        pdf = self.pdf
        self.font(row.size, row.style, row.color)
        first_width = row.widths[0] - row.indent - 1.5
        lines = self.lines_of(row.cells[0], first_width)
        height = len(lines) * row.line_height + len(row.notes) * DETAIL_LINE + 1.6
        if pdf.will_page_break(height):
            pdf.add_page()
            if pdf.table_header is not None:
                self.table_header_row()
        top = pdf.get_y() + 0.8
        self.font(row.size, row.style, row.color)
        for index, line in enumerate(lines):
            pdf.set_xy(x + row.indent, top + index * row.line_height)
            pdf.cell(first_width, row.line_height, line)
        cursor = x + row.widths[0]
        for text, width in zip(row.cells[1:], row.widths[1:], strict=True):
            pdf.set_xy(cursor, top)
            pdf.cell(width, row.line_height, text, align=Align.R)
            cursor += width
        if row.notes:
            self.font(7.5, "", MUTED)
            notes_top = top + len(lines) * row.line_height
            for index, note in enumerate(row.notes):
                pdf.set_xy(x + row.indent, notes_top + index * DETAIL_LINE)
                pdf.cell(first_width, DETAIL_LINE, note)
        pdf.set_xy(x, top - 0.8 + height)

    def table_header_row(self) -> None:
        pdf = self.pdf
        header = pdf.table_header
        assert header is not None
        pdf.set_fill_color(*HEADER_FILL)
        pdf.rect(PAGE_MARGIN, pdf.get_y(), CONTENT_WIDTH, header.line_height + 2.4, style="F")
        pdf.set_y(pdf.get_y() + 0.4)
        self.row(header)
        pdf.set_y(pdf.get_y() + 0.6)

    # -- sections ------------------------------------------------------------------------------------------

    def header(self) -> None:
        pdf, locale, invoice = self.pdf, self.locale, self.invoice
        self.font(22, "B")
        pdf.set_xy(PAGE_MARGIN, PAGE_MARGIN)
        title = locale.label("document_name")
        pdf.cell(pdf.get_string_width(title) + 4, 10, title)
        status = invoice.get("status")
        if status in ("draft", "voided"):
            self.font(10, "B", ALERT)
            pdf.set_y(PAGE_MARGIN + 1.2)
            pdf.cell(40, 8, locale.label(f"status_{status}").upper())
        self.font(12, "B")
        pdf.set_xy(PAGE_MARGIN + CONTENT_WIDTH / 2, PAGE_MARGIN + 1)
        pdf.cell(CONTENT_WIDTH / 2, 8, party_name(self.organization), align=Align.R)

        facts = [(locale.label("invoice_number"), plain_text(invoice.get("number")))]
        facts.append(
            (locale.label("issue_date"), format_date(parse_date(str(invoice["issuing_date"])), locale))
        )
        if invoice.get("net_payment_term") is not None:
            facts.append(
                (
                    locale.label("payment_term"),
                    locale.label("payment_term_days", days=invoice["net_payment_term"]),
                )
            )
        if invoice.get("payment_due_date"):
            facts.append(
                (locale.label("due_date"), format_date(parse_date(str(invoice["payment_due_date"])), locale))
            )
        pdf.set_y(PAGE_MARGIN + 14)
        for label, value in facts:
            pdf.set_x(PAGE_MARGIN)
            self.font(9, "", MUTED)
            pdf.cell(38, 5, label)
            self.font(9, "B")
            pdf.cell(80, 5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        below_facts = pdf.get_y()
        self.customer_metadata(PAGE_MARGIN + 14)
        pdf.set_xy(PAGE_MARGIN, max(below_facts, pdf.get_y()))

    def customer_metadata(self, top: float) -> None:
        """The customer's metadata shown on invoices, a "key value" row each beside the invoice's facts (Lago's
        second invoice-information column); long keys and values wrap in their cells."""
        pdf = self.pdf
        pdf.set_y(top)
        x = PAGE_MARGIN + METADATA_X
        for key, value in displayed_metadata(self.customer):
            row_top = pdf.get_y()
            self.font(9, "", MUTED)
            pdf.set_xy(x, row_top)
            self.wrapped(key, METADATA_KEY, 5)
            below_key = pdf.get_y()
            self.font(9, "B")
            pdf.set_xy(x + METADATA_KEY, row_top)
            self.wrapped(value, CONTENT_WIDTH - METADATA_X - METADATA_KEY, 5)
            pdf.set_y(max(below_key, pdf.get_y()))

    def parties(self) -> None:
        pdf, locale = self.pdf, self.locale
        top = pdf.get_y() + 6
        width = (CONTENT_WIDTH - 10) / 2
        bottom = top
        for column, (heading, party) in enumerate(
            ((locale.label("bill_from"), self.organization), (locale.label("bill_to"), self.customer))
        ):
            x = PAGE_MARGIN + column * (width + 10)
            pdf.set_xy(x, top)
            self.font(8, "B", MUTED)
            pdf.cell(width, 5, heading.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
            self.font(10, "B")
            self.wrapped(party_name(party), width, 5)
            self.font(9)
            for line in party_lines(party, locale):
                self.wrapped(line, width, 4.2)
            bottom = max(bottom, pdf.get_y())
        pdf.set_xy(PAGE_MARGIN, bottom + 5)

    def amount_due(self) -> None:
        pdf, invoice, locale = self.pdf, self.invoice, self.locale
        total = self.money(invoice.get("total_amount_cents"))
        if invoice.get("payment_due_date"):
            text = locale.label(
                "amount_due",
                amount=total,
                date=format_date(parse_date(str(invoice["payment_due_date"])), locale),
            )
        else:
            text = f"{locale.label('total_due')}: {total}"
        self.font(14, "B")
        pdf.cell(CONTENT_WIDTH, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_y(pdf.get_y() + 2)

    def fees(self) -> None:
        pdf, locale = self.pdf, self.locale
        pdf.table_header = _Row(
            [
                locale.label("item"),
                locale.label("unit"),
                locale.label("unit_price"),
                locale.label("tax_rate"),
                locale.label("amount"),
            ],
            COLUMNS,
            size=8,
            style="B",
            color=MUTED,
        )
        fees = table_fees(self.invoice.get("fees") or [])
        # One period for every fee (the usual subscription invoice) is said once, above the table.
        periods = {self.period(fee) for fee in fees}
        if len(periods) == 1 and (common := periods.pop()):
            self.font(8.5, "", MUTED)
            pdf.cell(CONTENT_WIDTH, 5, common, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_y(pdf.get_y() + 1)
            periods = set()
        self.table_header_row()
        for fee in fees:
            notes = [period] if periods and (period := self.period(fee)) else []
            self.row(
                _Row(
                    [
                        fee_name(fee, locale),
                        format_quantity(to_decimal(fee.get("units")), locale),
                        format_unit_price(to_decimal(fee.get("precise_unit_amount")), self.currency, locale),
                        format_rate(to_decimal(fee.get("taxes_rate")), locale),
                        self.money(fee.get("amount_cents")),
                    ],
                    COLUMNS,
                    notes=notes,
                )
            )
            for detail in fee_detail_lines(fee, self.currency, locale):
                self.row(_detail_row(detail))
            pdf.set_y(pdf.get_y() + 0.6)
            self.rule()
        pdf.table_header = None
        pdf.set_y(pdf.get_y() + 2)

    def period(self, fee: Mapping[str, Any]) -> str:
        """ "Fees from … to …" in the customer's timezone, or "" for a fee without a period."""
        if not (fee.get("from_date") and fee.get("to_date")):
            return ""
        timezone = self.customer.get("applicable_timezone") or self.customer.get("timezone")
        return self.locale.label(
            "fees_from_to",
            from_date=format_date(parse_local_date(str(fee["from_date"]), timezone), self.locale),
            to_date=format_date(parse_local_date(str(fee["to_date"]), timezone), self.locale),
        )

    def totals(self) -> None:
        invoice, locale = self.invoice, self.locale
        lines: list[tuple[str, str]] = []
        coupons = [
            credit
            for credit in invoice.get("credits") or []
            if (credit.get("item") or {}).get("type") == "coupon"
        ]
        coupons_cents = int(invoice.get("coupons_amount_cents") or 0)
        progressive_cents = int(invoice.get("progressive_billing_credit_amount_cents") or 0)
        if coupons or coupons_cents or progressive_cents:
            lines.append((locale.label("sub_total"), self.money(invoice.get("fees_amount_cents"))))
            if coupons:
                for coupon in coupons:
                    name = (coupon.get("item") or {}).get("name") or locale.label("coupons")
                    lines.append((name, self.money(-int(coupon.get("amount_cents") or 0))))
            elif coupons_cents:
                lines.append((locale.label("coupons"), self.money(-coupons_cents)))
            if progressive_cents:
                lines.append((locale.label("progressive_billing_credits"), self.money(-progressive_cents)))
        lines.append(
            (
                locale.label("sub_total_without_tax"),
                self.money(invoice.get("sub_total_excluding_taxes_amount_cents")),
            )
        )
        for tax in invoice.get("applied_taxes") or []:
            rate = format_rate(to_decimal(tax.get("tax_rate")), locale)
            name = plain_text(tax.get("tax_name")) or plain_text(tax.get("tax_code"))
            if tax.get("fees_amount_cents") is not None:
                label = locale.label(
                    "tax_name", name=name, rate=rate, amount=self.money(tax["fees_amount_cents"])
                )
            else:
                label = locale.label("tax_name_without_base", name=name, rate=rate)
            lines.append((label, self.money(tax.get("amount_cents"))))
        lines.append(
            (
                locale.label("sub_total_with_tax"),
                self.money(invoice.get("sub_total_including_taxes_amount_cents")),
            )
        )
        credit_notes_cents = int(invoice.get("credit_notes_amount_cents") or 0)
        if credit_notes_cents:
            lines.append((locale.label("credit_notes"), self.money(-credit_notes_cents)))
        prepaid_cents = int(invoice.get("prepaid_credit_amount_cents") or 0)
        if prepaid_cents:
            lines.append((locale.label("prepaid_credits"), self.money(-prepaid_cents)))

        widths = (TOTALS_LABEL, TOTALS_AMOUNT)
        # The totals stay together: an accountant reads them as one calculation.
        if self.pdf.will_page_break(len(lines) * (4.6 + 1.6) + 2 + 6.0 + 1.6):
            self.pdf.add_page()
        for label, amount in lines:
            self.row(_Row([label, amount], widths, line_height=4.6), x=TOTALS_X)
        self.pdf.set_y(self.pdf.get_y() + 1)
        self.rule(TEXT, 0.4, x=TOTALS_X)
        self.pdf.set_y(self.pdf.get_y() + 1)
        total = _Row(
            [locale.label("total_due"), self.money(invoice.get("total_amount_cents"))],
            widths,
            size=11,
            style="B",
            line_height=6.0,
        )
        self.row(total, x=TOTALS_X)

    def footer_text(self) -> None:
        footer = plain_text((self.organization.get("billing_configuration") or {}).get("invoice_footer"))
        if not footer:
            return
        pdf = self.pdf
        pdf.set_y(pdf.get_y() + 10)
        self.font(8, "", MUTED)
        pdf.multi_cell(CONTENT_WIDTH, 4, footer, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _detail_row(detail: DetailLine) -> _Row:
    return _Row(
        [detail.label, detail.units, detail.unit_price, "", detail.amount],
        COLUMNS,
        size=8,
        color=MUTED,
        indent=4.0,
        line_height=DETAIL_LINE,
    )
