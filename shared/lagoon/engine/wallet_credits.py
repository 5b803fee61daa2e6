"""Prepaid credits: credits ↔ money, and which wallets pay which part of an invoice (lago-rules-wave2 §1.4, §1.6).

Credits convert to money at the wallet's `rate_amount` (money per credit), rounded half away from zero to the
currency's exponent (lago-api `WalletCredit`):
- a top-up that is invoiced or granted keeps only what whole cents can buy: its credits are recomputed from the
  rounded amount (`invoiceable_credit`), stored, like every credit amount, with 5 decimals;
- a void keeps the credits asked for (floored to 5 decimals by the caller) while its cents round (`voided_credit`),
  so after a void the credits balance and the cents balance may disagree by a fraction of a cent, as in Lago;
- consumption on an invoice starts from cents (`credit_from_amount_cents`).
Lago divides with floats (`fdiv`) and lets PostgreSQL round the quotient to `numeric(30,5)`; Lagoon divides exactly
with `Decimal` and rounds half away from zero to 5 decimals, which gives the same stored value except where a
float quotient would land on the other side of a half (docs/wallets.md).

Allocation (`allocate_prepaid_credits`): the invoice is split into buckets per (fee type, billable metric), each
capped at what its fees still owe after taxes and credit notes; buckets are served largest first; a bucket may be
paid by a wallet that is unrestricted, allows its fee type, or targets its metric (charges only); each wallet pays
in application order (priority, then age) at most its balance and what the invoice still owes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from lagoon.engine.money import currency_exponent, round_half_up
from lagoon.engine.numbers import EXACT

CREDIT_DECIMALS = 5
"""Credits are kept with 5 decimals (Lago's `numeric(30,5)` columns)."""

_CREDIT_QUANTUM = Decimal(1).scaleb(-CREDIT_DECIMALS)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class WalletCredit:
    """An amount of credits and what it is worth in the wallet's currency, in minor units."""

    credit_amount: Decimal
    amount_cents: int


def floor_credits(credits: Decimal) -> Decimal:
    """Credits as a request gives them, floored to 5 decimals (lago-api `BigDecimal(x).floor(5)`)."""
    return credits.quantize(_CREDIT_QUANTUM, rounding=ROUND_FLOOR, context=EXACT)


def round_credits(credits: Decimal) -> Decimal:
    """Credits as stored: 5 decimals, halves away from zero."""
    return round_half_up(credits, CREDIT_DECIMALS)


def credits_to_cents(credits: Decimal, rate_amount: Decimal, currency: str) -> int:
    """What `credits` are worth at `rate_amount`: round(credits * rate, exponent), in minor units."""
    exponent = currency_exponent(currency)
    amount = round_half_up(credits * rate_amount, exponent)
    return int(amount.scaleb(exponent, context=EXACT))


def cents_to_credits(amount_cents: int, rate_amount: Decimal, currency: str) -> Decimal:
    """Credits worth `amount_cents` at `rate_amount`, unrounded (for balances shown in credits)."""
    amount = Decimal(amount_cents).scaleb(-currency_exponent(currency), context=EXACT)
    return amount / rate_amount


def invoiceable_credit(credits: Decimal, rate_amount: Decimal, currency: str) -> WalletCredit:
    """A paid or granted top-up: the cents `credits` buy, and the credits those whole cents are worth."""
    amount_cents = credits_to_cents(credits, rate_amount, currency)
    return WalletCredit(round_credits(cents_to_credits(amount_cents, rate_amount, currency)), amount_cents)


def voided_credit(credits: Decimal, rate_amount: Decimal, currency: str) -> WalletCredit:
    """A void: the credits as asked (already floored to 5 decimals), their worth rounded to cents."""
    return WalletCredit(credits, credits_to_cents(credits, rate_amount, currency))


def credit_from_amount_cents(
    amount_cents: Decimal | int, rate_amount: Decimal, currency: str
) -> WalletCredit:
    """Credits consumed when a wallet pays `amount_cents` (precise) of an invoice: the credits come from the cents
    rounded half away from zero, the cents moved are the whole cents (truncated), as lago-api's
    `WalletCredit.from_amount_cents`."""
    precise = Decimal(amount_cents)
    credits = cents_to_credits(int(round_half_up(precise, 0)), rate_amount, currency)
    return WalletCredit(round_credits(credits), int(precise))


def rounds_to_zero(credits: Decimal, rate_amount: Decimal, currency: str) -> bool:
    """A positive amount of credits (floored to 5 decimals) that is worth 0 minor units: Lago refuses it
    (`amount_rounds_to_zero`)."""
    floored = floor_credits(credits)
    return floored > 0 and credits_to_cents(floored, rate_amount, currency) == 0


@dataclass(frozen=True, slots=True)
class FeeShare:
    """What one fee of the invoice can be paid with credits: its subtotal after coupons plus its precise taxes,
    minus the precise credit notes on it (cents, precise)."""

    fee_type: str
    billable_metric_id: str | None
    sub_total_excluding_taxes_cents: int
    taxes_precise_cents: Decimal = ZERO
    credit_notes_precise_cents: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class WalletSpending:
    """A wallet able to pay the invoice, in application order. Empty `fee_types` and `billable_metric_ids`:
    it may pay any fee."""

    wallet_id: str
    balance_cents: int
    fee_types: frozenset[str] = field(default_factory=frozenset)
    billable_metric_ids: frozenset[str] = field(default_factory=frozenset)

    def may_pay(self, fee_type: str, billable_metric_id: str | None) -> bool:
        if not self.fee_types and not self.billable_metric_ids:
            return True
        if fee_type in self.fee_types:
            return True
        return fee_type == "charge" and billable_metric_id in self.billable_metric_ids


BucketKey = tuple[str, str | None]


def credit_buckets(fees: Iterable[FeeShare], invoice_total_cents: int) -> dict[BucketKey, Decimal]:
    """What each (fee type, metric) bucket may take, largest first; fees with a 0 subtotal or nothing left are
    skipped. When the invoice total exceeds the buckets' sum by at most one cent per bucket (tax rounding), the
    difference goes to the largest bucket."""
    buckets: dict[BucketKey, Decimal] = {}
    for fee in fees:
        if fee.sub_total_excluding_taxes_cents == 0:
            continue
        cap = fee.sub_total_excluding_taxes_cents + fee.taxes_precise_cents - fee.credit_notes_precise_cents
        if cap <= 0:
            continue
        key = (fee.fee_type, fee.billable_metric_id)
        buckets[key] = buckets.get(key, ZERO) + cap
    ordered = dict(sorted(buckets.items(), key=lambda item: -item[1]))
    if ordered:
        difference = invoice_total_cents - sum(ordered.values(), ZERO)
        if 0 < difference <= len(ordered):
            largest = next(iter(ordered))
            ordered[largest] += difference
    return ordered


def allocate_prepaid_credits(
    fees: Sequence[FeeShare], invoice_total_cents: int, wallets: Sequence[WalletSpending]
) -> dict[str, Decimal]:
    """Precise cents each wallet pays of the invoice (wallets paying nothing are left out), in the wallets' order.

    A wallet's share is the sum of what it pays per bucket; buckets hold precise taxes, so a share may carry a
    fraction of a cent: `credit_from_amount_cents` turns it into the wallet transaction as lago-api does.
    """
    remaining = credit_buckets(fees, invoice_total_cents)
    invoice_remaining = Decimal(invoice_total_cents)
    shares: dict[str, Decimal] = {}
    for wallet in wallets:
        used = ZERO
        for key, bucket_remaining in remaining.items():
            if bucket_remaining <= 0 or not wallet.may_pay(*key):
                continue
            balance_left = wallet.balance_cents - used
            if balance_left <= 0:
                break
            paid = min(bucket_remaining, balance_left, invoice_remaining)
            if paid <= 0:
                continue
            remaining[key] = bucket_remaining - paid
            invoice_remaining -= paid
            used += paid
        if used > 0:
            shares[wallet.wallet_id] = used
    return shares
