"""Reconciliation: a holding's movements on chain matched with its journal entries, by txid
and then by amount, and every disagreement found as a :class:`Discrepancy` value.

The comparison is of balances: for the transactions an entry (or a group of entries) cites,
the change the book records for the holding must equal the change the chain shows —
or that change plus the miners' fees the holding paid, when the book does not record fees.
Entries citing several transactions, and transactions cited by several entries, are joined
into one group first, so a purchase delivered in two transactions, or a transfer booked
with a separate fee entry, is compared as a whole.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import date

from boveda.book.domain import Entry, EntryKind
from boveda.money import format_btc
from boveda.reconcile.classify import Classified, classify_fields, reserve_account
from boveda.reconcile.facts import ChainTx, ReconcileError
from boveda.reconcile.model import (
    EXTERNAL,
    Discrepancy,
    DiscrepancyKind,
    Movement,
    MovementDraft,
    MovementKind,
    Reconciliation,
    Totals,
)

_INFLOW, _OUTFLOW, _INTERNAL, _MIXED = MovementKind.INFLOW, MovementKind.OUTFLOW, MovementKind.INTERNAL, MovementKind.MIXED
_D = DiscrepancyKind
_FEES_ACCOUNT = "expense:fees"
_FEE, _PURCHASE = EntryKind.FEE, EntryKind.PURCHASE


# An entry as one holding sees it: (entry, delta_sat — its net posting to the holding, fees
# included, amount_sat — the value it moved in or out, fees excluded; a fee entry's is the fee).
# A tuple, not a dataclass: a million are made and dropped in one run.
_Claim = tuple[Entry, int, int]


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
        reserve_account(reserve_code), height=height, block_hash_hex=block_hash_hex, chain_txs=chain_txs,
        entries=entries, chain_balance_sat=chain_balance_sat, book_balance_sat=book_balance_sat,
        reserve=reserve_code,
    )


def reconcile_account(
    account: str,
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
                          book_balance_sat, reserve if reserve is not None else account)
    finally:
        if was_enabled:
            gc.enable()


def _reconcile(
    account: str,
    height: int,
    block_hash_hex: str,
    chain_txs: Iterable[ChainTx],
    entries: Iterable[Entry],
    chain_balance_sat: int,
    book_balance_sat: int,
    reserve: str,
    *,
    fast: bool = True,
) -> Reconciliation:
    """The pipeline; ``fast=False`` sends every entry through the general group comparison (for tests)."""
    confirmed, moves = _chain_side(account, height, chain_txs)
    by_txid, multi, book_only, entry_kind_sat, book_fees_sat = _book_side(account, entries)
    found: list[Discrepancy] = []
    fees_unbooked_sat = 0

    # Groups of several entries or transactions take the general comparison; the usual case,
    # one entry citing one transaction, is compared inline below with the same rules.
    general = _groups(by_txid, multi, every=not fast)
    linked: dict[str, list[_Claim]] = {}
    if general:
        moved = {tx.txid_hex: (tx, classified) for tx, classified in moves}
        for txids, claims in general:
            for txid in txids:
                if txid in moved:
                    linked[txid] = [c for c in claims if txid in c[0].txids]
            fees_unbooked_sat += _judge(account, txids, claims, confirmed, moved, found)

    movements: list[Movement] = []
    append = movements.append
    inflow_sat = outflow_sat = internal_sat = mixed_net_sat = fees_sat = 0
    inflow_count = outflow_count = internal_count = mixed_count = 0
    Draft = MovementDraft
    simple_seen = 0
    for tx, (kind, amount_sat, fee_sat, in_sat, out_sat, counterparty) in moves:
        txid = tx.txid_hex
        claim = by_txid.get(txid)
        ids: tuple[int, ...] = ()
        best = None
        if claim is not None and type(claim) is tuple and txid not in linked:
            simple_seen += 1
            entry, delta_sat, _ = claim
            best = entry.entry_id
            ids = (best,)
            if kind is _MIXED:
                pass
            elif entry.kind is _PURCHASE and (kind is _INTERNAL or (
                    kind is _INFLOW and EXTERNAL not in counterparty.split(","))):
                found.append(_claimed_internal(account, tx, claim, out_sat, in_sat, counterparty, kind))
            elif delta_sat != out_sat - in_sat:
                if fee_sat and delta_sat == out_sat - in_sat + fee_sat:
                    fees_unbooked_sat += fee_sat
                else:
                    found.append(_mismatch(account, (txid,), [claim], confirmed, out_sat - in_sat,
                                           fee_sat or 0, True))
        elif txid in linked:
            claims = linked[txid]
            ids = tuple(c[0].entry_id for c in claims)
            best = next((c[0].entry_id for c in claims if c[2] == amount_sat), min(ids))
        if kind is _INFLOW:
            inflow_count += 1
            inflow_sat += amount_sat
            if best is None:
                found.append(_movement_finding(_D.UNRECORDED_INFLOW, account, tx, amount_sat, fee_sat, counterparty))
        elif kind is _OUTFLOW:
            outflow_count += 1
            outflow_sat += amount_sat
            fees_sat += fee_sat
            if best is None:
                found.append(_movement_finding(_D.UNRECORDED_OUTFLOW, account, tx, amount_sat, fee_sat, counterparty))
        elif kind is _INTERNAL:
            internal_count += 1
            internal_sat += amount_sat
            fees_sat += fee_sat
            if best is None:
                fees_unbooked_sat += fee_sat
        else:
            mixed_count += 1
            mixed_net_sat += amount_sat
            found.append(_movement_finding(_D.MIXED_INPUTS, account, tx, amount_sat, fee_sat, counterparty))
        movement = Draft(txid, tx.height, tx.tx_index, tx.block_date, kind, amount_sat, fee_sat, in_sat, out_sat,
                         counterparty, best, ids)
        movement.__class__ = Movement
        append(movement)

    simple_count = sum(1 for held in by_txid.values() if type(held) is tuple) if not general else None
    if simple_count is None or simple_seen < simple_count:
        # Some single entries cite a transaction that moved nothing of the holding.
        general_txids = {txid for txids, _ in general for txid in txids}
        moved_txids = {tx.txid_hex for tx, _ in moves}
        for txid, held in by_txid.items():
            if type(held) is tuple and txid not in moved_txids and txid not in general_txids:
                _judge(account, (txid,), [held], confirmed, {}, found)

    totals = Totals(
        inflow_sat=inflow_sat,
        outflow_sat=outflow_sat,
        internal_sat=internal_sat,
        mixed_net_sat=mixed_net_sat,
        fees_sat=fees_sat,
        fees_unbooked_sat=fees_unbooked_sat,
        book_fees_sat=book_fees_sat,
        movement_counts=((_INFLOW, inflow_count), (_OUTFLOW, outflow_count), (_INTERNAL, internal_count),
                         (_MIXED, mixed_count)),
        by_entry_kind_sat=tuple((kind, entry_kind_sat.get(kind, 0)) for kind in EntryKind),
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
        book_only_entries=tuple(book_only),
        matched_entry_count=sum(1 if type(held) is tuple else len(held) for held in by_txid.values()) + len(multi),
    )


def _chain_side(
    account: str, height: int, chain_txs: Iterable[ChainTx]
) -> tuple[dict[str, ChainTx], list[tuple[ChainTx, Classified]]]:
    """Confirmed transactions by txid, and the holding's classified ones in chain order."""
    confirmed: dict[str, ChainTx] = {}
    touched: list[tuple[ChainTx, Classified]] = []
    append = touched.append
    last = (-1, -1)
    in_order = True
    for tx in chain_txs:
        if tx.height > height:
            continue
        txid = tx.txid_hex
        if txid in confirmed:
            raise ReconcileError(f"the chain facts list transaction {txid} twice")
        confirmed[txid] = tx
        found = classify_fields(account, tx)
        if found is not None:
            append((tx, found))
            if in_order:
                position = (tx.height, tx.tx_index)
                in_order = position > last
                last = position
    if not in_order:
        touched.sort(key=lambda item: (item[0].height, item[0].tx_index))
    return confirmed, touched


