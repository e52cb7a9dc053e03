"""The book's side of reconciliation: each entry posting to a holding as a :class:`_Claim`, filed by the
transactions it cites, with the book's totals; and the groups of claims joined by the transactions they cite.

An entry and its corrections (reversals, adjustments: ``Entry.corrects_entry_id``) are one claim of
their net amount, which keeps the entry as first recorded beside it (``uncorrected``) so that the
matcher can say which finding the corrections resolved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind

_FEE = EntryKind.FEE


@dataclass(frozen=True, slots=True)
class _Claim:
    """An entry as one holding sees it."""

    entry: Entry
    delta_sat: int  # its net posting to the holding, fees included
    amount_sat: int  # the value it moved in or out, fees excluded; a fee entry's is the fee
    corrections: tuple[Entry, ...] = ()  # the reversals and adjustments included in the two amounts
    uncorrected: _Claim | None = None  # the entry alone, as first recorded, when it has corrections


@dataclass(frozen=True, slots=True)
class _Group:
    """Claims joined by the transactions they cite, compared with those transactions as a whole."""

    txids: tuple[str, ...]
    claims: tuple[_Claim, ...]


@dataclass(slots=True)
class _BookSide:
    """The entries posting to the holding, sorted for matching: the matcher's working state (it takes
    claims out of ``by_txid`` as it judges them)."""

    by_txid: dict[str, list[_Claim]]  # the claims citing one transaction only, by that transaction
    multi: tuple[_Claim, ...]  # the claims citing several
    citing: tuple[_Claim, ...]  # every claim citing a transaction, in journal order
    book_only: tuple[Entry, ...]  # entries citing none
    kind_sat: dict[EntryKind, int]  # the value moved per journal kind, fees excluded
    book_fees_sat: int  # the fees the book records
    voided: tuple[_Claim, ...] = ()  # entries their corrections reversed: out of matching (see ``uncorrected``)




def _book_side(account: Account, entries: Iterable[Entry]) -> _BookSide:
    """Each entry posting to ``account`` as a claim, filed by the transactions it cites; the book's totals."""
    by_txid: dict[str, list[_Claim]] = {}
    multi: list[_Claim] = []
    citing: list[_Claim] = []
    book_only: list[Entry] = []
    kind_sat: dict[EntryKind, int] = {}
    book_fees_sat = 0
    fees = ACCOUNT_FEES
    corrections: dict[int, list[Entry]] = {}
    for entry in entries:
        delta_sat = fee_posted_sat = 0
        posts = False
        for posting in entry.postings:
            posted = posting.account
            if posted == account:
                delta_sat += posting.amount_sat
                posts = True
            elif posted == fees:
                fee_posted_sat += posting.amount_sat
        if not posts:
            continue
        if entry.corrects_entry_id is not None:  # merged into the entry it corrects, below
            corrections.setdefault(entry.corrects_entry_id, []).append(entry)
            continue
        kind = entry.kind
        if kind is _FEE:
            amount_sat = -delta_sat
            book_fees_sat += amount_sat
        elif delta_sat > 0:
            amount_sat = delta_sat
        else:
            amount_sat = -delta_sat - fee_posted_sat
            book_fees_sat += fee_posted_sat
        kind_sat[kind] = kind_sat.get(kind, 0) + amount_sat
        txids = entry.txids
        if not txids:
            book_only.append(entry)
            continue
        claim = _Claim(entry, delta_sat, amount_sat)
        citing.append(claim)
        if len(txids) > 1:
            multi.append(claim)
            continue
        held = by_txid.get(txids[0])
        if held is None:
            by_txid[txids[0]] = [claim]
        else:
            held.append(claim)
    side = _BookSide(by_txid=by_txid, multi=tuple(multi), citing=tuple(citing), book_only=tuple(book_only),
                     kind_sat=kind_sat, book_fees_sat=book_fees_sat)
    if corrections:
        _merge_corrections(account, side, corrections)
    return side


