"""The book's read queries: its tables turned back into value types, over one connection.

:class:`boveda.book.api.Book` opens the connection (or lends the one of the transaction in
progress, so reads inside a batch see its writes) and delegates here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.book import schema as s
from boveda.book.checks import check_txid
from boveda.book.domain import (
    Account,
    Balance,
    Case,
    Entry,
    EntryKind,
    Lot,
    LotTransition,
    Partner,
    Price,
    Reserve,
    Wallet,
)
from boveda.book.errors import BookError
from boveda.book.prices import check_currency
from boveda.book.store import entry_by_id


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


def entry(conn: Connection, entry_id: int) -> Entry | None:
    return entry_by_id(conn, entry_id)


def corrections_by_entry(conn: Connection) -> dict[int, tuple[int, ...]]:
    """``{entry id: ids of the entries correcting it}`` (corrections are few)."""
    found: dict[int, list[int]] = {}
    query = (sa.select(s.entries.c.corrects_entry_id, s.entries.c.entry_id)
             .where(s.entries.c.corrects_entry_id.is_not(None)).order_by(s.entries.c.entry_id))
    for original_id, entry_id in conn.execute(query):
        found.setdefault(original_id, []).append(entry_id)
    return {k: tuple(v) for k, v in found.items()}


def prices(conn: Connection, currency: str | None = None) -> tuple[Price, ...]:
    """Every stored price (of ``currency`` only, when given), by currency and day."""
    query = sa.select(s.prices).order_by(s.prices.c.currency, s.prices.c.on_date)
    if currency is not None:
        query = query.where(s.prices.c.currency == check_currency(currency))
    return tuple(s.price_from_row(r) for r in conn.execute(query))


def price_on(conn: Connection, currency: str, on: date) -> Price | None:
    """The price of ``currency`` on ``on``, or on the latest day before it that has one."""
    row = conn.execute(
        sa.select(s.prices).where(s.prices.c.currency == check_currency(currency),
                                  s.prices.c.on_date <= on.isoformat())
        .order_by(s.prices.c.on_date.desc()).limit(1)
    ).first()
    return None if row is None else s.price_from_row(row)


@dataclass(frozen=True, slots=True)
class JournalFilter:
    """Which entries ``journal`` lists: posting to ``account``, dated from ``from_date`` to ``to_date``
    (both included), of ``kind``, citing ``txid`` — each ``None`` for any."""

    account: Account | None = None
    from_date: date | None = None
    to_date: date | None = None
    kind: EntryKind | None = None
    txid: str | None = None

    def __post_init__(self) -> None:
        if self.from_date is not None and self.to_date is not None and self.from_date > self.to_date:
            raise BookError(f"--from {self.from_date.isoformat()} is after --to {self.to_date.isoformat()}")


def journal(conn: Connection, where: JournalFilter, *, chunk: int = 2_000) -> Iterator[Entry]:
    """The entries ``where`` selects, by date and then by number, streamed."""
    e = s.entries.c
    query = sa.select(s.entries)
    if where.account is not None:
        query = query.where(e.entry_id.in_(sa.select(s.postings.c.entry_id)
                                           .where(s.postings.c.account == str(where.account))))
    if where.txid is not None:
        query = query.where(e.entry_id.in_(sa.select(s.entry_txids.c.entry_id)
                                           .where(s.entry_txids.c.txid == check_txid(where.txid))))
    if where.kind is not None:
        query = query.where(e.kind == where.kind.value)
    if where.from_date is not None:
        query = query.where(e.effective_date >= where.from_date.isoformat())
    if where.to_date is not None:
        query = query.where(e.effective_date <= where.to_date.isoformat())
    after: tuple[str, int] | None = None
    while True:
        page = query if after is None else query.where(sa.tuple_(e.effective_date, e.entry_id) > sa.tuple_(*after))
        rows = list(conn.execute(page.order_by(e.effective_date, e.entry_id).limit(chunk)))
        if not rows:
            return
        yield from _entries_by_ids(conn, rows)
        after = (rows[-1][2], rows[-1][0])


def _entries_by_ids(conn: Connection, rows: list[sa.Row]) -> Iterator[Entry]:
    ids = [row[0] for row in rows]
    lines: dict[int, list[sa.Row]] = {}
    for row in conn.execute(sa.select(s.postings).where(s.postings.c.entry_id.in_(ids))
                            .order_by(s.postings.c.entry_id, s.postings.c.line)):
        lines.setdefault(row[0], []).append(row)
    txids: dict[int, list[sa.Row]] = {}
    for row in conn.execute(sa.select(s.entry_txids).where(s.entry_txids.c.entry_id.in_(ids))
                            .order_by(s.entry_txids.c.entry_id, s.entry_txids.c.position)):
        txids.setdefault(row[0], []).append(row)
    for row in rows:
        yield s.entry_from_rows(row, lines.get(row[0], []), txids.get(row[0], []))


@dataclass(frozen=True, slots=True)
class Actor:
    """Who recorded an event (``operator``) and who approved it (``approved_by``), with its number."""

    seq: int
    operator: str
    approved_by: str | None = None


def entry_actors(conn: Connection) -> dict[int, Actor]:
    """``{entry id: who recorded it}`` for the entries recorded with an operator (schema 0005 on)."""
    from boveda.book.audit import loads_no_floats  # the audit module reads the book through this one's tables
    from boveda.book.events import event_from_payload

    found: dict[int, Actor] = {}
    query = (sa.select(s.audit_events.c.seq, s.audit_events.c.kind, s.audit_events.c.payload,
                       s.audit_events.c.operator, s.audit_events.c.approved_by)
             .where(s.audit_events.c.operator.is_not(None)).order_by(s.audit_events.c.seq))
    for seq, kind, payload, operator, approved_by in conn.execute(query):
        try:
            event: Any = event_from_payload(kind, loads_no_floats(payload))
        except BookError:
            continue  # audit verify names it
        entry = getattr(event, "entry", None)
        if isinstance(entry, Entry):
            found[entry.entry_id] = Actor(seq, operator, approved_by)
    return found