def _book_side(
    account: str, entries: Iterable[Entry]
) -> tuple[dict[str, list[_Claim] | _Claim], list[_Claim], list[Entry], dict[EntryKind, int], int]:
    """The entries posting to ``account``: single-txid claims by txid, multi-txid claims, book-only entries,
    the amount moved per journal kind, and the fees the book records."""
    by_txid: dict[str, list[_Claim] | _Claim] = {}
    multi: list[_Claim] = []
    book_only: list[Entry] = []
    kind_sat: dict[EntryKind, int] = {}
    book_fees_sat = 0
    for entry in entries:
        delta_sat = fee_posted_sat = 0
        posts = False
        for posting in entry.postings:
            if posting.account == account:
                delta_sat += posting.amount_sat
                posts = True
            elif posting.account == _FEES_ACCOUNT:
                fee_posted_sat += posting.amount_sat
        if not posts:
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
        claim = (entry, delta_sat, amount_sat)
        if len(txids) > 1:
            multi.append(claim)
            continue
        txid = txids[0]
        held = by_txid.get(txid)
        if held is None:
            by_txid[txid] = claim
        elif type(held) is list:
            held.append(claim)
        else:
            by_txid[txid] = [held, claim]
    return by_txid, multi, book_only, kind_sat, book_fees_sat


