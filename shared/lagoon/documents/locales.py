"""Document locales: the label catalog and the number/date conventions of every supported locale.

Lago picks a document's language from the customer's `billing_configuration.document_locale`, then the
organization's, then English (lago-docs/24-resources.md "Document locales"). Labels follow the keys of Lago's
invoice template (same document, "How to add a new language": `invoice.*`); the names of metrics, plans,
add-ons, coupons and taxes come from the catalog and are never translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_LOCALE = "en"

NBSP = "\u00a0"
NARROW_NBSP = "\u202f"


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How a locale writes numbers and money: separators and where the currency symbol goes."""

    decimal_mark: str
    thousands_separator: str
    symbol_before: bool
    """`$4,500.00` (en) or `4 500,00 €` (fr, de, es)."""
    percent_format: str
    """`{rate}%` (en) or `{rate} %` (fr, de, es)."""


@dataclass(frozen=True, slots=True)
class DateFormat:
    """`template` is formatted with `day`, `day2` (zero-padded), `month` (full name), `mon` (abbreviation), `year`."""

    template: str
    month_names: tuple[str, ...]
    abbr_month_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Locale:
    code: str
    numbers: NumberFormat
    dates: DateFormat
    labels: Mapping[str, str]

    def label(self, key: str, **values: Any) -> str:
        """The label `key`, with `{placeholders}` filled from `values`."""
        text = self.labels[key]
        return text.format(**values) if values else text


# Every label key a document uses; each locale must define all of them (checked by the tests).
LABEL_KEYS = (
    "document_name",
    "invoice_number",
    "issue_date",
    "due_date",
    "payment_term",
    "payment_term_days",
    "bill_from",
    "bill_to",
    "tax_identification_number",
    "legal_number",
    "amount_due",
    "item",
    "unit",
    "unit_price",
    "tax_rate",
    "amount",
    "fees_from_to",
    "fee_per_unit_for_the_first",
    "fee_per_unit_for_the_next",
    "fee_per_unit_for_the_last",
    "flat_fee_for_the_first",
    "flat_fee_for_the_next",
    "flat_fee_for_the_last",
    "free_units_for_the_first",
    "fee_per_package",
    "fee_per_package_unit_price",
    "total_event",
    "free_units_per_transaction_one",
    "free_units_per_transaction_other",
    "percentage_rate_on_amount",
    "fee_per_transaction",
    "adjustment_per_transaction",
    "fee_per_unit",
    "flat_fee_for_all_units",
    "true_up_metric",
    "sub_total",
    "coupons",
    "sub_total_without_tax",
    "tax_name",
    "tax_name_without_base",
    "sub_total_with_tax",
    "credit_notes",
    "prepaid_credits",
    "progressive_billing_credits",
    "total_due",
    "status_draft",
    "status_voided",
    "page",
)

_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

