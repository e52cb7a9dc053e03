"""Export → import round-trips exactly (balances, lots, journal, audit head), on both databases and
across them; imports refuse altered, forged, diverging or truncated files and change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _book_fixtures import (  # noqa: F401  (fixtures)
    BookTemplates,
    StepClock,
    _book_templates,
    backend,
    book,
    book_location,
    book_templates,
    populate,
    postgres_url,
    run_cli,
    snapshot,
    txid,
)

from boveda.book import Book, BookError
from boveda.book.audit import canonical_json, event_hash


@pytest.fixture
def populated(backend: str, book_templates: BookTemplates, tmp_path: Path) -> Iterator[Book]:  # noqa: F811
    location = book_templates.clone(backend, "populated", populate, tmp_path)
    with Book.open(location, clock=StepClock()) as opened:
        yield opened


def _exported(book: Book, path: Path) -> Path:
    book.export(path)
    return path


def test_export_then_import_into_an_empty_book_is_identical(populated: Book, book: Book, tmp_path: Path) -> None:  # noqa: F811
    path = _exported(populated, tmp_path / "book.json")
    result = book.import_file(path)
    assert result.events_applied == result.events_in_file == 12
    assert snapshot(book) == snapshot(populated)
    assert book.verify().ok


def test_round_trip_through_the_cli(populated: Book, tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    exported = run_cli(populated.store.location, "export", str(path))
    assert exported.exit_code == 0 and "exported 12 events" in exported.stdout
    copy = str(tmp_path / "copy.db")
    imported = run_cli(copy, "import", str(path))  # creates the book
    assert imported.exit_code == 0, imported.output
    assert "imported 12 of 12 events" in imported.stdout
    with Book.open(copy) as book:
        assert snapshot(book) == snapshot(populated)
    for listing in ("balances", "lots", "journal"):
        assert run_cli(copy, listing, "--json").stdout == run_cli(populated.store.location, listing, "--json").stdout
    assert run_cli(copy, "audit", "head").stdout == run_cli(populated.store.location, "audit", "head").stdout


def test_round_trip_across_databases(populated: Book, tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    """SQLite → PostgreSQL and PostgreSQL → SQLite give the same book."""
    path = _exported(populated, tmp_path / "book.json")
    other = str(tmp_path / "other.db") if "://" in populated.store.location else postgres_url
    with Book.open(other, create=True) as book:
        book.import_file(path)
        assert snapshot(book) == snapshot(populated)
        again = book.export(tmp_path / "again.json")
    assert again == populated.audit_head()
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_import_extends_a_book_whose_log_is_a_prefix(populated: Book, book: Book, tmp_path: Path) -> None:  # noqa: F811
    early = _exported(populated, tmp_path / "early.json")
    book.import_file(early)
    populated.add_purchase(reserve="SV", amount_sat=5_000, txid=txid(77))
    populated.add_reserve("MX", name="Mexico")
    late = _exported(populated, tmp_path / "late.json")
    result = book.import_file(late)
    assert (result.events_in_file, result.events_applied) == (14, 2)
    assert snapshot(book) == snapshot(populated)
    assert book.import_file(late).events_applied == 0  # importing again is a no-op


def test_import_refuses_a_diverging_history(populated: Book, book: Book, tmp_path: Path) -> None:  # noqa: F811
    path = _exported(populated, tmp_path / "book.json")
    book.add_reserve("SV", name="Another El Salvador")
    before = snapshot(book)
    with pytest.raises(BookError, match="history differs from this book's at event 1"):
        book.import_file(path)
    assert snapshot(book) == before


def test_import_refuses_a_file_behind_the_book(populated: Book, book: Book, tmp_path: Path) -> None:  # noqa: F811
    path = _exported(populated, tmp_path / "book.json")
    book.import_file(path)
    book.add_reserve("MX", name="Mexico")
    before = snapshot(book)
    with pytest.raises(BookError, match="does not extend this book"):
        book.import_file(path)
    assert snapshot(book) == before


def _events(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _rechain(document: dict) -> None:
    """Recompute every hash, as a forger would, so that only the rules can catch the forgery."""
    prev = "0" * 64
    for event in document["events"]:
        event["prev_hash"] = prev
        event["hash"] = prev = event_hash(event["seq"], event["kind"], event["recorded_at"],
                                          canonical_json(event["payload"]), prev)
    document["head"]["hash"] = prev


@pytest.mark.parametrize(
    ("forge", "match"),
    [
        (lambda d: d["events"][4]["payload"]["postings"][1].__setitem__(1, 150_000_001), "does not match its hash"),
        (lambda d: d["events"].pop(3), "seq 5"),
        (lambda d: d["events"][6].__setitem__("prev_hash", "1" * 64), "does not link"),
    ],
    ids=["edited amount", "missing event", "broken link"],
)
def test_import_refuses_an_altered_file(populated: Book, book: Book, tmp_path: Path, forge, match: str) -> None:  # noqa: F811
    document = _events(_exported(populated, tmp_path / "book.json"))
    forge(document)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BookError, match=match):
        book.import_file(path)
    assert book.audit_head().seq == 0 and book.balances() == ()


@pytest.mark.parametrize(
    ("forge", "match"),
    [
        # a sale out of the no-sale reserve, disguised by rewriting the fee entry (event 11)
        (lambda d: d["events"][10]["payload"].update(
            kind="sale", postings=[["reserve:US-SBR", -1000], ["external:exchange:kraken", 1000]]), "no-sale"),
        # the sharing event claims the partner got 75 % while the transition says 25 %
        (lambda d: d["events"][8]["payload"]["entry"]["postings"][1].__setitem__(1, 750_000_000),
         "does not match the transition"),
        # forfeiture_pending skipped: event 7 takes the seized lot straight to forfeited
        (lambda d: d["events"][6]["payload"]["transition"].update(to="forfeited"),
         "must become forfeiture_pending before forfeited"),
        (lambda d: d["events"][4]["payload"].__setitem__("postings", [["external:exchange:x", -1.5],
                                                                       ["reserve:SV", 1.5]]), "floating-point"),
    ],
    ids=["sale from no-sale reserve", "entry disagrees with transition", "skipped state", "float"],
)
def test_import_replays_the_rules_on_a_rechained_forgery(populated: Book, book: Book, tmp_path: Path, forge,  # noqa: F811
                                                         match: str) -> None:
    document = _events(_exported(populated, tmp_path / "book.json"))
    forge(document)
    try:
        _rechain(document)
    except BookError as exc:  # canonical JSON already refuses floats
        assert match in str(exc)
        return
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BookError, match=match):
        book.import_file(path)
    assert book.audit_head().seq == 0 and book.balances() == ()


def test_import_reads_any_equivalent_json(populated: Book, book: Book, tmp_path: Path) -> None:  # noqa: F811
    document = _events(_exported(populated, tmp_path / "book.json"))
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps(document, indent=4, sort_keys=False), encoding="utf-8")
    book.import_file(path)
    assert snapshot(book) == snapshot(populated)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json at all", "is not JSON"),
        ('{"events":[\n', "ends before the export does"),
        ('{"format": "something-else", "version": 1, "events": [], "head": {"seq": 0, "hash": ""}}',
         "is not a boveda-book export"),
    ],
)
def test_import_refuses_files_that_are_not_exports(book: Book, tmp_path: Path, content: str, match: str) -> None:  # noqa: F811
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BookError, match=match):
        book.import_file(path)
    result = run_cli(book.store.location, "import", str(path))
    assert result.exit_code == 2 and match in result.stderr
