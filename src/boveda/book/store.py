"""Where the book lives: a SQLite file (default) or a PostgreSQL database, behind one schema.

This module opens the database, runs the migrations, and gives out transactions:

- a *write* transaction holds the book's single writer lock for its whole length — SQLite
  ``BEGIN IMMEDIATE``, PostgreSQL ``SELECT … FOR UPDATE`` on the audit head row — so rules
  are checked against exactly the state they change, and two processes never fork the
  audit chain;
- a *read* transaction sees one consistent snapshot (SQLite WAL; PostgreSQL REPEATABLE READ).

It also implements the rules' :class:`~boveda.book.state.StateView` over a connection and
writes an event's :class:`~boveda.book.state.Effects` as rows.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from boveda.book import schema as s
from boveda.book.domain import (
    GENESIS_HASH,
    Account,
    Agency,
    AuditHead,
    Case,
    Entry,
    Lot,
    LotTransition,
    Partner,
    Price,
    Reserve,
    Wallet,
)
from boveda.book.errors import BookError
from boveda.book.state import Effects

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# One chain of revisions; each layer keeps the migrations of the tables it owns beside its code.
VERSION_DIRS = (MIGRATIONS_DIR / "versions", Path(__file__).parents[1] / "wallets" / "migrations",
                Path(__file__).parents[1] / "follower" / "migrations", Path(__file__).parents[1] / "spend" / "migrations",
                Path(__file__).parents[1] / "labels" / "migrations")
SQLITE_BUSY_TIMEOUT_S = 120


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(d) for d in VERSION_DIRS))
    return config


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration (other layers add theirs to the chain, so it is read, not fixed)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the book's migrations folder is empty"
    return head


def book_url(location: str) -> sa.URL:
    """The database URL of ``--book``: a ``postgresql://`` URL, a ``sqlite:///`` URL, or a file path."""
    if "://" not in location:
        return sa.URL.create("sqlite", database=str(Path(location)))
    try:
        url = make_url(location)
    except ArgumentError:
        raise BookError(f"cannot read book URL {location!r}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite":
        return url
    raise BookError(f"unsupported book {url.drivername}://…: use a SQLite file or a postgresql:// URL")


def describe(location: str) -> str:
    """``location`` safe to print: a PostgreSQL password is masked."""
    if "://" not in location:
        return location
    try:
        return make_url(location).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unreadable URL>"


def database_error(exc: SQLAlchemyError, location: str) -> BookError:
    """A one-line message for a database failure."""
    orig = getattr(exc, "orig", None) or exc
    first_line = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if first_line in ("unable to open database file", "attempt to write a readonly database"):
        # SQLite writes beside the book (its -wal and -shm files) even to read it.
        first_line += " (a SQLite book and its folder must be writable, even to read it)"
    return BookError(f"book {describe(location)}: {first_line}")


def _make_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

        @sa_event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transactions out of the driver's hands: we issue BEGIN ourselves, below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=FULL")  # a committed entry survives a power cut
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock now, not at the first write, so a writer never
            # reads state that another writer is about to change.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("boveda_write") else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=False)


class Store:
    """One book's database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, location: str, *, create: bool = False) -> None:
        self.location = location
        self.url = book_url(location)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and not create:
            path = self.url.database or ""
            if path in ("", ":memory:") or not os.path.exists(path):
                raise BookError(f"no book at {describe(location)}: create it with boveda init")
        self.engine = _make_engine(self.url)
        self._revision_checked = False

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def revision(self, conn: Connection) -> str | None:
        """The book's schema revision, or ``None`` when the database holds no book."""
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def upgrade(self) -> tuple[str | None, str]:
        """Create or migrate the schema to the newest revision; return (before, after)."""
        from alembic import command

        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(boveda_write=True)
                with conn.begin():
                    before = self.revision(conn)
                    config = _alembic_config()
                    config.attributes["connection"] = conn
                    command.upgrade(config, "head")
                    after = self.revision(conn)
        except SQLAlchemyError as exc:
            raise database_error(exc, self.location) from None
        return before, after or ""

    def check_revision(self, conn: Connection) -> None:
        if self._revision_checked:
            return
        revision = self.revision(conn)
        if revision is None:
            raise BookError(f"no book at {describe(self.location)}: create it with boveda init")
        if revision != head_revision():
            raise BookError(
                f"book {describe(self.location)} has schema {revision}, this Bóveda expects {head_revision()}: "
                "run boveda init to migrate it"
            )
        self._revision_checked = True

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[tuple[Connection, AuditHead]]:
        """A transaction holding the writer lock; yields the connection and the locked audit head."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(boveda_write=True)
                with conn.begin():
                    self.check_revision(conn)
                    row = conn.execute(
                        sa.select(s.audit_head.c.seq, s.audit_head.c.hash)
                        .where(s.audit_head.c.id == 1)
                        .with_for_update()
                    ).one()
                    yield conn, AuditHead(row[0], row[1])
        except DBAPIError as exc:
            raise database_error(exc, self.location) from None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction over one consistent snapshot of the book."""
        try:
            with self.engine.connect() as conn:
                if not self.is_sqlite:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    self.check_revision(conn)
                    yield conn
        except DBAPIError as exc:
            raise database_error(exc, self.location) from None


def read_head(conn: Connection) -> AuditHead:
    row = conn.execute(sa.select(s.audit_head.c.seq, s.audit_head.c.hash).where(s.audit_head.c.id == 1)).first()
    return AuditHead(0, GENESIS_HASH) if row is None else AuditHead(row[0], row[1])


class DbState:
    """The rules' view of the book, read from the database inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, table: sa.Table, column: sa.Column, key: Any) -> Any:
        return self.conn.execute(sa.select(table).where(column == key)).first()

    def reserve(self, code: str) -> Reserve | None:
        row = self._one(s.reserves, s.reserves.c.code, code)
        return None if row is None else s.reserve_from_row(row)

    def partner(self, code: str) -> Partner | None:
        row = self._one(s.partners, s.partners.c.code, code)
        return None if row is None else s.partner_from_row(row)

    def agency(self, name: str) -> Agency | None:
        row = self._one(s.agencies, s.agencies.c.name, name)
        return None if row is None else s.agency_from_row(row)

    def case(self, number: str) -> Case | None:
        row = self._one(s.cases, s.cases.c.number, number)
        return None if row is None else s.case_from_row(row)

    def lot(self, lot_id: int) -> Lot | None:
        row = self._one(s.lots, s.lots.c.lot_id, lot_id)
        return None if row is None else s.lot_from_row(row)

    def wallet(self, name: str) -> Wallet | None:
        row = self._one(s.wallets, s.wallets.c.name, name)
        return None if row is None else s.wallet_from_row(row)

    def wallet_with_descriptor(self, descriptor: str) -> Wallet | None:
        row = self._one(s.wallets, s.wallets.c.descriptor, descriptor)
        return None if row is None else s.wallet_from_row(row)

    def balance(self, account: Account) -> int | None:
        return self.conn.execute(
            sa.select(s.balances.c.balance_sat).where(s.balances.c.account == str(account))
        ).scalar()

    def _next(self, column: sa.Column) -> int:
        return (self.conn.execute(sa.select(sa.func.max(column))).scalar() or 0) + 1

    def next_entry_id(self) -> int:
        return self._next(s.entries.c.entry_id)

    def next_lot_id(self) -> int:
        return self._next(s.lots.c.lot_id)

    def next_transition_id(self) -> int:
        return self._next(s.lot_transitions.c.transition_id)

    def entry(self, entry_id: int) -> Entry | None:
        return entry_by_id(self.conn, entry_id)

    def corrections(self, entry_id: int) -> tuple[Entry, ...]:
        ids = self.conn.execute(sa.select(s.entries.c.entry_id).where(s.entries.c.corrects_entry_id == entry_id)
                                .order_by(s.entries.c.entry_id)).scalars().all()
        return tuple(e for e in (entry_by_id(self.conn, i) for i in ids) if e is not None)

    def price(self, currency: str, on: date) -> Price | None:
        row = self.conn.execute(sa.select(s.prices).where(s.prices.c.currency == currency,
                                                          s.prices.c.on_date == on.isoformat())).first()
        return None if row is None else s.price_from_row(row)


def entry_by_id(conn: Connection, entry_id: int) -> Entry | None:
    """One entry with its postings and cited txids, or ``None``."""
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        return None
    row = conn.execute(sa.select(s.entries).where(s.entries.c.entry_id == entry_id)).first()
    if row is None:
        return None
    lines = conn.execute(sa.select(s.postings).where(s.postings.c.entry_id == entry_id)
                         .order_by(s.postings.c.line)).all()
    txids = conn.execute(sa.select(s.entry_txids).where(s.entry_txids.c.entry_id == entry_id)
                         .order_by(s.entry_txids.c.position)).all()
    return s.entry_from_rows(row, list(lines), list(txids))


def write_prices(conn: Connection, prices: tuple[Price, ...]) -> None:
    """Store ``prices``, each replacing the stored price of its day and currency."""
    for price in prices:
        conn.execute(s.prices.delete().where(s.prices.c.on_date == price.on.isoformat(),
                                             s.prices.c.currency == price.currency))
    if prices:
        conn.execute(s.prices.insert(), s.as_dicts(s.prices, [s.price_row(p) for p in prices]))


class RowBatch:
    """New rows grouped by table, flushed with executemany in an order the foreign keys accept."""

    ORDER = (s.reserves, s.partners, s.agencies, s.cases, s.lots, s.entries, s.postings, s.entry_txids,
             s.lot_transitions, s.wallets)

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in self.ORDER}
        self.count = 0

    def add(self, record: object) -> None:
        rows = self.rows
        if isinstance(record, Entry):
            rows["entries"].append(s.entry_row(record))
            rows["postings"].extend(s.posting_rows(record))
            rows["entry_txids"].extend(s.txid_rows(record))
        elif isinstance(record, LotTransition):
            rows["lot_transitions"].append(s.transition_row(record))
        elif isinstance(record, Lot):
            rows["lots"].append(s.lot_row(record))
        elif isinstance(record, Reserve):
            rows["reserves"].append(s.reserve_row(record))
        elif isinstance(record, Partner):
            rows["partners"].append(s.partner_row(record))
        elif isinstance(record, Agency):
            rows["agencies"].append(s.agency_row(record))
        elif isinstance(record, Case):
            rows["cases"].append(s.case_row(record))
        elif isinstance(record, Wallet):
            rows["wallets"].append(s.wallet_row(record))
        else:
            raise TypeError(f"no table for {type(record).__name__}")
        self.count += 1

    def flush(self, conn: Connection) -> None:
        for table in self.ORDER:
            rows = self.rows[table.name]
            if rows:
                conn.execute(table.insert(), s.as_dicts(table, rows))
                rows.clear()
        self.count = 0


def write_effects(conn: Connection, effects: Effects) -> None:
    """Write one event's effects (a command's; bulk paths use :class:`RowBatch`)."""
    batch = RowBatch()
    for record in effects.added:
        batch.add(record)
    batch.flush(conn)
    for lot in effects.lots_changed:
        conn.execute(s.lots.update().where(s.lots.c.lot_id == lot.lot_id).values(state=lot.state.value))
    for balance in effects.balances:
        updated = conn.execute(
            s.balances.update()
            .where(s.balances.c.account == str(balance.account))
            .values(balance_sat=balance.balance_sat)
        )
        if updated.rowcount == 0:
            conn.execute(s.balances.insert().values(account=str(balance.account), balance_sat=balance.balance_sat))
    write_prices(conn, effects.prices)
