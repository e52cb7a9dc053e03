"""Fiat figures of a statement: what the holdings are worth at the period end in one currency, what the
purchases cost and the unrealised gain on them. Integer arithmetic only: an amount is
``price_minor × sat`` summed exactly, then divided by 100,000,000 once, rounded down to the minor unit
(the cent)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from boveda.book.domain import Account, Entry, EntryKind, Price

SAT_PER_BTC = 100_000_000
ROUNDING = "rounded down to the cent"
ENTRY_PRICE_SOURCE = "the USD price recorded with each purchase"


@dataclass(frozen=True, slots=True)
class FiatSummary:
    """Amounts in ``currency``'s minor unit (cents). ``price`` is the price table's entry used for the
    value at ``on`` (None: no price for that day, and no value). The cost basis comes from the purchases'
    own USD prices: None in any other currency. ``purchased_sat`` is what priced purchases brought (net
    of their corrections); ``unpriced_sat`` what purchases without a recorded price brought."""

    currency: str
    on: date
    price: Price | None
    holdings_sat: int
    value_minor: int | None
    purchased_sat: int
    unpriced_sat: int
    cost_basis_minor: int | None
    purchases_value_minor: int | None

    @property
    def unrealised_gain_minor(self) -> int | None:
        if self.cost_basis_minor is None or self.purchases_value_minor is None:
            return None
        return self.purchases_value_minor - self.cost_basis_minor

    def to_json(self) -> dict[str, Any]:
        p = self.price
        return {
            "currency": self.currency, "on": self.on.isoformat(), "rounding": ROUNDING,
            "price": None if p is None else {"on": p.on.isoformat(), "currency": p.currency,
                                             "price_minor": p.price_minor, "source": p.source},
            "holdings_sat": self.holdings_sat, "value_minor": self.value_minor,
            "purchased_sat": self.purchased_sat, "unpriced_sat": self.unpriced_sat,
            "cost_basis_minor": self.cost_basis_minor,
            "cost_basis_source": ENTRY_PRICE_SOURCE if self.cost_basis_minor is not None else None,
            "purchases_value_minor": self.purchases_value_minor, "unrealised_gain_minor": self.unrealised_gain_minor,
        }


def fiat_summary(account: Account, entries: Iterable[Entry], *, currency: str, on: date, holdings_sat: int,
                 price: Price | None) -> FiatSummary:
    """The fiat figures of ``account`` at the end of day ``on``: purchases dated up to ``on`` (a correction
    without a price of its own takes the price of the purchase it corrects)."""
    entries = list(entries)
    by_id = {e.entry_id: e for e in entries}
    purchased_sat = unpriced_sat = cost_exact = 0
    for entry in entries:
        if entry.kind is not EntryKind.PURCHASE or entry.effective_date > on:
            continue
        delta_sat = sum(p.amount_sat for p in entry.postings if p.account == account)
        cents = entry.price_usd_cents
        if cents is None and entry.corrects_entry_id in by_id:
            cents = by_id[entry.corrects_entry_id].price_usd_cents
        if cents is None:
            unpriced_sat += delta_sat
        else:
            purchased_sat += delta_sat
            cost_exact += cents * delta_sat
    priced = price is not None
    return FiatSummary(
        currency=currency, on=on, price=price, holdings_sat=holdings_sat,
        value_minor=value_of(holdings_sat, price.price_minor) if priced else None,
        purchased_sat=purchased_sat, unpriced_sat=unpriced_sat,
        cost_basis_minor=cost_exact // SAT_PER_BTC if currency == "USD" else None,
        purchases_value_minor=value_of(purchased_sat, price.price_minor) if priced else None,
    )


def value_of(amount_sat: int, price_minor: int) -> int:
    """``amount_sat`` at ``price_minor`` per BTC, in minor units, rounded down."""
    return price_minor * amount_sat // SAT_PER_BTC


def format_minor(amount_minor: int) -> str:
    """``-123456`` → ``-1,234.56``: exact, from the integer."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{sign}{whole:,}.{cents:02d}"
