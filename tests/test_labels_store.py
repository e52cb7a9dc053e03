"""Labels in the book's database, on SQLite and PostgreSQL: a file imported and exported is the same
bytes, a refused file changes nothing, a second import merges as BIP-329 says, lookups find labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from _book_fixtures import backend, book, book_location, postgres_url  # noqa: F401
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_labels_file import ADDRESS, BIP_EXAMPLE, TXID, lines

from boveda.book import Book
from boveda.labels import LabelsError, export_lines, import_labels, labels_for
from boveda.labels.tables import LABEL_TABLES, label_imports, labels

SPARROW = Path(__file__).parent / "data" / "bip329" / "sparrow-export.jsonl"


def exported(opened: Book) -> bytes:
    return "".join(f"{text}\n" for text in export_lines(opened)).encode()


def rows(opened: Book) -> tuple[list, list]:
    with opened.store.read() as conn:
        return (conn.execute(sa.select(labels).order_by(labels.c.id)).all(),
                conn.execute(sa.select(label_imports).order_by(label_imports.c.id)).all())


def write(tmp_path: Path, name: str, *records: dict | str) -> Path:
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_migration_builds_the_declared_label_tables(book_location):  # noqa: F811
    Book.init(book_location)
    names = {table.name for table in LABEL_TABLES}
    with Book.open(book_location) as opened, opened.store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": lambda obj, name,
                                                         type_, *_: (obj if type_ == "table" else obj.table).name
                                                         in names})
        assert compare_metadata(context, labels.metadata) == []


def test_the_bips_own_examples_import_and_export_byte_identically(book):  # noqa: F811
    done = import_labels(book, BIP_EXAMPLE)
    assert (done.records, done.added, done.updated, done.ignored) == (7, 7, 0, ())
    assert exported(book) == BIP_EXAMPLE.read_bytes()
    (_, imports) = rows(book)
    assert [(i.file_sha256, i.records, i.replaced) for i in imports] == [
        ("8ec40a66b72f60c8692056eae5af2dfc1bf4c34b3bf1da5fbda3370f5fad2480", 7, False)]


def test_a_sparrow_export_round_trips_byte_identically_but_for_the_types_the_bip_does_not_define(book):  # noqa: F811
    done = import_labels(book, SPARROW)
    assert [(i.line_number, i.kind) for i in done.ignored] == [(9, "spscan")]
    expected = [text for text in SPARROW.read_text(encoding="utf-8").splitlines() if '"type":"spscan"' not in text]
    assert exported(book).decode().splitlines() == expected
    assert labels_for(book, [TXID, ADDRESS.upper(), f"{TXID}:1"]) == {
        TXID: "Payroll; Payroll, seen from account 1", ADDRESS.upper(): "Cold storage", f"{TXID}:1": "frozen coin"}


def test_a_refused_file_imports_nothing_and_leaves_the_tables_as_they_were(book, tmp_path):  # noqa: F811
    import_labels(book, BIP_EXAMPLE)
    before = rows(book)
    bad = write(tmp_path, "bad.jsonl", {"type": "tx", "ref": TXID, "label": "new"},
                {"type": "addr", "ref": ADDRESS, "label": "renamed"}, {"type": "output", "ref": TXID, "spendable": True})
    for replace in (False, True):
        with pytest.raises(LabelsError, match=r"bad.jsonl refused \(1 bad line\), no label imported: line 3: an output "
                                              r"ref is TXID:INDEX"):
            import_labels(book, bad, replace=replace)
        assert rows(book) == before


def test_a_second_import_updates_what_it_gives_and_keeps_what_it_omits(book, tmp_path):  # noqa: F811
    import_labels(book, BIP_EXAMPLE)
    output = f"{TXID}:1"
    second = write(tmp_path, "second.jsonl", {"type": "output", "ref": output, "label": "Renamed"},
                   {"type": "addr", "ref": ADDRESS, "label": "Address 2"},
                   {"type": "tx", "ref": TXID, "label": "No origin"})
    done = import_labels(book, second)
    assert (done.added, done.updated) == (1, 2)
    lines_now = exported(book).decode().splitlines()
    assert lines_now[4] == f'{{"type":"output","ref":"{output}","label":"Renamed","spendable":false}}'
    assert lines_now[1] == json.dumps({"type": "addr", "ref": ADDRESS, "label": "Address 2"})
    assert lines_now[7] == json.dumps({"type": "tx", "ref": TXID, "label": "No origin"})  # another wallet: a new label
    assert labels_for(book, [output, TXID]) == {output: "Renamed", TXID: "Transaction; No origin"}
    with book.store.read() as conn:
        assert conn.execute(sa.select(labels.c.spendable).where(labels.c.ref_key == output)).scalar() is False


def test_replace_starts_from_no_labels(book, tmp_path):  # noqa: F811
    import_labels(book, BIP_EXAMPLE)
    done = import_labels(book, write(tmp_path, "one.jsonl", {"type": "addr", "ref": ADDRESS, "label": "only"}),
                         replace=True)
    assert (done.removed, done.added) == (7, 1)
    assert exported(book) == (json.dumps({"type": "addr", "ref": ADDRESS, "label": "only"}) + "\n").encode()


def test_labels_for_finds_nothing_for_unlabelled_or_empty_labels(book, tmp_path):  # noqa: F811
    import_labels(book, write(tmp_path, "empty.jsonl", {"type": "tx", "ref": TXID, "label": ""},
                              {"type": "addr", "ref": ADDRESS}))
    assert labels_for(book, [TXID, ADDRESS, "bc1qunknown"]) == {}
    assert labels_for(book, []) == {}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=st.lists(lines(), max_size=6))
def test_any_valid_file_without_repeats_exports_as_the_same_bytes(book, tmp_path, written):  # noqa: F811
    seen, unique = set(), []
    for record, text in written:
        key = (record["type"], record["ref"].lower(), record.get("origin", ""))
        if key not in seen:
            seen.add(key)
            unique.append(text)
    path = tmp_path / "random.jsonl"
    path.write_bytes("".join(f"{text}\n" for text in unique).encode())
    import_labels(book, path, replace=True)
    assert exported(book) == path.read_bytes()
