"""A reserve's view at one height: the chain facts `boveda sync` stored beside the journal, reconciled.

This is the only place where the book's claims and the chain's facts meet; the rules of the
meeting are the pure functions of `reconcile.match`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from boveda.book import Book
from boveda.book.domain import Account, Entry
from boveda.errors import WalletError
from boveda.labels import labels_for
from boveda.reconcile.facts import ChainTx, Owned, ReconcileError
from boveda.reconcile.match import reconcile_account
from boveda.reconcile.model import Reconciliation
from boveda.report.fiat import fiat_summary
from boveda.report.rollforward import RollForward, book_side, chain_balance_at, chain_side
from boveda.report.statement import AnchorLine, Statement, build_statement, holdings_by_wallet
from boveda.service.anchors import anchors_of
from boveda.service.periods import PeriodBounds, period_bounds
from boveda.text import shown
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
    owner = {name: Account.parse(text) for name, text in facts.wallet_owners(conn).items()}
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


def known_reserve(book: Book, reserve: str) -> str:
    """`reserve` if the book has that reserve; ReconcileError otherwise (before any work is done for it)."""
    if reserve not in {r.code for r in book.reserves()}:
        raise ReconcileError(f"no reserve {shown(reserve)} in this book: see boveda balances")
    return reserve


def reserve_view(book: Book, reserve: str, height: int | None = None) -> ReserveView:
    """The reconciliation of reserve `reserve` at `height` (default: the synced tip)."""
    code = known_reserve(book, reserve)
    return _holding_view(book, Account.reserve(code), height, code)


def custody_view(book: Book, case_number: str, height: int | None = None) -> ReserveView:
    """The reconciliation of the custody holding of case `case_number` at `height` (default: the synced tip)."""
    if case_number not in {c.number for c in book.cases()}:
        raise ReconcileError(f"no case {case_number!r} in this book: see boveda lots")
    return _holding_view(book, Account.custody(case_number), height, None)


def _holding_view(book: Book, account: Account, height: int | None, reserve_code: str | None) -> ReserveView:
    return holding_views(book, [(account, reserve_code)], height)[account]


def holding_views(book: Book, holdings: Sequence[tuple[Account, str | None]], height: int | None = None
                  ) -> dict[Account, ReserveView]:
    """The views of several holdings — (account, its reserve code or None) — at one height (default: the synced
    tip), reading the chain facts and the journal once for all of them (the web site's per-block snapshot)."""
    with book.store.read() as conn:
        height = synced_tip(conn)[0] if height is None else height
        block_hash, block_time = block_at(conn, height)
        txs = load_chain_txs(conn, height)
        owners = {name: Account.parse(owner) for name, owner in facts.wallet_owners(conn).items()}
    block_date = datetime.datetime.fromtimestamp(block_time, datetime.UTC).date()
    # Pairing is by txid first: an entry citing a transaction confirmed by `height` is matched with it
    # whatever its date (reconcile reports a date after the confirmation); others count from their date.
    confirmed = {tx.txid_hex for tx in txs}
    entries = tuple(e for e in book.journal()
                    if e.effective_date <= block_date or any(t in confirmed for t in e.txids))
    return {account: _view_of(account, code, height, block_hash, block_date, txs, entries, owners)
            for account, code in holdings}


def _view_of(account: Account, reserve_code: str | None, height: int, block_hash: bytes, block_date: datetime.date,
             txs: tuple[ChainTx, ...], entries: tuple[Entry, ...], owners: dict[str, Account]) -> ReserveView:
    wallet_names = [name for name, owner in owners.items() if owner == account]
    holdings = {name: 0 for name in wallet_names}
    for tx in txs:
        for owned in tx.outputs:
            if owned.account == account:
                holdings[owned.wallet] += owned.value_sat
        for owned in tx.inputs:
            if owned.account == account:
                holdings[owned.wallet] -= owned.value_sat
    book_balance = sum(p.amount_sat for e in entries for p in e.postings if p.account == account)
    result = reconcile_account(account, height=height, block_hash_hex=block_hash[::-1].hex(), chain_txs=txs,
                               entries=entries, chain_balance_sat=sum(holdings.values()), book_balance_sat=book_balance,
                               reserve=reserve_code)
    return ReserveView(result, txs, entries, holdings, block_date)


def reserve_statement(
    book: Book,
    reserve: str,
    height: int | None = None,
    period_from: datetime.date | None = None,
    period_to: datetime.date | None = None,
    *,
    currency: str = "USD",
) -> Statement:
    """The statement of `reserve` for a period (see :func:`boveda.service.periods.period_bounds`): holdings,
    balances and discrepancies at the period's last block, movements of its blocks, the roll-forward on
    both sides, and the fiat figures in `currency`."""
    code = known_reserve(book, reserve)
    currency = checked_currency(currency)
    bounds = period_bounds(book, period_from, period_to, height)
    return _statement(book, reserve_view(book, code, bounds.closing_height), bounds, period_from, period_to, currency)


def statement_of(book: Book, view: ReserveView, period_from: datetime.date | None = None,
                 period_to: datetime.date | None = None, *, currency: str = "USD") -> Statement:
    """The statement of a reserve's view already in hand (the web site keeps one per block); a period
    ending before the view's block is read at the period's own last block."""
    currency = checked_currency(currency)
    r = view.reconciliation
    bounds = period_bounds(book, period_from, period_to, None if period_to is not None else r.height)
    if bounds.closing_height != r.height:
        view = _holding_view(book, r.account, bounds.closing_height, r.reserve)
    return _statement(book, view, bounds, period_from, period_to, currency)


def checked_currency(text: str) -> str:
    """An ISO 4217 code such as ``USD`` (upper-cased); ReconcileError otherwise."""
    code = text.strip().upper() if isinstance(text, str) else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ReconcileError(f"bad currency {shown(text)}: give an ISO 4217 code such as USD or EUR")
    return code


def _statement(book: Book, view: ReserveView, bounds: PeriodBounds, period_from: datetime.date | None,
               period_to: datetime.date | None, currency: str) -> Statement:
    account = view.reconciliation.account
    name = next((r.name for r in book.reserves() if r.account == account), None)
    entries = book.journal()
    closing_sat = sum(view.holdings_sat.values())
    chain = chain_side((m for m in view.reconciliation.movements
                        if bounds.opening_height is None or m.height > bounds.opening_height),
                       opening_sat=chain_balance_at(account, view.chain_txs, bounds.opening_height),
                       closing_sat=closing_sat)
    rollforward = RollForward(bounds.period_from, bounds.period_to, bounds.opening_height, bounds.closing_height,
                              chain, book_side(account, entries, bounds.period_from, bounds.period_to))
    fiat = fiat_summary(account, entries, currency=currency, on=bounds.period_to, holdings_sat=closing_sat,
                        price=book.price_on(currency, bounds.period_to))
    return build_statement(
        view.reconciliation,
        holdings_sat=view.holdings_sat,
        series=holdings_by_wallet(account, view.chain_txs, height=view.reconciliation.height),
        series_basis="wallet",
        period_from=period_from,
        period_to=period_to,
        block_date=view.block_date,
        reserve_name=name,
        movements_after_height=-1 if bounds.opening_height is None else bounds.opening_height,
        rollforward=rollforward,
        fiat=fiat,
        anchors=[AnchorLine(a.txid_hex, a.height, a.seq, a.head_hex)
                 for a in anchors_of(book, at_height=bounds.closing_height)],
        txid_labels=labels_for(book, [m.txid_hex for m in view.reconciliation.movements]
                          + [d.txid_hex for d in view.reconciliation.discrepancies if d.txid_hex]),
    )
