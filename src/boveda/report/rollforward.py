"""A period's roll-forward: opening balance, inflows, outflows, internal moves, fees and closing balance,
on the chain side (movements of the period's blocks) and on the book side (entries by effective date).

Opening and closing are computed on their own (the chain replayed to each height, the journal summed to
each date), not from the movements between them, so :attr:`RollForwardSide.adds_up` is a real check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind
from boveda.reconcile.facts import ChainTx
from boveda.reconcile.model import Movement, MovementKind

# Entries that move coins between a holding's own wallets: only their fee changes the balance.
INTERNAL_ENTRY_KINDS = frozenset({EntryKind.INTERNAL_TRANSFER.value, "internal"})


@dataclass(frozen=True, slots=True)
class RollForwardSide:
    """One side's roll-forward, in satoshis: ``opening + inflows − outflows − fees + mixed_net = closing``.

    ``outflows_sat`` is without fees; ``internal_moved_sat`` is what moved between the holding's own
    wallets (no change to the balance, its fee is in ``fees_sat``); ``mixed_net_sat`` is the net change of
    transactions spent together with others' coins (chain side only; the fee of those cannot be attributed).
    """

    opening_sat: int
    inflows_sat: int
    outflows_sat: int
    internal_moved_sat: int
    fees_sat: int
    mixed_net_sat: int
    closing_sat: int
    inflow_count: int = 0
    outflow_count: int = 0
    internal_count: int = 0
    mixed_count: int = 0

    @property
    def net_change_sat(self) -> int:
        return self.inflows_sat - self.outflows_sat - self.fees_sat + self.mixed_net_sat

    @property
    def adds_up(self) -> bool:
        return self.opening_sat + self.net_change_sat == self.closing_sat

    def to_json(self) -> dict[str, Any]:
        return {
            "opening_sat": self.opening_sat, "inflows_sat": self.inflows_sat, "outflows_sat": self.outflows_sat,
            "internal_moved_sat": self.internal_moved_sat, "fees_sat": self.fees_sat,
            "mixed_net_sat": self.mixed_net_sat, "closing_sat": self.closing_sat,
            "net_change_sat": self.net_change_sat, "adds_up": self.adds_up,
            "counts": {"inflow": self.inflow_count, "outflow": self.outflow_count, "internal": self.internal_count,
                       "mixed": self.mixed_count},
        }


@dataclass(frozen=True, slots=True)
class RollForward:
    """The roll-forward of ``period_from``..``period_to`` (inclusive days; ``period_from`` None: from the
    beginning). The chain side covers blocks ``opening_height`` (exclusive; None: before the first synced
    block, when nothing was held) to ``closing_height`` (inclusive)."""

    period_from: date | None
    period_to: date
    opening_height: int | None
    closing_height: int
    chain: RollForwardSide
    book: RollForwardSide

    @property
    def adds_up(self) -> bool:
        return self.chain.adds_up and self.book.adds_up

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.period_from.isoformat() if self.period_from else None, "to": self.period_to.isoformat(),
            "opening_height": self.opening_height, "closing_height": self.closing_height,
            "chain": self.chain.to_json(), "book": self.book.to_json(), "adds_up": self.adds_up,
        }


def chain_balance_at(account: Account, chain_txs: Iterable[ChainTx], height: int | None) -> int:
    """What ``account``'s wallets held after block ``height`` (None: before any block, 0)."""
    if height is None:
        return 0
    total_sat = 0
    for tx in chain_txs:
        if tx.height <= height:
            total_sat += sum(o.value_sat for o in tx.outputs if o.account == account)
            total_sat -= sum(o.value_sat for o in tx.inputs if o.account == account)
    return total_sat


def chain_side(movements: Iterable[Movement], *, opening_sat: int, closing_sat: int) -> RollForwardSide:
    """The chain side from the period's movements (docs/design.md's classification)."""
    sums = dict.fromkeys(("in", "out", "internal", "fees", "mixed"), 0)
    counts = dict.fromkeys(MovementKind, 0)
    for m in movements:
        counts[m.kind] += 1
        sums["fees"] += m.fee_sat or 0
        if m.kind is MovementKind.INFLOW:
            sums["in"] += m.amount_sat
        elif m.kind is MovementKind.OUTFLOW:
            sums["out"] += m.amount_sat
        elif m.kind is MovementKind.INTERNAL:
            sums["internal"] += m.amount_sat
        else:
            sums["mixed"] += m.amount_sat
    return RollForwardSide(opening_sat, sums["in"], sums["out"], sums["internal"], sums["fees"], sums["mixed"],
                           closing_sat, counts[MovementKind.INFLOW], counts[MovementKind.OUTFLOW],
                           counts[MovementKind.INTERNAL], counts[MovementKind.MIXED])


def book_side(account: Account, entries: Iterable[Entry], period_from: date | None, period_to: date
              ) -> RollForwardSide:
    """The book side: entries dated before ``period_from`` make the opening, those up to ``period_to`` the
    closing, those between the flows. A fee is what the entry books to ``expense:fees`` (a reversal's
    negative fee lowers the period's fees); a correction counts with the flow of the entry it corrects,
    so a reversed purchase lowers the inflows instead of appearing as an outflow."""
    entries = sorted(entries, key=lambda e: (e.effective_date, e.entry_id))
    first = period_from or date.min
    by_id = {e.entry_id: e for e in entries}
    opening_sat = closing_sat = inflows = outflows = internal = fees = 0
    counts = {"in": 0, "out": 0, "internal": 0}
    for entry in entries:
        delta_sat = _delta(account, entry)
        if not delta_sat or entry.effective_date > period_to:
            continue
        closing_sat += delta_sat
        if entry.effective_date < first:
            opening_sat += delta_sat
            continue
        fee_sat = _fee_part(entry, delta_sat)
        fees += fee_sat
        rest_sat = delta_sat + fee_sat
        if not rest_sat:
            if entry.kind.value in INTERNAL_ENTRY_KINDS:
                counts["internal"] += 1  # what the receiving wallet got (a move recorded with --wallets)
                internal += sum(p.amount_sat for p in entry.postings if p.account == account and p.amount_sat > 0)
            continue
        if _direction(account, entry, by_id, rest_sat) > 0:
            inflows += rest_sat
            counts["in"] += 1
        else:
            outflows -= rest_sat
            counts["out"] += 1
    return RollForwardSide(opening_sat, inflows, outflows, internal, fees, 0, closing_sat, counts["in"],
                           counts["out"], counts["internal"])


def day_before(day: date | None) -> date | None:
    return None if day is None or day == date.min else day - timedelta(days=1)


def _delta(account: Account, entry: Entry) -> int:
    return sum(p.amount_sat for p in entry.postings if p.account == account)


def _fee_part(entry: Entry, delta_sat: int) -> int:
    """The part of ``delta_sat`` that is a fee paid (> 0) or a fee given back (< 0)."""
    to_fees_sat = sum(p.amount_sat for p in entry.postings if p.account == ACCOUNT_FEES)
    if delta_sat < 0 < to_fees_sat:
        return min(to_fees_sat, -delta_sat)
    if to_fees_sat < 0 < delta_sat:
        return -min(-to_fees_sat, delta_sat)
    return 0


def _direction(account: Account, entry: Entry, by_id: dict[int, Entry], rest_sat: int) -> int:
    original = by_id.get(entry.corrects_entry_id) if entry.corrects_entry_id is not None else None
    if original is not None:
        original_delta = _delta(account, original)
        original_rest = original_delta + _fee_part(original, original_delta)
        if original_rest:
            return original_rest
    return rest_sat
