"""The site's handle on the book: read-only by construction, whatever a route might try.

SQLite is opened with ``mode=ro`` (the driver refuses every write, and ``query_only`` refuses them
again inside SQLite); PostgreSQL sessions start with every transaction READ ONLY. No route writes,
and a write through this handle fails in the database itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from boveda.book import Book
from boveda.book.errors import BookError
from boveda.book.store import SQLITE_BUSY_TIMEOUT_S, Store, describe

SQLITE_READ_TIMEOUT_S = 5  # a reader waits this long at most behind a checkpoint; never the writer's 120 s


class ReadOnlyStore(Store):
    """A :class:`Store` whose engine cannot write (its write() fails at the database, like any write)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)  # checks the location and that a SQLite file exists; connects to nothing
        self.engine.dispose()
        self.engine = _readonly_engine(self.url, self.is_sqlite)


def _readonly_engine(url: sa.URL, is_sqlite: bool) -> Engine:
    if is_sqlite:
        path = Path(url.database or "").resolve()
        # SQLAlchemy passes `uri=true` on; the driver then reads `mode=ro` from the file: URI.
        engine = sa.create_engine(f"sqlite:///file:{path.as_posix()}?mode=ro&uri=true",
                                  connect_args={"timeout": min(SQLITE_BUSY_TIMEOUT_S, SQLITE_READ_TIMEOUT_S),
                                                "check_same_thread": False})

        @sa_event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN: one snapshot per read transaction
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)

    @sa_event.listens_for(engine, "connect")
    def _pg_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        dbapi_connection.autocommit = autocommit

    return engine


def open_readonly(location: str) -> Book:
    """The book at `location` (a SQLite path or a postgresql:// URL), for reading only."""
    try:
        return Book(ReadOnlyStore(location))
    except SQLAlchemyError as exc:  # a driver refusing the URL, say
        raise BookError(f"cannot open the book {describe(location)} read-only: {exc}") from None
