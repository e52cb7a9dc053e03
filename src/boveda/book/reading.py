"""The book's read methods (:class:`Book` inherits them): each runs one query of
:mod:`boveda.book.queries` in the transaction in progress, or in a read transaction of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from boveda.book import queries
from boveda.book.domain import (
    Account,
    Balance,
    Case,
    Entry,
    Lot,
    LotTransition,
    Partner,
    Price,
    Reserve,
    Wallet,
    as_account,
)


class BookReads:
    """Reading the book; ``_tx`` and ``store`` are :class:`boveda.book.api.Book`'s."""

    _tx: Any
    store: Any

    # -- reading (boveda.book.queries) ----------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if self._tx is not None:
            yield self._tx.conn
        else:
            with self.store.read() as conn:
                yield conn

    def reserves(self) -> tuple[Reserve, ...]:
        with self._reading() as conn:
            return queries.reserves(conn)

    def partners(self) -> tuple[Partner, ...]:
        with self._reading() as conn:
            return queries.partners(conn)

    def cases(self) -> tuple[Case, ...]:
        with self._reading() as conn:
            return queries.cases(conn)

    def wallets(self) -> tuple[Wallet, ...]:
        with self._reading() as conn:
            return queries.wallets(conn)

    def lots(self, *, parent_lot_id: int | None = None) -> tuple[Lot, ...]:
        """Every lot, or only the remainders split from ``parent_lot_id``."""
        with self._reading() as conn:
            return queries.lots(conn, parent_lot_id=parent_lot_id)

    def lot(self, lot_id: int) -> Lot | None:
        with self._reading() as conn:
            return queries.lot(conn, lot_id)

    def lot_transitions(self, lot_id: int | None = None) -> tuple[LotTransition, ...]:
        with self._reading() as conn:
            return queries.lot_transitions(conn, lot_id)

    def balances(self) -> tuple[Balance, ...]:
        """Every account's balance in satoshis (holdings positive; sources such as exchanges negative)."""
        with self._reading() as conn:
            return queries.balances(conn)

    def balance(self, account: Account | str) -> int:
        account = as_account(account)
        with self._reading() as conn:
            return queries.balance(conn, account)

    def iter_journal(self, *, chunk: int = 10_000) -> Iterator[Entry]:
        """Every entry in order, streamed."""
        with self._reading() as conn:
            yield from queries.iter_journal(conn, chunk=chunk)

    def journal(self) -> tuple[Entry, ...]:
        return tuple(self.iter_journal())

    def entry(self, entry_id: int) -> Entry | None:
        with self._reading() as conn:
            return queries.entry(conn, entry_id)

    def corrections_by_entry(self) -> dict[int, tuple[int, ...]]:
        """``{entry id: the ids of the entries correcting it}``."""
        with self._reading() as conn:
            return queries.corrections_by_entry(conn)

    def prices(self, currency: str | None = None) -> tuple[Price, ...]:
        with self._reading() as conn:
            return queries.prices(conn, currency)

    def price_on(self, currency: str, on: date) -> Price | None:
        """The price of ``currency`` per BTC on ``on``: the latest stored at or before that day (``None`` if none)."""
        with self._reading() as conn:
            return queries.price_on(conn, currency, on)

    def journal_where(self, where: queries.JournalFilter) -> Iterator[Entry]:
        """The entries ``where`` selects, by date and then by number, streamed."""
        with self._reading() as conn:
            yield from queries.journal(conn, where)

    def entry_actors(self) -> dict[int, queries.Actor]:
        """Who recorded each entry recorded with an operator (and who approved it)."""
        with self._reading() as conn:
            return queries.entry_actors(conn)

    def entries_citing(self, txid: str) -> tuple[Entry, ...]:
        """The entries that cite ``txid`` (for reconciliation)."""
        with self._reading() as conn:
            return queries.entries_citing(conn, txid)

