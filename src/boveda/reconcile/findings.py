"""The findings of reconciliation worded: each :class:`Discrepancy` that
:mod:`boveda.reconcile.match` decides on, with the sentence that says what disagrees."""

from __future__ import annotations

from collections.abc import Sequence

from boveda.book.domain import Account, Entry
from boveda.money import format_btc
from boveda.reconcile.facts import ChainTx
from boveda.reconcile.model import Discrepancy, DiscrepancyKind, Movement, MovementKind, parties_text

_D = DiscrepancyKind


def unconfirmed_entry(account: Account, entry: Entry, txid: str, *, delta_sat: int, amount_sat: int) -> Discrepancy:
    """``entry`` (``delta_sat`` for the holding) cites ``txid``, which no tracked wallet shows confirmed."""
    return Discrepancy(
        kind=_D.UNCONFIRMED_ENTRY, txid_hex=txid, amount_sat=amount_sat,
        detail=(f"entry #{entry.entry_id} ({entry.kind.value}, {signed_btc(delta_sat)} BTC for {account}) cites a "
                "transaction that no tracked wallet shows confirmed at this height"),
        on=entry.effective_date, entry_id=entry.entry_id, entry_kind=entry.kind, book_amount_sat=delta_sat,
    )


def claimed_internal(account: Account, movement: Movement, entry: Entry, *, amount_sat: int) -> Discrepancy:
    """``entry`` records a purchase of ``amount_sat``; ``movement`` brought coins from a tracked holding."""
    where = (f"moved between {account}'s own wallets" if movement.kind is MovementKind.INTERNAL
             else f"came from {parties_text(movement.counterparty)}, another tracked holding")
    return Discrepancy(
        kind=_D.CLAIMED_PURCHASE_IS_INTERNAL, txid_hex=movement.txid_hex, amount_sat=amount_sat,
        detail=(f"entry #{entry.entry_id} records a purchase of {format_btc(amount_sat)} BTC; on chain the coins "
                f"{where} ({format_btc(movement.out_sat)} BTC received, {format_btc(movement.in_sat)} BTC spent by "
                f"{account})"),
        on=entry.effective_date, height=movement.height, entry_id=entry.entry_id, entry_kind=entry.kind,
        book_amount_sat=amount_sat, chain_amount_sat=movement.out_sat, counterparty=movement.counterparty,
    )


def amount_mismatch(
    account: Account,
    entries: Sequence[Entry],
    tx: ChainTx,
    *,
    txid_count: int,
    book_delta_sat: int,
    chain_delta_sat: int,
    expected_sat: int,
    fees_sat: int,
    touched: bool,
) -> Discrepancy:
    """``entries`` record ``book_delta_sat`` for the holding in ``txid_count`` transactions (the first in
    chain order ``tx``) that changed it by ``chain_delta_sat``, of which ``fees_sat`` fees; the finding
    is measured against ``expected_sat`` (the chain's change with or without the fees)."""
    if not touched:
        chain_words = f"the chain shows no coin of {account} moving in {_tx_words(txid_count)}"
    else:
        chain_words = f"the chain shows {signed_btc(chain_delta_sat)} BTC in {_tx_words(txid_count)}"
        if fees_sat:
            chain_words += f" (of which {format_btc(fees_sat)} BTC fees)"
    first = min(entries, key=lambda e: e.entry_id)
    return Discrepancy(
        kind=_D.AMOUNT_MISMATCH, txid_hex=tx.txid_hex, amount_sat=abs(book_delta_sat - expected_sat),
        detail=f"{_entry_words(entries)} {signed_btc(book_delta_sat)} BTC for {account}; {chain_words}",
        on=first.effective_date, height=tx.height, entry_id=first.entry_id, entry_kind=first.kind,
        book_amount_sat=book_delta_sat, chain_amount_sat=expected_sat,
        entry_ids=tuple(sorted(e.entry_id for e in entries)) if len(entries) > 1 else (),
    )


