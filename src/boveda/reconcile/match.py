"""Reconciliation: a holding's movements on chain matched with its journal entries, by txid
and then by amount, and every disagreement found as a :class:`Discrepancy` value.

The comparison is of balances: for the transactions an entry (or a group of entries) cites,
the change the book records for the holding must equal the change the chain shows —
or that change plus the miners' fees the holding paid, when the book does not record fees.
Entries citing several transactions, and transactions cited by several entries, are joined
into one group first, so a purchase delivered in two transactions, or a transfer booked
with a separate fee entry, is compared as a whole. Every group — the usual one of one entry
citing one transaction included — goes through the same comparison, :func:`_judge`.

Pairing is by txid first, whatever an entry's date: an entry citing a transaction confirmed at
the height takes part even when it is dated after it (that date is a finding of its own,
``entry_dated_after_confirmation``), and a transaction cited by several entries of one kind is a
``duplicate_citation`` that names each of them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from boveda.book.domain import Account, Entry, EntryKind
from boveda.reconcile import findings
from boveda.reconcile.claims import _book_side, _Claim, _joined_groups
from boveda.reconcile.classify import classify_account
from boveda.reconcile.facts import ChainTx, ReconcileError
from boveda.reconcile.model import (
    EXTERNAL,
    Discrepancy,
    DiscrepancyKind,
    Movement,
    MovementKind,
    Reconciliation,
    Resolution,
    Totals,
)

_INFLOW, _OUTFLOW, _INTERNAL, _MIXED = MovementKind.INFLOW, MovementKind.OUTFLOW, MovementKind.INTERNAL, MovementKind.MIXED
_D = DiscrepancyKind
_FEE, _PURCHASE = EntryKind.FEE, EntryKind.PURCHASE


def reconcile(
    reserve_code: str,
    *,
    height: int,
    block_hash_hex: str,
    chain_txs: Iterable[ChainTx],
    entries: Iterable[Entry],
    chain_balance_sat: int,
    book_balance_sat: int,
) -> Reconciliation:
    """Match reserve ``reserve_code``'s movements up to ``height`` with its journal entries.

    ``chain_txs`` are the confirmed transactions touching any tracked wallet (those above
    ``height`` are ignored); ``entries`` may be the whole journal — only entries posting to
    ``reserve:CODE`` are considered. Balances are passed through for the statement.
    Raises :class:`ReconcileError` when the chain facts contradict themselves.
    """
    return reconcile_account(
        Account.reserve(reserve_code), height=height, block_hash_hex=block_hash_hex, chain_txs=chain_txs,
        entries=entries, chain_balance_sat=chain_balance_sat, book_balance_sat=book_balance_sat,
        reserve=reserve_code,
    )


def reconcile_account(
    account: Account,
    *,
    height: int,
    block_hash_hex: str,
    chain_txs: Iterable[ChainTx],
    entries: Iterable[Entry],
    chain_balance_sat: int,
    book_balance_sat: int,
    reserve: str | None = None,
) -> Reconciliation:
    """:func:`reconcile` for any holding account (``reserve:SV``, ``custody:1:13-cr-00950``)."""
    # The run allocates millions of short-lived, acyclic values; collector passes over them
    # would cost more than the work itself.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _reconcile(account, height, block_hash_hex, chain_txs, entries, chain_balance_sat,
                          book_balance_sat, reserve if reserve is not None else str(account))
    finally:
        if was_enabled:
            gc.enable()


def _reconcile(
    account: Account,
    height: int,
    block_hash_hex: str,
    chain_txs: Iterable[ChainTx],
    entries: Iterable[Entry],
    chain_balance_sat: int,
    book_balance_sat: int,
    reserve: str,
) -> Reconciliation:
    """The pipeline: the book's claims by txid; one pass over the chain, judging each transaction's
    own claims as it is classified; then the claims on transactions the pass never saw, and the
    joined groups."""
    book = _book_side(account, entries)
    matched_entry_count = sum(len(claims) for claims in book.by_txid.values()) + len(book.multi)
    joined = _joined_groups(book.by_txid, book.multi)
    citing: dict[str, list[_Claim]] = {}  # for the transactions of joined groups: their claims, in the group's order
    for group in joined:
        for txid in group.txids:
            citing[txid] = [c for c in group.claims if txid in c.entry.txids]
            book.by_txid.pop(txid, None)  # judged with its group
    singles = book.by_txid  # the claims citing one transaction alone, taken out as they are judged
    in_groups: dict[str, Movement] = {}

    confirmed: dict[str, ChainTx] = {}
    movements: list[Movement] = []
    found: list[Discrepancy] = []
    resolutions: list[Resolution] = []
    fees_unbooked_sat = 0
    inflow_sat = outflow_sat = internal_sat = mixed_net_sat = fees_sat = 0
    inflow_count = outflow_count = internal_count = mixed_count = 0
    last = (-1, -1)
    in_order = True
    for tx in chain_txs:
        if tx.height > height:
            continue
        txid = tx.txid_hex
        if txid in confirmed:
            raise ReconcileError(f"the chain facts list transaction {txid} twice")
        confirmed[txid] = tx
        claims = singles.pop(txid, None)
        cited = claims if claims is not None or not citing else citing.get(txid)
        movement = _movement(account, tx, cited)
        if movement is None:
            if claims is not None:  # the entries cite a transaction that moved none of the holding's coins
                fees_unbooked_sat += _judge_both(account, claims[0].entry.txids, claims, (), confirmed, found,
                                                 resolutions)
            continue
        movements.append(movement)
        if in_order:
            position = (tx.height, tx.tx_index)
            in_order = position > last
            last = position
        kind, amount_sat, fee_sat = movement.kind, movement.amount_sat, movement.fee_sat
        if kind is _INFLOW:
            inflow_count += 1
            inflow_sat += amount_sat
            if cited is None:
                found.append(findings.movement_finding(_D.UNRECORDED_INFLOW, account, movement))
        elif kind is _OUTFLOW:
            outflow_count += 1
            outflow_sat += amount_sat
            fees_sat += fee_sat
            if cited is None:
                found.append(findings.movement_finding(_D.UNRECORDED_OUTFLOW, account, movement))
        elif kind is _INTERNAL:
            internal_count += 1
            internal_sat += amount_sat
            fees_sat += fee_sat
            if cited is None:
                fees_unbooked_sat += fee_sat
        else:
            mixed_count += 1
            mixed_net_sat += amount_sat
            found.append(findings.movement_finding(_D.MIXED_INPUTS, account, movement))
        if claims is not None:
            fees_unbooked_sat += _judge_both(account, claims[0].entry.txids, claims, (movement,), confirmed, found,
                                             resolutions)
        elif cited is not None:
            in_groups[txid] = movement
    for claims in singles.values():  # cited, but not confirmed at this height
        fees_unbooked_sat += _judge_both(account, claims[0].entry.txids, claims, (), confirmed, found, resolutions)
    for group in joined:
        fees_unbooked_sat += _judge_both(account, group.txids, group.claims,
                                         tuple(in_groups[t] for t in group.txids if t in in_groups), confirmed, found,
                                         resolutions)
    if book.voided:
        _voided_resolutions(account, book.voided, movements, confirmed, found, resolutions)
    if not in_order:
        movements.sort(key=lambda m: (m.height, m.tx_index))
    found.extend(_citation_findings(account, book.citing, confirmed))

    totals = Totals(
        inflow_sat=inflow_sat,
        outflow_sat=outflow_sat,
        internal_sat=internal_sat,
        mixed_net_sat=mixed_net_sat,
        fees_sat=fees_sat,
        fees_unbooked_sat=fees_unbooked_sat,
        book_fees_sat=book.book_fees_sat,
        movement_counts=((_INFLOW, inflow_count), (_OUTFLOW, outflow_count), (_INTERNAL, internal_count),
                         (_MIXED, mixed_count)),
        by_entry_kind_sat=tuple((kind, book.kind_sat.get(kind, 0)) for kind in EntryKind),
    )
    far = height + 1
    found.sort(key=lambda d: (d.height if d.height is not None else far,
                              confirmed[d.txid_hex].tx_index if d.txid_hex in confirmed else 0,
                              d.on or date.max, d.severity.rank, d.entry_id or 0))
    return Reconciliation(
        reserve=reserve,
        account=account,
        height=height,
        block_hash_hex=block_hash_hex,
        chain_balance_sat=chain_balance_sat,
        book_balance_sat=book_balance_sat,
        movements=tuple(movements),
        discrepancies=tuple(found),
        totals=totals,
        book_only_entries=book.book_only,
        matched_entry_count=matched_entry_count,
        resolved=tuple(resolutions),
    )


def _citation_findings(account: Account, claims: tuple[_Claim, ...], confirmed: dict[str, ChainTx]
                       ) -> list[Discrepancy]:
    """What the citations themselves say, whatever the amounts: an entry dated after the transactions it
    cites confirmed (it is matched with them all the same), and a transaction cited by several entries of
    one kind (each naming every one of them)."""
    found: list[Discrepancy] = []
    by_citation: dict[tuple[str, EntryKind], list[Entry]] = {}
    for claim in claims:
        entry = claim.entry
        last = None
        for txid in entry.txids:
            by_citation.setdefault((txid, entry.kind), []).append(entry)
            tx = confirmed.get(txid)
            if tx is not None and (last is None or (tx.height, tx.tx_index) > (last.height, last.tx_index)):
                last = tx
        if last is not None and entry.effective_date > last.block_date:
            found.append(findings.dated_after_confirmation(account, entry, last, amount_sat=claim.amount_sat))
    for (txid, _kind), entries in by_citation.items():
        if len(entries) > 1:
            found.append(findings.duplicate_citation(account, txid, entries, confirmed.get(txid)))
    return found


def _movement(account: Account, tx: ChainTx, cited: list[_Claim] | None) -> Movement | None:
    """What ``tx`` did to the holding, with the entries citing it (``cited``) and the one that best matches it."""
    if cited is None:
        return classify_account(account, tx)
    if len(cited) == 1:
        best = cited[0].entry.entry_id
        return classify_account(account, tx, entry_ids=(best,), entry_id=best)
    movement = classify_account(account, tx, entry_ids=tuple(c.entry.entry_id for c in cited))
    return None if movement is None else replace(movement, entry_id=_best_match(movement, cited))


def _best_match(movement: Movement, claims: list[_Claim]) -> int:
    """Of several entries citing one transaction: the first moving the movement's amount, else the lowest id."""
    return next((c.entry.entry_id for c in claims if c.amount_sat == movement.amount_sat),
                min(c.entry.entry_id for c in claims))


