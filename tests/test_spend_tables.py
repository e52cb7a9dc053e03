"""Migration 0006 builds exactly the spend tables the code declares, on SQLite and PostgreSQL, and a
proposal's rows go and come back through the projection's codec."""

from __future__ import annotations

from _book_fixtures import backend, book_location, postgres_url  # noqa: F401
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from boveda.book import Book
from boveda.book.schema import metadata
from boveda.book.spend_events import PolicySet, SpendProposed
from boveda.book.store import Store
from boveda.spend import store
from boveda.spend.model import ProposalState
from boveda.spend.tables import SPEND_TABLES

NAMES = {table.name for table in SPEND_TABLES}


def _spend_objects_only(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in NAMES


def test_migration_0006_builds_the_declared_spend_tables(book_location: str) -> None:  # noqa: F811
    Book.init(book_location)
    with Store(book_location) as opened, opened.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _spend_objects_only})
        assert compare_metadata(context, metadata) == []


def test_a_recorded_proposal_reads_back_as_it_was_projected(book_location: str) -> None:  # noqa: F811
    Book.init(book_location)
    key = "02" + "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    proposed = SpendProposed(1, "reserve:R", "cold", "restitution", "O", 3, "external:victims", 5, 1, "aa" * 32,
                             "bb" * 32, "cHNidP8=", ("aa" * 32 + ":0", "bb" * 32 + ":1"), "0014" + "00" * 20)
    with Book.open(book_location) as book:
        book.add_reserve("R", name="Reserve")
        with book.atomic() as conn:
            store.record(book, conn, PolicySet("reserve:R", 1, (("alice", key),)))
            store.record(book, conn, proposed)
        with book.store.read() as conn:
            record = store.proposal(conn, 1)
            assert store.policy(conn, "reserve:R").approvers == (("alice", key),)
            assert store.reserved(conn) == ({"aa" * 32 + ":0", "bb" * 32 + ":1"}, {bytes.fromhex("0014" + "00" * 20)})
        assert record.state is ProposalState.PROPOSED and record.lot_id == 3 and record.inputs == proposed.inputs
        assert book.verify().ok
