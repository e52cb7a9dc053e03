"""Benchmark of the book: import, balances and `audit verify` of 1,000,000 journal entries, on
SQLite and PostgreSQL in the same run, with PostgreSQL's times as a ratio of SQLite's.

    .venv/bin/python bench/book.py                    # 1,000,000 entries (a few minutes)
    .venv/bin/python bench/book.py --entries 50000    # a quick run

The synthetic book (boveda.book.synthetic: purchases, sales, fees, transfers, and a lot seized,
forfeited and allocated every 5,000 entries) is written once as an export file and cached in
bench/.cache/. Each database starts empty: a new SQLite file, a new PostgreSQL database
(dropped afterwards). "balances (cached)" reads the balances table the book keeps;
"balances (from postings)" sums every posting in SQL, as an auditor would.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from boveda.book import Book
from boveda.book.synthetic import write_synthetic_export

CACHE = Path(__file__).resolve().parent / ".cache"
DEFAULT_ADMIN_URL = os.environ.get("BOVEDA_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
STEPS = ("import", "balances (cached)", "balances (from postings)", "audit verify")


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def export_file(entries: int) -> Path:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"book-{entries}.json"
    if not path.exists():
        print(f"writing a synthetic book of {entries:,} entries to {path} …", flush=True)
        seconds, head = timed(lambda: write_synthetic_export(path.with_suffix(".tmp"), entries))
        path.with_suffix(".tmp").rename(path)
        print(f"  {head.seq:,} events in {seconds:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    return path


def balances_from_postings(book: Book) -> list[tuple[str, int]]:
    query = sa.text("SELECT account, SUM(amount_sat) FROM postings GROUP BY account ORDER BY account")
    with book.store.read() as conn:
        return [(account, int(total)) for account, total in conn.execute(query)]


def run(location: str, path: Path, label: str) -> dict[str, float]:
    print(f"{label}: {location}", flush=True)
    Book.init(location)
    results: dict[str, float] = {}
    with Book.open(location) as book:
        results["import"], imported = timed(lambda: book.import_file(path))
        print(f"  import                    {results['import']:8.2f} s  ({imported.events_applied:,} events, "
              f"{imported.events_applied / results['import']:,.0f}/s)", flush=True)
        results["balances (cached)"], cached = timed(book.balances)
        results["balances (from postings)"], summed = timed(lambda: balances_from_postings(book))
        assert [(str(b.account), b.balance_sat) for b in cached] == summed, "cached balances disagree with postings"
        print(f"  balances (cached)         {results['balances (cached)']:8.3f} s  ({len(cached)} accounts)")
        print(f"  balances (from postings)  {results['balances (from postings)']:8.3f} s")
        results["audit verify"], report = timed(book.verify)
        if not report.ok:
            raise SystemExit(f"audit verify failed on {label}: {report.problems[0].message}")
        print(f"  audit verify              {results['audit verify']:8.2f} s  ({report.events_checked:,} events, "
              f"{report.events_checked / results['audit verify']:,.0f}/s) — ok", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="journal entries (default 1,000,000)")
    parser.add_argument("--postgres", default=DEFAULT_ADMIN_URL,
                        help="a PostgreSQL URL whose server may create and drop a database (default %(default)s)")
    args = parser.parse_args()
    path = export_file(args.entries)

    import psycopg

    try:
        psycopg.connect(args.postgres, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise SystemExit(f"PostgreSQL at {args.postgres} is unreachable: {exc}") from None

    with tempfile.TemporaryDirectory(prefix="boveda-bench-") as tmp:
        sqlite = run(str(Path(tmp) / "bench.db"), path, "SQLite")
        print(f"  file size {(Path(tmp) / 'bench.db').stat().st_size / 1e6:,.0f} MB", flush=True)

    name = f"boveda_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        postgres = run(f"{args.postgres.rsplit('/', 1)[0]}/{name}", path, "PostgreSQL")
        with psycopg.connect(args.postgres) as conn:
            size = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]
        print(f"  database size {size / 1e6:,.0f} MB", flush=True)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"\n{args.entries:,} journal entries   SQLite (s)   PostgreSQL (s)   PostgreSQL / SQLite")
    for step in STEPS:
        ratio = postgres[step] / sqlite[step] if sqlite[step] > 0 else float("inf")
        print(f"{step:<26} {sqlite[step]:11.3f}   {postgres[step]:14.3f}   {ratio:17.2f}x")
    verdict = "under" if sqlite["audit verify"] < 60 else "OVER"
    print(f"\naudit verify on SQLite: {sqlite['audit verify']:.1f} s, {verdict} one minute")


if __name__ == "__main__":
    sys.exit(main())
