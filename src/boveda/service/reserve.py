"""A reserve's view at one height: the chain facts `boveda sync` stored beside the journal, reconciled.

This is the only place where the book's claims and the chain's facts meet; the rules of the
meeting are the pure functions of `reconcile.match`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from boveda.book import Book
from boveda.book.domain import Account, Entry
from boveda.errors import WalletError
from boveda.reconcile.facts import ChainTx, Owned, ReconcileError
from boveda.reconcile.match import reconcile
from boveda.reconcile.model import Reconciliation
from boveda.report.statement import Statement, build_statement, holdings_by_wallet
from boveda.wallets import facts_store as facts


@dataclass(frozen=True, slots=True)
class ReserveView:
    reconciliation: Reconciliation
    chain_txs: tuple[ChainTx, ...]
    entries: tuple[Entry, ...]
    holdings_sat: dict[str, int]
    block_date: datetime.date


def synced_tip(conn: Connection) -> tuple[int, bytes, int]:
    try:
        return facts.synced_tip(conn)
    except WalletError as exc:
        raise ReconcileError(str(exc)) from None


def block_at(conn: Connection, height: int) -> tuple[bytes, int]:
    block = facts.synced_block(conn, height)
    if block is None:
        tip = synced_tip(conn)[0]
        raise ReconcileError(f"height {height} has not been synced (the book is synced to {tip}): run boveda sync")
    return block


def load_chain_txs(conn: Connection, height: int) -> tuple[ChainTx, ...]:
    """Every transaction up to `height` that touched a tracked wallet, with what each tracked side put in and took."""
    owner = facts.wallet_owners(conn)
    inputs: dict[bytes, list[Owned]] = defaultdict(list)
    outputs: dict[bytes, list[Owned]] = defaultdict(list)
    for coin in facts.coins_to(conn, height):
        outputs[coin.txid].append(Owned(owner[coin.wallet], coin.wallet, coin.value_sat))
        if coin.spent_height is not None and coin.spent_height <= height:
            inputs[coin.spent_txid].append(Owned(owner[coin.wallet], coin.wallet, coin.value_sat))
    times = facts.block_times_to(conn, height)
    result = []
    for tx in facts.tx_facts_to(conn, height):
        day = datetime.datetime.fromtimestamp(times[tx.height], datetime.UTC).date()
        result.append(ChainTx(tx.txid[::-1].hex(), tx.height, tx.tx_index, day, tx.input_count, tx.output_count,
                              tx.output_total_sat, tuple(inputs.get(tx.txid, ())), tuple(outputs.get(tx.txid, ()))))
    return tuple(result)


def reserve_view(book: Book, reserve: str, height: int | None = None) -> ReserveView:
    """The reconciliation of reserve `reserve` at `height` (default: the synced tip)."""
    code = str(Account.reserve(reserve)).split(":", 1)[1]
    if code not in {r.code for r in book.reserves()}:
        raise ReconcileError(f"no reserve {code!r} in this book: see boveda balances")
    account = f"reserve:{code}"
    with book.store.read() as conn:
        height = synced_tip(conn)[0] if height is None else height
        block_hash, block_time = block_at(conn, height)
        txs = load_chain_txs(conn, height)
        wallet_names = [name for name, owner in facts.wallet_owners(conn).items() if owner == account]
    block_date = datetime.datetime.fromtimestamp(block_time, datetime.UTC).date()
    holdings = {name: 0 for name in wallet_names}
    for tx in txs:
        for owned in tx.outputs:
            if owned.account == account:
                holdings[owned.wallet] += owned.value_sat
        for owned in tx.inputs:
            if owned.account == account:
                holdings[owned.wallet] -= owned.value_sat
    entries = tuple(e for e in book.journal() if e.effective_date <= block_date)
    book_balance = sum(p.amount_sat for e in entries for p in e.postings if p.account == account)
    result = reconcile(code, height=height, block_hash_hex=block_hash[::-1].hex(), chain_txs=txs, entries=entries,
                       chain_balance_sat=sum(holdings.values()), book_balance_sat=book_balance)
    return ReserveView(result, txs, entries, holdings, block_date)


def reserve_statement(
    book: Book,
    reserve: str,
    height: int | None = None,
    period_from: datetime.date | None = None,
    period_to: datetime.date | None = None,
) -> Statement:
    view = reserve_view(book, reserve, height)
    account = view.reconciliation.account
    name = next((r.name for r in book.reserves() if f"reserve:{r.code}" == account), None)
    return build_statement(
        view.reconciliation,
        holdings_sat=view.holdings_sat,
        series=holdings_by_wallet(account, view.chain_txs, height=view.reconciliation.height),
        series_basis="wallet",
        period_from=period_from,
        period_to=period_to,
        block_date=view.block_date,
        reserve_name=name,
    )