def _judge_both(
    account: Account,
    txids: tuple[str, ...],
    claims: list[_Claim] | tuple[_Claim, ...],
    movements: tuple[Movement, ...],
    confirmed: dict[str, ChainTx],
    found: list[Discrepancy],
    resolutions: list[Resolution],
) -> int:
    """:func:`_judge`; when corrections changed a claim, also the claims as first recorded, and what that
    finds and the corrected claims do not is resolved (by those corrections)."""
    mark = len(found)
    unbooked_sat = _judge(account, txids, claims, movements, confirmed, found)
    corrected = [c for c in claims if c.uncorrected is not None]
    if corrected:
        before: list[Discrepancy] = []
        _judge(account, txids, [c.uncorrected or c for c in claims], movements, confirmed, before)
        _resolved(before, found[mark:], corrected, resolutions)
    return unbooked_sat


def _voided_resolutions(account: Account, voided: tuple[_Claim, ...], movements: list[Movement],
                        confirmed: dict[str, ChainTx], found: list[Discrepancy], resolutions: list[Resolution]) -> None:
    """What the entries their corrections reversed would have been found to be, judged alone."""
    by_txid = {m.txid_hex: m for m in movements}
    for claim in voided:
        original = claim.uncorrected or claim
        txids = original.entry.txids
        before: list[Discrepancy] = []
        _judge(account, txids, (original,), tuple(by_txid[t] for t in txids if t in by_txid), confirmed, before)
        _resolved(before, [d for d in found if d.txid_hex in txids], [claim], resolutions)


