"""The audit log: any single row edited, deleted, inserted or reordered by raw SQL behind the
tool's back is found by ``audit verify``, which names the first bad event. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sqlite3
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
)

from boveda.book import Book
from boveda.book.audit import canonical_json, event_hash


def raw_sql(location: str, *statements: str, params: tuple[object, ...] = ()) -> int:
    """Run statements on the book's database directly, as an intruder would; return rows changed."""
    changed = 0
    if "://" in location:
        import psycopg

        with psycopg.connect(location.replace("postgresql+psycopg://", "postgresql://")) as conn:
            for statement in statements:
                changed += conn.execute(statement.replace("?", "%s"), params).rowcount
    else:
        conn = sqlite3.connect(location)
        try:
            for statement in statements:
                changed += conn.execute(statement, params).rowcount
            conn.commit()
        finally:
            conn.close()
    return changed


@pytest.fixture
def populated(backend: str, book_templates: BookTemplates, tmp_path: Path) -> Iterator[Book]:  # noqa: F811
    """A copy of the :func:`populate` book (12 events, one of every kind) in its own database.

    Events: 1 reserve SV, 2 reserve US-SBR, 3 partner DE, 4 case, 5 purchase (entry 1),
    6 seizure (lot 1, entry 2), 7 forfeiture_pending, 8 forfeited, 9 sharing 25 % to DE
    (entry 3, remainder lot 2), 10 lot 2 to US-SBR (entry 4), 11 fee (entry 5), 12 wallet.
    """
    location = book_templates.clone(backend, "populated", populate, tmp_path)
    with Book.open(location, clock=StepClock()) as opened:
        yield opened


def test_an_untouched_book_verifies(populated: Book) -> None:
    report = populated.verify()
    assert report.ok, report.problems
    assert report.events_checked == 12
    assert report.head == populated.audit_head()


def test_an_empty_book_verifies(book: Book) -> None:  # noqa: F811
    report = book.verify()
    assert report.ok and report.events_checked == 0 and report.head.hash_hex == "0" * 64


