"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from _book_fixtures import backend, book_location, postgres_url  # noqa: F401
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from boveda.book import Book, BookError
from boveda.book.schema import BOOK_TABLES, metadata
from boveda.book.store import Store, head_revision
from boveda.labels.tables import LABEL_TABLES

BOOK_TABLE_NAMES = {table.name for table in (*BOOK_TABLES, *LABEL_TABLES)}


def _book_objects_only(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Other layers keep their own tables in the same database and migrations; compare ours."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in BOOK_TABLE_NAMES


def test_migrated_schema_matches_the_declared_tables(book_location: str) -> None:  # noqa: F811
    result = Book.init(book_location)
    assert result.created and result.revision_after == head_revision()
    with Store(book_location) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _book_objects_only})
        assert compare_metadata(context, metadata) == []
        assert conn.execute(sa.text("SELECT id, seq, hash FROM audit_head")).all() == [(1, 0, "0" * 64)]


def test_opening_a_database_without_a_book(book_location: str) -> None:  # noqa: F811
    if "://" in book_location:
        with pytest.raises(BookError, match="no book at .*boveda init"):
            Book.open(book_location).balances()
    else:
        with pytest.raises(BookError, match="no book at .*boveda init"):
            Book.open(book_location)


def test_a_book_from_another_schema_revision_is_refused(book_location: str) -> None:  # noqa: F811
    Book.init(book_location)
    with Store(book_location) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    with Book.open(book_location) as book, pytest.raises(BookError, match="has schema 0000.*run boveda init"):
        book.balances()