EN = Locale(
    code="en",
    numbers=NumberFormat(".", ",", symbol_before=True, percent_format="{rate}%"),
    # Lago's English date format: "%b. %d, %Y" (Dec. 01, 2022).
    dates=DateFormat("{mon}. {day2}, {year}", _EN_MONTHS, tuple(name[:3] for name in _EN_MONTHS)),
    labels={
        "document_name": "Invoice",
        "invoice_number": "Invoice number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "payment_term": "Net payment term",
        "payment_term_days": "{days} days",
        "bill_from": "From",
        "bill_to": "Bill to",
        "tax_identification_number": "Tax ID: {number}",
        "legal_number": "Legal number: {number}",
        "amount_due": "{amount} due {date}",
        "item": "Item",
        "unit": "Units",
        "unit_price": "Unit price",
        "tax_rate": "Tax rate",
        "amount": "Amount (excl. tax)",
        "fees_from_to": "Fees from {from_date} to {to_date}",
        "fee_per_unit_for_the_first": "Fee per unit for the first {to}",
        "fee_per_unit_for_the_next": "Fee per unit for the next {from_} to {to}",
        "fee_per_unit_for_the_last": "Fee per unit for {from_} and above",
        "flat_fee_for_the_first": "Flat fee for first {to}",
        "flat_fee_for_the_next": "Flat fee for the next {from_} to {to}",
        "flat_fee_for_the_last": "Flat fee for {from_} and above",
        "free_units_for_the_first": "Free units for the first {count}",
        "fee_per_package": "Fee per package",
        "fee_per_package_unit_price": "{amount} per {package_size}",
        "total_event": "Total event",
        "free_units_per_transaction_one": "Free units for 1 transaction",
        "free_units_per_transaction_other": "Free units for {count} transactions",
        "percentage_rate_on_amount": "Rate on the amount",
        "fee_per_transaction": "Fixed fee per transaction",
        "adjustment_per_transaction": "Adjustment for min/max per transaction",
        "fee_per_unit": "Fee per unit",
        "flat_fee_for_all_units": "Flat fee for all units",
        "sub_total": "Subtotal",
        "coupons": "Coupons",
        "sub_total_without_tax": "Sub total (excl. tax)",
        "tax_name": "{name} ({rate} on {amount})",
        "tax_name_without_base": "{name} ({rate})",
        "sub_total_with_tax": "Sub total (incl. tax)",
        "credit_notes": "Credit notes",
        "prepaid_credits": "Prepaid credits",
        "progressive_billing_credits": "Usage already billed",
        # lago-api config/locales/en/invoice.yml; the docs' list (24-resources.md) writes "{metric} • True-up"
        "true_up_metric": "{metric} - True-up",
        "total_due": "Total due",
        "status_draft": "Draft",
        "status_voided": "Voided",
        "page": "Page {page}/{pages}",
    },
)

_FR_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

FR = Locale(
    code="fr",
    # CLDR French: narrow no-break space between thousands, no-break space before the symbol and "%".
    numbers=NumberFormat(",", NARROW_NBSP, symbol_before=False, percent_format="{rate}" + NBSP + "%"),
    dates=DateFormat("{day} {month} {year}", _FR_MONTHS, _FR_MONTHS),
    labels={
        "document_name": "Facture",
        "invoice_number": "Numéro de facture",
        "issue_date": "Date d'émission",
        "due_date": "Date d'échéance",
        "payment_term": "Délai de paiement",
        "payment_term_days": "{days} jours",
        "bill_from": "De",
        "bill_to": "Facturé à",
        "tax_identification_number": "N° de TVA : {number}",
        "legal_number": "N° d'immatriculation : {number}",
        "amount_due": "{amount} à payer avant le {date}",
        "item": "Article",
        "unit": "Unités",
        "unit_price": "Prix unitaire",
        "tax_rate": "Taux de taxe",
        "amount": "Montant (HT)",
        "fees_from_to": "Frais du {from_date} au {to_date}",
        "fee_per_unit_for_the_first": "Frais par unité pour les {to} premières",
        "fee_per_unit_for_the_next": "Frais par unité pour les suivantes, de {from_} à {to}",
        "fee_per_unit_for_the_last": "Frais par unité à partir de {from_}",
        "flat_fee_for_the_first": "Frais fixes pour les {to} premières",
        "flat_fee_for_the_next": "Frais fixes pour les suivantes, de {from_} à {to}",
        "flat_fee_for_the_last": "Frais fixes à partir de {from_}",
        "free_units_for_the_first": "Unités gratuites pour les {count} premières",
        "fee_per_package": "Frais par forfait",
        "fee_per_package_unit_price": "{amount} par {package_size}",
        "total_event": "Total des événements",
        "free_units_per_transaction_one": "Unités gratuites pour 1 transaction",
        "free_units_per_transaction_other": "Unités gratuites pour {count} transactions",
        "percentage_rate_on_amount": "Taux sur le montant",
        "fee_per_transaction": "Frais fixes par transaction",
        "adjustment_per_transaction": "Ajustement min/max par transaction",
        "fee_per_unit": "Frais par unité",
        "flat_fee_for_all_units": "Frais fixes pour toutes les unités",
        "sub_total": "Sous-total",
        "coupons": "Coupons",
        "sub_total_without_tax": "Sous-total (HT)",
        "tax_name": "{name} ({rate} sur {amount})",
        "tax_name_without_base": "{name} ({rate})",
        "sub_total_with_tax": "Sous-total (TTC)",
        "credit_notes": "Avoirs",
        "prepaid_credits": "Crédits prépayés",
        "progressive_billing_credits": "Consommation déjà facturée",
        "true_up_metric": "{metric} - Frais d'ajustement",
        "total_due": "Total à payer",
        "status_draft": "Brouillon",
        "status_voided": "Annulée",
        "page": "Page {page}/{pages}",
    },
)

