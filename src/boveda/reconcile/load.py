"""Joins the two sides for one reserve at one height: the chain facts `boveda sync` stored, and the journal.

This is the only place where the book's claims and the chain's facts meet; the rules of the
meeting are the pure functions of `reconcile.match`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.book import Book
from boveda.book.domain import Account, Entry
from boveda.book.schema import wallets as wallets_table
from boveda.reconcile.facts import ChainTx, Owned, ReconcileError
from boveda.reconcile.match import reconcile
from boveda.reconcile.model import Reconciliation
from boveda.report.statement import Statement, build_statement, holdings_by_wallet
from boveda.wallets.tables import chain_blocks, chain_txs, txos


@dataclass(frozen=True, slots=True)
class ReserveView:
    reconciliation: Reconciliation
    chain_txs: tuple[ChainTx, ...]
    entries: tuple[Entry, ...]
    holdings_sat: dict[str, int]
    block_date: datetime.date


def synced_tip(conn: Connection) -> tuple[int, bytes, int]:
    row = conn.execute(
        sa.select(chain_blocks.c.height, chain_blocks.c.hash, chain_blocks.c.time).order_by(chain_blocks.c.height.desc())
    ).first()
    if row is None:
        raise ReconcileError("nothing has been synced yet: run boveda sync first")
    return row[0], bytes(row[1]), row[2]


def block_at(conn: Connection, height: int) -> tuple[bytes, int]:
    row = conn.execute(sa.select(chain_blocks.c.hash, chain_blocks.c.time).where(chain_blocks.c.height == height)).first()
    if row is None:
        tip = synced_tip(conn)[0]
        raise ReconcileError(f"height {height} has not been synced (the book is synced to {tip}): run boveda sync")
    return bytes(row[0]), row[1]


def load_chain_txs(conn: Connection, height: int) -> tuple[ChainTx, ...]:
    """Every transaction up to `height` that touched a tracked wallet, with what each tracked side put in and took."""
    owner = dict(conn.execute(sa.select(wallets_table.c.name, wallets_table.c.owner)).all())
    inputs: dict[bytes, list[Owned]] = defaultdict(list)
    outputs: dict[bytes, list[Owned]] = defaultdict(list)
    for txid, wallet, value_sat, created, spent_txid, spent_height in conn.execute(
        sa.select(txos.c.txid, txos.c.wallet, txos.c.value_sat, txos.c.height, txos.c.spent_txid, txos.c.spent_height)
        .where(txos.c.height <= height)
    ):
        outputs[bytes(txid)].append(Owned(owner[wallet], wallet, value_sat))
        if spent_height is not None and spent_height <= height:
            inputs[bytes(spent_txid)].append(Owned(owner[wallet], wallet, value_sat))
    times = dict(conn.execute(sa.select(chain_blocks.c.height, chain_blocks.c.time).where(chain_blocks.c.height <= height)).all())
    result = []
    for txid, tx_height, tx_index, input_count, output_count, output_total_sat in conn.execute(
        sa.select(chain_txs.c.txid, chain_txs.c.height, chain_txs.c.tx_index, chain_txs.c.input_count,
                  chain_txs.c.output_count, chain_txs.c.output_total_sat)
        .where(chain_txs.c.height <= height).order_by(chain_txs.c.height, chain_txs.c.tx_index)
    ):
        txid = bytes(txid)
        day = datetime.datetime.fromtimestamp(times[tx_height], datetime.UTC).date()
        result.append(ChainTx(txid[::-1].hex(), tx_height, tx_index, day, input_count, output_count, output_total_sat,
                              tuple(inputs.get(txid, ())), tuple(outputs.get(txid, ()))))
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
        wallet_names = conn.execute(
            sa.select(wallets_table.c.name).where(wallets_table.c.owner == account)
        ).scalars().all()
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