def dated_after_confirmation(account: Account, entry: Entry, tx: ChainTx, *, amount_sat: int) -> Discrepancy:
    """``entry`` cites ``tx`` (the last of its transactions to confirm) but is dated after the block's day."""
    days = (entry.effective_date - tx.block_date).days
    return Discrepancy(
        kind=_D.ENTRY_DATED_AFTER_CONFIRMATION, txid_hex=tx.txid_hex, amount_sat=amount_sat,
        detail=(f"entry #{entry.entry_id} ({entry.kind.value}) is dated {entry.effective_date.isoformat()}, "
                f"{_count(days, 'day', 'days')} after the transaction it cites confirmed on {tx.block_date.isoformat()} "
                f"(height {tx.height}); it is matched with that transaction all the same"),
        on=entry.effective_date, height=tx.height, entry_id=entry.entry_id, entry_kind=entry.kind,
        book_amount_sat=amount_sat, days=days,
    )


def duplicate_citation(account: Account, txid: str, entries: Sequence[Entry], tx: ChainTx | None) -> Discrepancy:
    """Several ``entries`` of one kind, each posting to the holding, cite ``txid``: one movement, recorded more than once?"""
    ordered = sorted(entries, key=lambda e: e.entry_id)
    first = ordered[0]
    ids = ", ".join(f"#{e.entry_id}" for e in ordered)
    total_sat = sum(abs(sum(p.amount_sat for p in e.postings if p.account == account)) for e in ordered)
    return Discrepancy(
        kind=_D.DUPLICATE_CITATION, txid_hex=txid, amount_sat=total_sat,
        detail=(f"entries {ids} ({first.kind.value}, {format_btc(total_sat)} BTC for {account} together) all cite "
                "this one transaction: check that it is not recorded twice"),
        on=first.effective_date, height=None if tx is None else tx.height, entry_id=first.entry_id,
        entry_kind=first.kind, entry_ids=tuple(e.entry_id for e in ordered),
    )


def movement_finding(kind: DiscrepancyKind, account: Account, movement: Movement) -> Discrepancy:
    """A movement no entry cites (``UNRECORDED_INFLOW``/``_OUTFLOW``), or one to review (``MIXED_INPUTS``)."""
    amount_sat, fee_sat = movement.amount_sat, movement.fee_sat or 0
    party = parties_text(movement.counterparty)
    if kind is _D.UNRECORDED_INFLOW:
        detail = f"{format_btc(amount_sat)} BTC arrived in {account} from {party} with no entry citing it"
    elif kind is _D.UNRECORDED_OUTFLOW:
        detail = (f"{format_btc(amount_sat)} BTC left {account} to {party} (fee {format_btc(fee_sat)} BTC)"
                  " with no entry authorising it")
    else:
        detail = (f"the transaction spends coins of {account} together with coins of {party} "
                  f"(coinjoin or payjoin): net {signed_btc(amount_sat)} BTC for {account}")
    return Discrepancy(
        kind=kind, txid_hex=movement.txid_hex, amount_sat=abs(amount_sat), detail=detail, on=movement.block_date,
        height=movement.height,
        chain_amount_sat=amount_sat if kind is not _D.UNRECORDED_OUTFLOW else -amount_sat - fee_sat,
        counterparty=movement.counterparty,
    )


def signed_btc(amount_sat: int) -> str:
    return ("+" if amount_sat > 0 else "") + format_btc(amount_sat)


def _entry_words(entries: Sequence[Entry]) -> str:
    if len(entries) == 1:
        return f"entry #{entries[0].entry_id} ({entries[0].kind.value}) records"
    ids = ", ".join(f"#{e.entry_id}" for e in entries)
    return f"entries {ids} record"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _tx_words(txid_count: int) -> str:
    return "this transaction" if txid_count == 1 else f"the {txid_count} transactions they cite"