def _groups(
    by_txid: dict[str, list[_Claim] | _Claim], multi: list[_Claim], *, every: bool = False
) -> list[tuple[tuple[str, ...], list[_Claim]]]:
    """Connected groups of (txids, claims) that need the general comparison: claims sharing a
    txid, claims citing several txids (all groups when ``every``)."""
    groups: list[tuple[tuple[str, ...], list[_Claim]]] = []
    parent: dict[str, str] = {}

    def root(txid: str) -> str:
        while parent[txid] != txid:
            parent[txid] = parent[parent[txid]]
            txid = parent[txid]
        return txid

    for claim in multi:
        first, *rest = claim[0].txids
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
        joined[root(claim[0].txids[0])][1].append(claim)
    for txid, held in by_txid.items():
        if txid in parent:
            claims = joined[root(txid)][1]
            claims.extend(held) if type(held) is list else claims.append(held)
        elif type(held) is list:
            groups.append(((txid,), held))
        elif every:
            groups.append(((txid,), [held]))
    for txids, claims in joined.values():
        claims.sort(key=lambda c: c[0].entry_id)
        groups.append((tuple(txids), claims))
    return groups


def _judge(
    account: str,
    txids: tuple[str, ...],
    claims: list[_Claim],
    confirmed: dict[str, ChainTx],
    moved: dict[str, tuple[ChainTx, Classified]],
    found: list[Discrepancy],
) -> int:
    """Compare one group of claims with the chain; append findings; return the fees it leaves unbooked."""
    if any(txid not in confirmed for txid in txids):
        for entry, delta_sat, amount_sat in claims:
            for txid in entry.txids:
                if txid not in confirmed:
                    found.append(Discrepancy(
                        _D.UNCONFIRMED_ENTRY, txid, amount_sat,
                        f"entry #{entry.entry_id} ({entry.kind.value}, {_signed_btc(delta_sat)} BTC for {account}) "
                        "cites a transaction that no tracked wallet shows confirmed at this height",
                        entry.effective_date, None, entry.entry_id, entry.kind, delta_sat, None,
                    ))
        return 0
    chain_delta_sat = fees_sat = 0
    claimed_internal = False
    for txid in txids:
        held = moved.get(txid)
        if held is None:
            continue
        tx, (kind, amount_sat, fee_sat, in_sat, out_sat, counterparty) = held
        if kind is _MIXED:
            return 0  # flagged for review on its own; the fee cannot be attributed
        chain_delta_sat += out_sat - in_sat
        if fee_sat is not None:
            fees_sat += fee_sat
        if kind is _INTERNAL or (kind is _INFLOW and EXTERNAL not in counterparty.split(",")):
            for claim in claims:
                if claim[0].kind is _PURCHASE and txid in claim[0].txids:
                    claimed_internal = True
                    found.append(_claimed_internal(account, tx, claim, out_sat, in_sat, counterparty, kind))
    if claimed_internal:
        return 0
    book_delta_sat = sum(claim[1] for claim in claims)
    if book_delta_sat == chain_delta_sat:
        return 0
    if fees_sat and book_delta_sat == chain_delta_sat + fees_sat:
        return fees_sat
    found.append(_mismatch(account, txids, claims, confirmed, chain_delta_sat, fees_sat,
                           any(t in moved for t in txids)))
    return 0