TAMPERING: list[tuple[str, list[str], int | None, str]] = [
    # the log itself
    ("edit an event's payload",
     ["UPDATE audit_events SET payload = REPLACE(payload, '150000000', '150000001') WHERE seq = 5"],
     5, "event 5 (entry.recorded) was altered"),
    ("edit an event's time", ["UPDATE audit_events SET recorded_at = '2020-01-01T00:00:00.000000Z' WHERE seq = 3"],
     3, "event 3 (partner.added) was altered"),
    ("edit an event's hash", ["UPDATE audit_events SET hash = '" + "1" * 64 + "' WHERE seq = 7"],
     7, "event 7 (lot.transitioned) was altered"),
    ("edit an event's kind", ["UPDATE audit_events SET kind = 'partner.added' WHERE seq = 1"], 1, "event 1"),
    ("delete an event", ["DELETE FROM audit_events WHERE seq = 6"], 6, "event 6 is missing"),
    ("delete the first event", ["DELETE FROM audit_events WHERE seq = 1"], 1, "event 1 is missing"),
    ("delete the last event", ["DELETE FROM audit_events WHERE seq = 12"], 12, "event 12"),
    ("insert a garbage event",
     ["INSERT INTO audit_events (seq, kind, recorded_at, payload, prev_hash, hash) VALUES (13, 'reserve.added', 'x', '{}', '" + "0" * 64 + "', '" + "0" * 64 + "')"],
     13, "event 13"),
    ("reorder two events",
     ["UPDATE audit_events SET seq = 1000 WHERE seq = 3", "UPDATE audit_events SET seq = 3 WHERE seq = 4",
      "UPDATE audit_events SET seq = 4 WHERE seq = 1000"],
     3, "event 3"),
    ("move the head", ["UPDATE audit_head SET hash = '" + "2" * 64 + "'"], 12, "head"),
    # the journal
    ("edit a posting's amount", ["UPDATE postings SET amount_sat = amount_sat + 1 WHERE entry_id = 1 AND line = 1"],
     5, "row postings[1, 1] differs from the audit log: amount_sat is 150000001, the log says 150000000"),
    ("move a posting to another account",
     ["UPDATE postings SET account = 'reserve:US-SBR' WHERE entry_id = 1 AND line = 1"], 5, "postings[1, 1] differs"),
    ("delete a posting", ["DELETE FROM postings WHERE entry_id = 3 AND line = 0"], 9, "row postings[3, 0] is missing"),
    ("insert a posting", ["INSERT INTO postings VALUES (1, 2, 'reserve:SV', 5)"], 6,
     "row postings[1, 2] is not in the audit log"),
    ("insert a posting after the last", ["INSERT INTO postings VALUES (5, 7, 'reserve:SV', 5)"], None,
     "row postings[5, 7] is not in the audit log"),
    ("edit an entry's kind", ["UPDATE entries SET kind = 'donation' WHERE entry_id = 1"], 5,
     "kind is 'donation', the log says 'purchase'"),
    ("edit an entry's date", ["UPDATE entries SET effective_date = '2024-01-01' WHERE entry_id = 5"], 11,
     "row entries[5] differs"),
    ("edit an entry's authority", ["UPDATE entries SET authority_ref = 'forged' WHERE entry_id = 4"], 10,
     "row entries[4] differs"),
    ("edit a cited txid", ["UPDATE entry_txids SET txid = '" + "f" * 64 + "' WHERE entry_id = 1"], 5,
     "row entry_txids[1, 0] differs"),
    ("delete a cited txid", ["DELETE FROM entry_txids WHERE entry_id = 2"], 6, "entry_txids[2, 0] is missing"),
    # lots and their lifecycle
    ("edit a lot's state", ["UPDATE lots SET state = 'forfeited' WHERE lot_id = 1"], 9,
     "row lots[1] differs from the audit log: state is 'forfeited', the log says 'allocated:sharing'"),
    ("edit a lot's amount", ["UPDATE lots SET amount_sat = 1 WHERE lot_id = 2"], 10, "row lots[2] differs"),
    ("edit a transition's order", ["UPDATE lot_transitions SET authority_ref = 'forged' WHERE transition_id = 2"], 8,
     "row lot_transitions[2] differs"),
    ("delete a transition", ["DELETE FROM lot_transitions WHERE transition_id = 1"], 7,
     "row lot_transitions[1] is missing"),
    # registries and cached balances
    ("lift a no-sale policy", ["UPDATE reserves SET no_sale = false WHERE code = 'US-SBR'"], 2,
     "row reserves['US-SBR'] differs"),
    ("insert a reserve", ["INSERT INTO reserves VALUES ('MX', 'Mexico', false, NULL)"], None,
     "row reserves['MX'] is not in the audit log"),
    ("delete a reserve", ["DELETE FROM reserves WHERE code = 'SV'"], 1, "row reserves['SV'] is missing"),
    ("rename a partner", ["UPDATE partners SET name = 'France' WHERE code = 'DE'"], 3, "row partners['DE'] differs"),
    ("edit a case's court", ["UPDATE cases SET court = 'S.D.N.Y.'"], 4, "row cases['1:21-cr-00399'] differs"),
    ("edit a wallet's descriptor", ["UPDATE wallets SET descriptor = 'raw(00)#qwfjgwf6'"], 12,
     "row wallets['sv-cold'] differs"),
    ("edit a cached balance", ["UPDATE balances SET balance_sat = balance_sat + 100000000 WHERE account = 'reserve:SV'"],
     11, "row balances['reserve:SV'] differs"),
    ("delete a cached balance", ["DELETE FROM balances WHERE account = 'partner:DE'"], 9,
     "row balances['partner:DE'] is missing"),
]


@pytest.mark.parametrize(("statements", "first_bad_seq", "message"),
                         [pytest.param(st, seq, msg, id=name) for name, st, seq, msg in TAMPERING])
def test_tampering_is_found(populated: Book, statements: list[str], first_bad_seq: int | None, message: str) -> None:
    assert populated.verify().ok
    assert raw_sql(populated.store.location, *statements) >= 1
    report = populated.verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad_seq, report.problems
    assert any(message in p.message for p in report.problems), report.problems

    result = run_cli(populated.store.location, "audit", "verify")
    assert result.exit_code == 1
    assert "audit verify failed" in result.stderr
    if first_bad_seq is not None:
        assert f"first bad event: {first_bad_seq}" in result.stderr


