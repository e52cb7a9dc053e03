"""Who did what: an event recorded with an operator (and approver) hashes them, so they cannot be changed
unseen; an event without one — every event of a book written before operators existed — keeps its hash
and still verifies; a PostgreSQL book refuses a change that names no operator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _book_fixtures import StepClock, backend, book, book_location, postgres_url, run_cli, txid  # noqa: F401
from click.testing import CliRunner
from test_book_audit import raw_sql

from boveda.book import Book, BookError
from boveda.book.audit import event_hash
from boveda.book.operators import os_user


def _old_rule_hash(event) -> str:  # type: ignore[no-untyped-def]
    """The hash rule of books written before schema 0005: no operator, no approver."""
    return event_hash(event.seq, event.kind, event.recorded_at, event.payload_json, event.prev_hash)


def test_an_event_without_operator_keeps_the_old_hash_rule(book: Book) -> None:  # noqa: F811
    book.add_reserve("SV", name="El Salvador")
    (event,) = book.iter_audit_events()
    assert event.operator is None and event.hash_hex == _old_rule_hash(event)
    book.operator, book.approved_by = "ana", "luis"
    book.add_purchase(reserve="SV", amount_sat=1, txid=txid(1), date="2025-03-01")
    old, new = book.iter_audit_events()
    assert (new.operator, new.approved_by) == ("ana", "luis")
    assert new.hash_hex != _old_rule_hash(new)  # the operator and approver are in the hash
    assert new.to_json()["operator"] == "ana" and "operator" not in old.to_json()
    assert book.verify().ok


@pytest.mark.parametrize("column,value", [("operator", "mallory"), ("approved_by", "mallory"),
                                           ("operator", None)])
def test_changing_who_did_it_breaks_the_chain(book: Book, column: str, value: str | None) -> None:  # noqa: F811
    book.operator, book.approved_by = "ana", "luis"
    book.add_reserve("SV", name="El Salvador")
    book.add_reserve("GT", name="Guatemala")
    if value is None:
        raw_sql(book.store.location, f"UPDATE audit_events SET {column} = NULL, approved_by = NULL WHERE seq = 1")
    else:
        raw_sql(book.store.location, f"UPDATE audit_events SET {column} = ? WHERE seq = 1", params=(value,))
    report = book.verify()
    assert report.first_bad_seq == 1 and "was altered" in report.problems[0].message


def test_an_old_export_without_operators_imports_verifies_and_exports_unchanged(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    Book.init(str(old))
    with Book.open(str(old), clock=StepClock()) as old_book:  # as a book written before 0005: no operator anywhere
        old_book.add_reserve("SV", name="El Salvador")
        old_book.add_purchase(reserve="SV", amount_sat=5, txid=txid(2), date="2025-03-01")
        first = tmp_path / "v1.json"
        old_book.export(first)
    text = first.read_text(encoding="utf-8")
    assert '"version":1' in text and "operator" not in text
    copy = tmp_path / "copy.db"
    with Book.open(str(copy), create=True) as other:
        other.import_file(first)
        assert other.verify().ok
        again = tmp_path / "again.json"
        other.export(again)
    assert again.read_text(encoding="utf-8") == text


def test_an_approver_needs_an_operator_and_is_someone_else(book: Book) -> None:  # noqa: F811
    head = book.audit_head()
    book.approved_by = "luis"
    with pytest.raises(BookError, match="an approver .* beside the operator"):
        book.add_reserve("SV", name="El Salvador")
    book.operator = "luis"
    with pytest.raises(BookError, match="luis cannot approve their own change"):
        book.add_reserve("SV", name="El Salvador")
    assert book.audit_head() == head


def test_a_sqlite_book_defaults_to_the_os_user(tmp_path: Path) -> None:
    location = str(tmp_path / "b.db")
    Book.init(location)
    with Book.open(location, operator_required=True) as opened:
        opened.add_reserve("SV", name="El Salvador")
        (event,) = opened.iter_audit_events()
    assert event.operator == os_user() and event.operator


@pytest.mark.postgres
def test_a_postgresql_book_refuses_a_change_without_an_operator(postgres_url: str) -> None:  # noqa: F811
    Book.init(postgres_url)
    with Book.open(postgres_url, operator_required=True) as opened:
        head = opened.audit_head()
        with pytest.raises(BookError, match="PostgreSQL book records who makes every change: name yourself with "
                                            "--by NAME"):
            opened.add_reserve("SV", name="El Salvador")
        assert opened.audit_head() == head and opened.reserves() == ()
    from boveda.cli.main import cli

    runner = CliRunner(env={"BOVEDA_OPERATOR": None})
    refused = runner.invoke(cli, ["--book", postgres_url, "reserve", "add", "SV", "--name", "El Salvador"])
    assert refused.exit_code == 2 and "--by NAME" in refused.output
    done = runner.invoke(cli, ["--book", postgres_url, "--by", "ana", "reserve", "add", "SV", "--name", "El Salvador",
                               "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"reserve": "SV"}
    by_env = CliRunner(env={"BOVEDA_OPERATOR": "luis"}).invoke(cli, ["--book", postgres_url, "partner", "add", "DE",
                                                                     "--name", "Germany"])
    assert by_env.exit_code == 0, by_env.output
    with Book.open(postgres_url) as reopened:
        assert [e.operator for e in reopened.iter_audit_events()] == ["ana", "luis"]
        assert reopened.verify().ok


def test_a_book_migrated_from_before_operators_still_verifies(tmp_path: Path) -> None:
    """A schema-0004 book, its one event hashed by the old rule, migrated by `boveda init`: it verifies, and
    the next event (with its operator) chains onto it."""
    from alembic import command

    from boveda.book.store import Store, _alembic_config

    location = str(tmp_path / "old.db")
    with Store(location, create=True) as store, store.engine.connect() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        payload = '{"address_cap_sat":null,"code":"SV","name":"El Salvador","no_sale":false}'
        at = "2025-03-06T12:00:01.000000Z"
        digest = event_hash(1, "reserve.added", at, payload, "0" * 64)
        conn.exec_driver_sql("INSERT INTO audit_events VALUES (1, 'reserve.added', ?, ?, ?, ?)",
                             (at, payload, "0" * 64, digest))
        conn.exec_driver_sql("INSERT INTO reserves VALUES ('SV', 'El Salvador', 0, NULL)")
        conn.exec_driver_sql("UPDATE audit_head SET seq = 1, hash = ? WHERE id = 1", (digest,))
        conn.commit()
    assert Book.init(location).revision_before == "0004"
    with Book.open(location, operator="ana") as migrated:
        assert migrated.verify().ok
        migrated.add_partner("DE", name="Germany")
        first, second = migrated.iter_audit_events()
        assert (first.operator, first.hash_hex, second.operator, second.prev_hash) == (None, digest, "ana", digest)
        assert migrated.verify().ok