_DE_MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)

DE = Locale(
    code="de",
    numbers=NumberFormat(",", ".", symbol_before=False, percent_format="{rate}" + NBSP + "%"),
    dates=DateFormat("{day}. {month} {year}", _DE_MONTHS, _DE_MONTHS),
    labels={
        "document_name": "Rechnung",
        "invoice_number": "Rechnungsnummer",
        "issue_date": "Rechnungsdatum",
        "due_date": "Fälligkeitsdatum",
        "payment_term": "Zahlungsziel",
        "payment_term_days": "{days} Tage",
        "bill_from": "Von",
        "bill_to": "Rechnung an",
        "tax_identification_number": "USt-IdNr.: {number}",
        "legal_number": "Handelsregisternummer: {number}",
        "amount_due": "{amount} fällig am {date}",
        "item": "Position",
        "unit": "Menge",
        "unit_price": "Einzelpreis",
        "tax_rate": "Steuersatz",
        "amount": "Betrag (netto)",
        "fees_from_to": "Gebühren vom {from_date} bis {to_date}",
        "fee_per_unit_for_the_first": "Gebühr pro Einheit für die ersten {to}",
        "fee_per_unit_for_the_next": "Gebühr pro Einheit für die nächsten {from_} bis {to}",
        "fee_per_unit_for_the_last": "Gebühr pro Einheit ab {from_}",
        "flat_fee_for_the_first": "Grundgebühr für die ersten {to}",
        "flat_fee_for_the_next": "Grundgebühr für die nächsten {from_} bis {to}",
        "flat_fee_for_the_last": "Grundgebühr ab {from_}",
        "free_units_for_the_first": "Freie Einheiten für die ersten {count}",
        "fee_per_package": "Gebühr pro Paket",
        "fee_per_package_unit_price": "{amount} pro {package_size}",
        "total_event": "Gesamtbetrag der Ereignisse",
        "free_units_per_transaction_one": "Freie Einheiten für 1 Transaktion",
        "free_units_per_transaction_other": "Freie Einheiten für {count} Transaktionen",
        "percentage_rate_on_amount": "Satz auf den Betrag",
        "fee_per_transaction": "Festgebühr pro Transaktion",
        "adjustment_per_transaction": "Min./Max.-Anpassung pro Transaktion",
        "fee_per_unit": "Gebühr pro Einheit",
        "flat_fee_for_all_units": "Grundgebühr für alle Einheiten",
        "sub_total": "Zwischensumme",
        "coupons": "Gutscheine",
        "sub_total_without_tax": "Zwischensumme (netto)",
        "tax_name": "{name} ({rate} auf {amount})",
        "tax_name_without_base": "{name} ({rate})",
        "sub_total_with_tax": "Zwischensumme (brutto)",
        "credit_notes": "Gutschriften",
        "prepaid_credits": "Vorausbezahltes Guthaben",
        "progressive_billing_credits": "Bereits abgerechnete Nutzung",
        "true_up_metric": "{metric} - Kosten für die Anpassung",
        "total_due": "Gesamtbetrag fällig",
        "status_draft": "Entwurf",
        "status_voided": "Storniert",
        "page": "Seite {page}/{pages}",
    },
)

_ES_MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)

