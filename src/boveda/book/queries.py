"""The book's read queries: its tables turned back into value types, over one connection.

:class:`boveda.book.api.Book` opens the connection (or lends the one of the transaction in
progress, so reads inside a batch see its writes) and delegates here.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.book import schema as s
from boveda.book.checks import check_txid
from boveda.book.domain import Account, Balance, Case, Entry, Lot, LotTransition, Partner, Reserve, Wallet


def reserves(conn: Connection) -> tuple[Reserve, ...]:
    return tuple(s.reserve_from_row(r) for r in conn.execute(sa.select(s.reserves).order_by(s.reserves.c.code)))


def partners(conn: Connection) -> tuple[Partner, ...]:
    return tuple(s.partner_from_row(r) for r in conn.execute(sa.select(s.partners).order_by(s.partners.c.code)))


def cases(conn: Connection) -> tuple[Case, ...]:
    return tuple(s.case_from_row(r) for r in conn.execute(sa.select(s.cases).order_by(s.cases.c.number)))


def wallets(conn: Connection) -> tuple[Wallet, ...]:
    return tuple(s.wallet_from_row(r) for r in conn.execute(sa.select(s.wallets).order_by(s.wallets.c.name)))


def lots(conn: Connection, *, parent_lot_id: int | None = None) -> tuple[Lot, ...]:
    """Every lot, or only the remainders split from ``parent_lot_id``."""
    query = sa.select(s.lots).order_by(s.lots.c.lot_id)
    if parent_lot_id is not None:
        query = query.where(s.lots.c.parent_lot_id == parent_lot_id)
    return tuple(s.lot_from_row(r) for r in conn.execute(query))


def lot(conn: Connection, lot_id: int) -> Lot | None:
    row = conn.execute(sa.select(s.lots).where(s.lots.c.lot_id == lot_id)).first()
    return None if row is None else s.lot_from_row(row)


def lot_transitions(conn: Connection, lot_id: int | None = None) -> tuple[LotTransition, ...]:
    query = sa.select(s.lot_transitions).order_by(s.lot_transitions.c.transition_id)
    if lot_id is not None:
        query = query.where(s.lot_transitions.c.lot_id == lot_id)
    return tuple(s.transition_from_row(r) for r in conn.execute(query))


def balances(conn: Connection) -> tuple[Balance, ...]:
    """Every account's balance in satoshis (holdings positive; sources such as exchanges negative)."""
    query = sa.select(s.balances.c.account, s.balances.c.balance_sat).order_by(s.balances.c.account)
    return tuple(Balance(Account.parse(a), b) for a, b in conn.execute(query))


def balance(conn: Connection, account: Account) -> int:
    query = sa.select(s.balances.c.balance_sat).where(s.balances.c.account == str(account))
    return conn.execute(query).scalar() or 0


def iter_journal(conn: Connection, *, chunk: int = 10_000) -> Iterator[Entry]:
    """Every entry in order, streamed ``chunk`` entries at a time."""
    last = 0
    while True:
        rows = list(conn.execute(
            sa.select(s.entries).where(s.entries.c.entry_id > last).order_by(s.entries.c.entry_id).limit(chunk)
        ))
        if not rows:
            return
        yield from _entries_with_lines(conn, rows)
        last = rows[-1][0]


def entries_citing(conn: Connection, txid: str) -> tuple[Entry, ...]:
    """The entries that cite ``txid`` (for reconciliation)."""
    citing = sa.select(s.entry_txids.c.entry_id).where(s.entry_txids.c.txid == check_txid(txid))
    rows = list(conn.execute(sa.select(s.entries).where(s.entries.c.entry_id.in_(citing))
                             .order_by(s.entries.c.entry_id)))
    return tuple(_entries_with_lines(conn, rows))


def _entries_with_lines(conn: Connection, rows: list[sa.Row]) -> Iterator[Entry]:
    if not rows:
        return
    low, high = rows[0][0], rows[-1][0]
    lines: dict[int, list[sa.Row]] = {}
    for row in conn.execute(
        sa.select(s.postings).where(s.postings.c.entry_id.between(low, high))
        .order_by(s.postings.c.entry_id, s.postings.c.line)
    ):
        lines.setdefault(row[0], []).append(row)
    txids: dict[int, list[sa.Row]] = {}
    for row in conn.execute(
        sa.select(s.entry_txids).where(s.entry_txids.c.entry_id.between(low, high))
        .order_by(s.entry_txids.c.entry_id, s.entry_txids.c.position)
    ):
        txids.setdefault(row[0], []).append(row)
    for row in rows:
        yield s.entry_from_rows(row, lines.get(row[0], []), txids.get(row[0], []))
