"""The words `boveda demo` prints around its results: what was planted, what it would mean in real
life, where the difference between book and chain comes from. Presentation only; every figure comes
from the reconciliation, the exposure report and the book."""

from __future__ import annotations

from boveda.money import format_btc
from boveda.reconcile.model import DiscrepancyKind, Reconciliation

_D = DiscrepancyKind

# What each kind of finding would mean at a real reserve office.
MEANING = {
    _D.CLAIMED_PURCHASE_IS_INTERNAL: "reported as purchases, these were moves between the reserve's own wallets: "
                                     "a statement counting them would overstate what was bought (the distinction "
                                     "the IMF asks for)",
    _D.UNRECORDED_OUTFLOW: "coins left the reserve with no authorising entry: a theft, a lost key or an unrecorded "
                           "sale until someone explains it; `sync --follow` raises a critical alert for it",
    _D.AMOUNT_MISMATCH: "a booking error (a typo, a misread invoice): fix it with `boveda entry adjust`, which keeps "
                        "the original entry and the correction in the history",
    _D.UNRECORDED_INFLOW: "coins arrived with no entry: a donation, a mistaken payment or a missing purchase record",
    _D.MIXED_INPUTS: "a transaction mixing the reserve's coins with others' (a coinjoin or payjoin): needs review",
}


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def planted_lines(r: Reconciliation) -> list[str]:
    """One line per kind of finding: how many, and what it would mean in real life."""
    lines = []
    for kind, meaning in MEANING.items():
        found = [d for d in r.discrepancies if d.kind is kind]
        if found:
            lines.append(f"{kind.value.replace('_', ' ')} ({plural(len(found), 'finding')}): {meaning}")
    return lines


def difference_line(r: Reconciliation) -> str | None:
    """Where the book's excess over the chain comes from, finding by finding, fees last."""
    difference = r.balance_difference_sat
    if not difference:
        return None
    internal = sum(d.amount_sat for d in r.discrepancies if d.kind is _D.CLAIMED_PURCHASE_IS_INTERNAL)
    outflow = sum(d.amount_sat for d in r.discrepancies if d.kind is _D.UNRECORDED_OUTFLOW)
    mismatch = sum((d.book_amount_sat or 0) - (d.chain_amount_sat or 0)
                   for d in r.discrepancies if d.kind is _D.AMOUNT_MISMATCH)
    flagged = {d.txid_hex for d in r.discrepancies}
    fees = sum(m.fee_sat or 0 for m in r.movements if m.txid_hex in flagged)
    parts = [(internal, "internal moves booked as purchases"), (outflow, "the unrecorded outflow"),
             (mismatch, "the entry that overstates its amount")]
    named = [(amount, what) for amount, what in parts if amount]
    rest = difference - sum(amount for amount, _ in named)
    if rest and rest == fees:
        named.append((fees, "network fees those flagged transactions paid, which no entry records"))
        rest = 0
    if not named:
        return None
    words = " + ".join(f"{format_btc(amount)} ({what})" for amount, what in named)
    tail = f", and {format_btc(rest)} BTC no single finding explains" if rest else ""
    side = "above" if difference > 0 else "below"
    return f"the book is {format_btc(abs(difference))} BTC {side} the chain: {words}{tail}"


def exposure_line(revealed_sat: int, taproot_sat: int) -> str | None:
    if not revealed_sat:
        return None
    why = ("taproot outputs (P2TR) carry their public key in the output itself" if taproot_sat
           else "these addresses have spent before, so their public keys are on chain")
    return (f"{format_btc(revealed_sat)} BTC sit behind public keys visible on chain — {why}; a future quantum "
            "computer could target those first, while keys behind a hash (P2WPKH, P2WSH) stay hidden until spent")