ES = Locale(
    code="es",
    numbers=NumberFormat(",", ".", symbol_before=False, percent_format="{rate}" + NBSP + "%"),
    dates=DateFormat("{day} de {month} de {year}", _ES_MONTHS, _ES_MONTHS),
    labels={
        "document_name": "Factura",
        "invoice_number": "Número de factura",
        "issue_date": "Fecha de emisión",
        "due_date": "Fecha de vencimiento",
        "payment_term": "Plazo de pago",
        "payment_term_days": "{days} días",
        "bill_from": "De",
        "bill_to": "Facturar a",
        "tax_identification_number": "NIF: {number}",
        "legal_number": "Número de registro: {number}",
        "amount_due": "{amount} a pagar antes del {date}",
        "item": "Concepto",
        "unit": "Unidades",
        "unit_price": "Precio unitario",
        "tax_rate": "Impuesto",
        "amount": "Importe neto",
        "fees_from_to": "Cargos del {from_date} al {to_date}",
        "fee_per_unit_for_the_first": "Cargo por unidad para las primeras {to}",
        "fee_per_unit_for_the_next": "Cargo por unidad para las siguientes, de {from_} a {to}",
        "fee_per_unit_for_the_last": "Cargo por unidad a partir de {from_}",
        "flat_fee_for_the_first": "Cargo fijo para las primeras {to}",
        "flat_fee_for_the_next": "Cargo fijo para las siguientes, de {from_} a {to}",
        "flat_fee_for_the_last": "Cargo fijo a partir de {from_}",
        "free_units_for_the_first": "Unidades gratuitas para las primeras {count}",
        "fee_per_package": "Cargo por paquete",
        "fee_per_package_unit_price": "{amount} por {package_size}",
        "total_event": "Total de eventos",
        "free_units_per_transaction_one": "Unidades gratuitas para 1 transacción",
        "free_units_per_transaction_other": "Unidades gratuitas para {count} transacciones",
        "percentage_rate_on_amount": "Tasa sobre el importe",
        "fee_per_transaction": "Cargo fijo por transacción",
        "adjustment_per_transaction": "Ajuste mín./máx. por transacción",
        "fee_per_unit": "Cargo por unidad",
        "flat_fee_for_all_units": "Cargo fijo para todas las unidades",
        "sub_total": "Subtotal",
        "coupons": "Cupones",
        "sub_total_without_tax": "Subtotal (sin impuestos)",
        "tax_name": "{name} ({rate} sobre {amount})",
        "tax_name_without_base": "{name} ({rate})",
        "sub_total_with_tax": "Subtotal (con impuestos)",
        "credit_notes": "Notas de crédito",
        "prepaid_credits": "Créditos prepagados",
        "progressive_billing_credits": "Consumo ya facturado",
        "true_up_metric": "{metric} • Ajuste real",
        "total_due": "Total a pagar",
        "status_draft": "Borrador",
        "status_voided": "Anulada",
        "page": "Página {page}/{pages}",
    },
)

LOCALES: dict[str, Locale] = {locale.code: locale for locale in (EN, FR, DE, ES)}
"""Supported document locales by ISO 639-1 code."""


def _supported(code: object) -> Locale | None:
    if not isinstance(code, str) or not code:
        return None
    normalized = code.strip().replace("_", "-").lower()
    return LOCALES.get(normalized) or LOCALES.get(normalized.split("-", 1)[0])


def document_locale(
    customer: Mapping[str, Any], organization: Mapping[str, Any], locale: str | None = None
) -> Locale:
    """The locale of a customer's documents, chosen as Lago does: `locale` when given, else the customer's
    `billing_configuration.document_locale`, else the organization's, else English.

    A locale Lagoon has no catalog for (Lago also has `it`, `nb`, `sv`…) is skipped in favour of the next
    choice, so a document never mixes languages.
    """
    candidates = (
        locale,
        (customer.get("billing_configuration") or {}).get("document_locale"),
        (organization.get("billing_configuration") or {}).get("document_locale"),
    )
    for candidate in candidates:
        found = _supported(candidate)
        if found is not None:
            return found
    return LOCALES[DEFAULT_LOCALE]