def _resolved(before: list[Discrepancy], after: list[Discrepancy], corrected: list[_Claim],
              resolutions: list[Resolution]) -> None:
    still = {(d.kind, d.txid_hex) for d in after}
    ids = tuple(e.entry_id for c in corrected for e in c.corrections)
    cited = tuple(e.resolves for c in corrected for e in c.corrections if e.resolves)
    resolutions.extend(Resolution(d, ids, cited) for d in before if (d.kind, d.txid_hex) not in still)


def _judge(
    account: Account,
    txids: tuple[str, ...],
    claims: list[_Claim] | tuple[_Claim, ...],
    movements: tuple[Movement, ...],
    confirmed: dict[str, ChainTx],
    found: list[Discrepancy],
) -> int:
    """Compare one group of claims with the chain; append findings; return the fees it leaves unbooked.

    ``txids`` are those the claims cite; ``movements`` what those of them that touched the holding did, in
    the same order.
    """
    # Plain loops rather than any()/sum() over generators: most groups are one entry and one transaction.
    for txid in txids:
        if txid not in confirmed:
            found.extend(findings.unconfirmed_entry(account, c.entry, t, delta_sat=c.delta_sat, amount_sat=c.amount_sat)
                         for c in claims for t in c.entry.txids if t not in confirmed)
            return 0
    chain_delta_sat = fees_sat = 0
    claimed_internal = False
    for movement in movements:
        kind = movement.kind
        if kind is _MIXED:
            return 0  # flagged for review on its own; the fee cannot be attributed
        chain_delta_sat += movement.out_sat - movement.in_sat
        if movement.fee_sat is not None:
            fees_sat += movement.fee_sat
        if kind is _INTERNAL or (kind is _INFLOW and EXTERNAL not in movement.counterparty):
            for claim in claims:
                if claim.entry.kind is _PURCHASE and movement.txid_hex in claim.entry.txids:
                    claimed_internal = True
                    found.append(findings.claimed_internal(account, movement, claim.entry,
                                                           amount_sat=claim.amount_sat))
    if claimed_internal:
        return 0
    book_delta_sat = 0
    for claim in claims:
        book_delta_sat += claim.delta_sat
    if book_delta_sat == chain_delta_sat:
        return 0
    if fees_sat and book_delta_sat == chain_delta_sat + fees_sat:
        return fees_sat
    # Measured against the nearer of the two changes the entries may rightly record: with or without the fees.
    expected_sat = min(chain_delta_sat, chain_delta_sat + fees_sat, key=lambda c: abs(book_delta_sat - c))
    found.append(findings.amount_mismatch(
        account, [c.entry for c in claims], min((confirmed[t] for t in txids), key=lambda t: (t.height, t.tx_index)),
        txid_count=len(txids), book_delta_sat=book_delta_sat, chain_delta_sat=chain_delta_sat,
        expected_sat=expected_sat, fees_sat=fees_sat, touched=bool(movements),
    ))
    return 0