def test_a_well_formed_event_appended_behind_the_tools_back_is_found(populated: Book) -> None:
    head = populated.audit_head()
    payload = canonical_json({"code": "MX", "name": "Mexico", "no_sale": False, "address_cap_sat": None})
    at = "2025-03-07T00:00:00.000000Z"
    forged = event_hash(head.seq + 1, "reserve.added", at, payload, head.hash_hex)
    raw_sql(populated.store.location, "INSERT INTO audit_events (seq, kind, recorded_at, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
            params=(head.seq + 1, "reserve.added", at, payload, head.hash_hex, forged))
    report = populated.verify()
    assert not report.ok
    assert report.first_bad_seq == 13
    assert any("row reserves['MX'] is missing" in p.message for p in report.problems)


def test_a_rewritten_tail_is_found_against_a_published_head(populated: Book) -> None:
    published = populated.audit_head().hash_hex
    # An intruder removes the last event and its row, and moves the head back: the log is
    # self-consistent again, but no longer contains the head that was published.
    previous = populated.verify()
    assert previous.ok
    location = populated.store.location
    raw_sql(location, "DELETE FROM wallets", "DELETE FROM audit_events WHERE seq = 12")
    row = populated.verify().head
    raw_sql(location, "UPDATE audit_head SET seq = ?, hash = ?", params=(row.seq, row.hash_hex))
    assert populated.verify().ok
    report = populated.verify(expected_head=published)
    assert not report.ok
    assert "published head" in report.problems[0].message
    result = run_cli(location, "audit", "verify", "--expect-head", published)
    assert result.exit_code == 1


def test_verify_json(populated: Book) -> None:
    raw_sql(populated.store.location, "UPDATE lots SET state = 'forfeited' WHERE lot_id = 1")
    result = run_cli(populated.store.location, "audit", "verify", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["first_bad_seq"] == 9
    assert document["events_checked"] == 12
    ok = run_cli(populated.store.location, "audit", "head", "--json")
    assert json.loads(ok.stdout) == {"seq": 12, "hash": populated.audit_head().hash_hex}


def test_anyone_can_recompute_the_chain_from_an_export(populated: Book, tmp_path: Path) -> None:
    """The hash is SHA-256 over plain sorted-key JSON of the event with its previous hash."""
    path = tmp_path / "book.json"
    populated.export(path)
    document = json.loads(path.read_text(encoding="utf-8"))
    prev = "0" * 64
    for event in document["events"]:
        body = {k: event[k] for k in ("seq", "kind", "recorded_at", "payload")}
        body["prev_hash"] = prev
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == event["hash"]
        prev = event["hash"]
    assert prev == document["head"]["hash"] == populated.audit_head().hash_hex


def test_the_audit_log_refuses_floats() -> None:
    with pytest.raises(Exception, match="floating-point"):
        canonical_json({"amount": 1.5})


def test_every_change_appends_exactly_one_event_in_the_same_transaction(book: Book) -> None:  # noqa: F811
    book.add_reserve("SV", name="El Salvador")
    events = list(book.iter_audit_events())
    assert [(e.seq, e.kind) for e in events] == [(1, "reserve.added")]
    assert events[0].prev_hash == "0" * 64
    assert json.loads(events[0].payload_json) == {"code": "SV", "name": "El Salvador", "no_sale": False,
                                                  "address_cap_sat": None}
    assert book.audit_head().hash_hex == events[0].hash_hex


def test_audit_export_lists_events(populated: Book) -> None:
    text = run_cli(populated.store.location, "audit", "export")
    assert text.exit_code == 0 and len(text.stdout.splitlines()) == 12
    document = run_cli(populated.store.location, "audit", "export", "--json")
    parsed = json.loads(document.stdout)
    assert [e["seq"] for e in parsed["events"]] == list(range(1, 13))
    assert parsed["head"]["hash"] == populated.audit_head().hash_hex