def _claimed_internal(
    account: str, tx: ChainTx, claim: _Claim, out_sat: int, in_sat: int, counterparty: str, kind: MovementKind
) -> Discrepancy:
    entry, _, amount_sat = claim
    where = (f"moved between {account}'s own wallets" if kind is _INTERNAL
             else f"came from {counterparty}, another tracked holding")
    return Discrepancy(
        _D.CLAIMED_PURCHASE_IS_INTERNAL, tx.txid_hex, amount_sat,
        f"entry #{entry.entry_id} records a purchase of {format_btc(amount_sat)} BTC; on chain the coins {where} "
        f"({format_btc(out_sat)} BTC received, {format_btc(in_sat)} BTC spent by {account})",
        entry.effective_date, tx.height, entry.entry_id, entry.kind, amount_sat, out_sat, counterparty,
    )


def _mismatch(
    account: str, txids: tuple[str, ...], claims: list[_Claim], confirmed: dict[str, ChainTx],
    chain_delta_sat: int, fees_sat: int, touched: bool,
) -> Discrepancy:
    book_delta_sat = sum(claim[1] for claim in claims)
    expected_sat = min(chain_delta_sat, chain_delta_sat + fees_sat, key=lambda c: abs(book_delta_sat - c))
    first = min(claims, key=lambda c: c[0].entry_id)[0]
    tx = min((confirmed[t] for t in txids), key=lambda t: (t.height, t.tx_index))
    if not touched:
        chain_words = f"the chain shows no coin of {account} moving in {_tx_words(txids)}"
    else:
        chain_words = f"the chain shows {_signed_btc(chain_delta_sat)} BTC in {_tx_words(txids)}"
        if fees_sat:
            chain_words += f" (of which {format_btc(fees_sat)} BTC fees)"
    return Discrepancy(
        _D.AMOUNT_MISMATCH, tx.txid_hex, abs(book_delta_sat - expected_sat),
        f"{_entry_words(claims)} {_signed_btc(book_delta_sat)} BTC for {account}; {chain_words}",
        first.effective_date, tx.height, first.entry_id, first.kind, book_delta_sat, expected_sat,
    )


def _movement_finding(
    kind: DiscrepancyKind, account: str, tx: ChainTx, amount_sat: int, fee_sat: int | None, counterparty: str
) -> Discrepancy:
    if kind is _D.UNRECORDED_INFLOW:
        detail = f"{format_btc(amount_sat)} BTC arrived in {account} from {counterparty} with no entry citing it"
    elif kind is _D.UNRECORDED_OUTFLOW:
        detail = (f"{format_btc(amount_sat)} BTC left {account} to {counterparty} (fee {format_btc(fee_sat or 0)} BTC)"
                  " with no entry authorising it")
    else:
        detail = (f"the transaction spends coins of {account} together with coins of {counterparty} "
                  f"(coinjoin or payjoin): net {_signed_btc(amount_sat)} BTC for {account}")
    stake_sat = abs(amount_sat)
    return Discrepancy(kind, tx.txid_hex, stake_sat, detail, tx.block_date, tx.height, None, None, None,
                       amount_sat if kind is not _D.UNRECORDED_OUTFLOW else -amount_sat - (fee_sat or 0), counterparty)


def _signed_btc(amount_sat: int) -> str:
    return ("+" if amount_sat > 0 else "") + format_btc(amount_sat)


def _entry_words(claims: list[_Claim]) -> str:
    if len(claims) == 1:
        entry = claims[0][0]
        return f"entry #{entry.entry_id} ({entry.kind.value}) records"
    ids = ", ".join(f"#{c[0].entry_id}" for c in claims)
    return f"entries {ids} record"


def _tx_words(txids: tuple[str, ...]) -> str:
    return "this transaction" if len(txids) == 1 else f"the {len(txids)} transactions they cite"
