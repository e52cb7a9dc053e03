"""Crash safety and concurrency with real processes, on SQLite and PostgreSQL:

- ``kill -9`` in the middle of ``boveda import`` leaves the book exactly as before;
- two processes writing at once neither corrupt the book nor fork the audit chain, and the
  rules hold across them (no two processes spend the same coins).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _book_fixtures import TESTS_DIR, backend, book_location, cli_command, postgres_url  # noqa: F401

from boveda.book import Account, Book
from boveda.book.synthetic import write_synthetic_export

BIG_ENTRIES = 120_000


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small synthetic book and a large one that extends it (same first events)."""
    folder = tmp_path_factory.mktemp("exports")
    small, big = folder / "small.json", folder / "big.json"
    write_synthetic_export(small, 500)
    write_synthetic_export(big, BIG_ENTRIES)
    return small, big


def test_kill_9_during_import_leaves_the_book_as_it_was(book_location: str, exports: tuple[Path, Path]) -> None:  # noqa: F811
    small, big = exports
    with Book.open(book_location, create=True) as book:
        book.import_file(small)
        head_before, balances_before, lots_before = book.audit_head(), book.balances(), book.lots()
    assert head_before.seq > 500

    process = subprocess.Popen(cli_command("--book", book_location, "import", str(big)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    progress = process.stderr.readline()  # the import has written its first batch of rows, uncommitted
    assert progress.startswith("imported "), progress + process.stderr.read()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    with Book.open(book_location) as book:
        assert book.audit_head() == head_before
        assert book.balances() == balances_before
        assert book.lots() == lots_before
        report = book.verify()
        assert report.ok, report.problems
        assert report.events_checked == head_before.seq


def test_an_import_that_fails_half_way_changes_nothing(book_location: str, tmp_path: Path) -> None:  # noqa: F811
    """A refused event deep in the file rolls back the events applied before it."""
    path = tmp_path / "bad.json"
    write_synthetic_export(path, 30_000)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[25_000] = lines[25_000].replace('"kind":"purchase"', '"kind":"donation"', 1)
    path.write_text("".join(lines), encoding="utf-8")
    with Book.open(book_location, create=True) as book:
        with pytest.raises(Exception, match="does not match its hash"):
            book.import_file(path)
        assert book.audit_head().seq == 0
        assert book.balances() == () and book.lots() == ()


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from boveda.book import Book, BookError
    location, who, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    done = refused = 0
    with Book.open(location) as book:
        for i in range(count):
            txid = f"{who:08x}{i:056x}"
            try:
                if i % 2:
                    book.add_purchase(reserve="SV", amount_sat=1_000_000, txid=txid)
                else:
                    book.add_transfer(from_account="reserve:SV", to_account="external:exchange:kraken",
                                      amount_sat=7_000_000, txid=txid, reason="sale")
                done += 1
            except BookError as exc:
                assert "would go negative" in str(exc), exc
                refused += 1
            time.sleep(0.01)  # a pause between commands, as a real client has
    print(done, refused)
    """
)


@pytest.mark.parametrize("writers", [2])
def test_two_processes_writing_at_once(book_location: str, tmp_path: Path, writers: int) -> None:  # noqa: F811
    count = 60
    Book.init(book_location)
    with Book.open(book_location) as book:
        book.add_reserve("SV", name="El Salvador")
        book.add_purchase(reserve="SV", amount_sat=50_000_000, txid="ff" * 32)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER, book_location, str(who), str(count), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for who in range(1, writers + 1)
    ]
    time.sleep(0.5)  # both are up and waiting
    go.touch()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        results.append(tuple(int(x) for x in out.split()))
    recorded = sum(done for done, _ in results)
    refused = sum(r for _, r in results)
    assert recorded + refused == writers * count
    assert refused > 0  # the sales outran the purchases: the rule had to hold across processes

    with Book.open(book_location) as book:
        report = book.verify()
        assert report.ok, report.problems
        assert report.events_checked == 2 + recorded
        events = list(book.iter_audit_events())
        assert [e.seq for e in events] == list(range(1, 3 + recorded))
        assert all(b.prev_hash == a.hash_hex for a, b in zip(events, events[1:]))
        balance = book.balance("reserve:SV")
        assert balance >= 0
        journal = book.journal()
        assert len(journal) == 1 + recorded
        writers_in_order = [int(e.txids[0][:8], 16) for e in journal[1:]]
        switches = sum(a != b for a, b in zip(writers_in_order, writers_in_order[1:]))
        assert switches >= 2, "the two processes did not write at the same time"
        assert balance == sum(p.amount_sat for e in journal for p in e.postings if p.account == Account.reserve("SV"))