def _posted(account: Account, entries: Iterable[Entry]) -> tuple[int, int]:
    """What ``entries`` post to the holding (fees included) and to ``expense:fees``."""
    delta_sat = fee_sat = 0
    for entry in entries:
        for posting in entry.postings:
            if posting.account == account:
                delta_sat += posting.amount_sat
            elif posting.account == ACCOUNT_FEES:
                fee_sat += posting.amount_sat
    return delta_sat, fee_sat


def _amount_and_fees(kind: EntryKind, delta_sat: int, fee_posted_sat: int) -> tuple[int, int]:
    """A claim's amount (fees excluded; a fee entry's is its fee) and the fees it books, as in :func:`_book_side`."""
    if kind is _FEE:
        return -delta_sat, -delta_sat
    if delta_sat > 0:
        return delta_sat, 0
    return -delta_sat - fee_posted_sat, fee_posted_sat


def _merge_corrections(account: Account, side: _BookSide, corrections: dict[int, list[Entry]]) -> None:
    """Each corrected entry becomes one claim of its net amount (the entry with its reversals and adjustments);
    a reversed one leaves matching. Corrections are few: this pass over the claims runs only when there are some."""
    claims = {c.entry.entry_id: c for c in side.citing}
    plain = {e.entry_id: e for e in side.book_only}
    replaced: dict[int, _Claim | None] = {}
    voided: list[_Claim] = []
    for original_id, fixes in corrections.items():
        claim = claims.get(original_id)
        original = claim.entry if claim is not None else plain.get(original_id)
        if original is None:
            continue  # the correction posts to the holding, the entry it corrects did not: nothing to merge into
        before = _posted(account, (original,))
        after = _posted(account, (original, *fixes))
        old_amount, old_fees = _amount_and_fees(original.kind, *before)
        new_amount, new_fees = _amount_and_fees(original.kind, *after)
        side.kind_sat[original.kind] = side.kind_sat.get(original.kind, 0) + new_amount - old_amount
        side.book_fees_sat += new_fees - old_fees
        if claim is None:
            continue
        merged = _Claim(original, after[0], new_amount, tuple(fixes), claim)
        if after == (0, 0):
            voided.append(merged)
            replaced[original_id] = None
        else:
            replaced[original_id] = merged
    if not replaced:
        return

    def swap(found: Iterable[_Claim]) -> list[_Claim]:
        out = []
        for c in found:
            new = replaced.get(c.entry.entry_id, c) if c.entry.entry_id in replaced else c
            if new is not None:
                out.append(new)
        return out

    for original_id in replaced:
        txids = claims[original_id].entry.txids
        if len(txids) == 1 and txids[0] in side.by_txid:
            kept = swap(side.by_txid[txids[0]])
            if kept:
                side.by_txid[txids[0]] = kept
            else:
                del side.by_txid[txids[0]]
    side.multi = tuple(swap(side.multi))
    side.citing = tuple(swap(side.citing))
    side.voided = tuple(voided)


def _joined_groups(by_txid: dict[str, list[_Claim]], multi: tuple[_Claim, ...]) -> list[_Group]:
    """The connected groups of claims citing several transactions, with the single claims on those transactions."""
    if not multi:
        return []
    parent: dict[str, str] = {}

    def root(txid: str) -> str:
        while parent[txid] != txid:
            parent[txid] = parent[parent[txid]]
            txid = parent[txid]
        return txid

    for claim in multi:
        first, *rest = claim.entry.txids
        parent.setdefault(first, first)
        for txid in rest:
            parent.setdefault(txid, txid)
            a, b = root(first), root(txid)
            if a != b:
                parent[b] = a
    joined: dict[str, tuple[list[str], list[_Claim]]] = {}
    for txid in parent:
        joined.setdefault(root(txid), ([], []))[0].append(txid)
    for claim in multi:
        joined[root(claim.entry.txids[0])][1].append(claim)
    for txid, claims in by_txid.items():
        if txid in parent:
            joined[root(txid)][1].extend(claims)
    return [_Group(tuple(txids), tuple(sorted(claims, key=lambda c: c.entry.entry_id)))
            for txids, claims in joined.values()]


