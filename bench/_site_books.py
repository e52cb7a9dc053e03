"""Books for bench/serve.py: the demo, and a large book — the synthetic journal of bench/book.py
(1,000,000 entries by default) with chain facts for a share of its purchases (100,000 movements by
default), written through wallets/facts_store as `boveda sync` would write them.

Building the large book through a real chain would take hours: only its chain facts are made up
(blocks, transactions, coins), never the code that reads them. Each book is built once and cached
(SQLite in bench/.cache/, PostgreSQL in a schema of its own).
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import psycopg

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Account, EntryKind
from boveda.book.events import EntryRecorded
from boveda.book.synthetic import synthetic_book_events, write_synthetic_export
from boveda.chain.scanner import Credit, ScannedBlock, TxFacts
from boveda.keys.software_wallet import SoftwareWallet, seed_from_label
from boveda.wallets import facts_store as facts
from boveda.wallets.registry import register_wallet

CACHE = Path(__file__).resolve().parent / ".cache"
REGTEST = Network.REGTEST
WALLET = "sv-bench"
ADDRESSES = 1_000  # receive addresses the movements are spread over
TXS_PER_BLOCK = 5
_SV = Account.reserve("SV")


class _Event(NamedTuple):
    """What facts_store.store_events reads of a scan's event: the credit and the wallet it pays."""

    event: Credit
    wallet: str


def demo_book() -> str:
    """The demo's book (built once into bench/.cache/site-demo/)."""
    from boveda.demo import run_demo

    folder = CACHE / "site-demo"
    if not (folder / "boveda.db").exists():
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        print(f"building the demo into {folder} …", flush=True)
        run_demo(folder)
    return str(folder / "boveda.db")


def export_file(entries: int) -> Path:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"book-{entries}.json"  # the same file bench/book.py writes and caches
    if not path.exists():
        print(f"writing a synthetic book of {entries:,} entries to {path} …", flush=True)
        write_synthetic_export(path.with_suffix(".tmp"), entries)
        path.with_suffix(".tmp").rename(path)
    return path


def _purchases(entries: int, movements: int) -> list[tuple[str, int, datetime.date]]:
    """(txid, amount, date) of `movements` SV purchases spread evenly over the book."""
    bought = [(e.entry.txids[0], e.entry.amount_sat, e.entry.effective_date)
              for e in synthetic_book_events(entries) if isinstance(e, EntryRecorded)
              and e.entry.kind is EntryKind.PURCHASE and any(p.account == _SV for p in e.entry.postings)]
    step = max(1, len(bought) // movements)
    return bought[::step][:movements]


def _blocks(purchases: list[tuple[str, int, datetime.date]], last_day: datetime.date
            ) -> Iterator[tuple[int, int, list[tuple[str, int]]]]:
    """(height, time, [(txid, amount)…]): TXS_PER_BLOCK purchases a block, a minute apart within their day,
    and an empty tip on the book's last day so that every entry is dated at or before the tip."""
    height = 0
    per_day: dict[datetime.date, int] = {}
    for start in range(0, len(purchases), TXS_PER_BLOCK):
        chunk = purchases[start:start + TXS_PER_BLOCK]
        day = chunk[-1][2]
        slot = per_day.get(day, 0)
        per_day[day] = slot + 1
        height += 1
        midnight = datetime.datetime.combine(day, datetime.time(0, 10), datetime.UTC)
        yield height, int(midnight.timestamp()) + 60 * slot, [(txid, amount) for txid, amount, _ in chunk]
    end = datetime.datetime.combine(max(last_day, purchases[-1][2]), datetime.time(23, 0), datetime.UTC)
    yield height + 1, int(end.timestamp()), []


def add_chain_facts(location: str, entries: int, movements: int) -> int:
    """Registers SV's bench wallet and writes blocks, transactions and coins for `movements` purchases;
    returns the tip height."""
    purchases = _purchases(entries, movements)
    last_day = datetime.date(2024, 1, 1) + datetime.timedelta(days=entries // 2_000)
    rng = random.Random(7)
    wallet = SoftwareWallet.wpkh(seed_from_label("bench/serve SV"))
    with Book.open(location) as book:
        register_wallet(book, WALLET, wallet.multipath_descriptor(), network=REGTEST, reserve="SV", birth_height=1,
                        gap_limit=ADDRESSES)
        with book.store.write() as (conn, _head):
            scripts = [w.script_pubkey for w in facts.derived_scripts(conn, [WALLET]) if int(w.branch) == 0]
            blocks, txs, credits = [], [], []
            for height, block_time, paid in _blocks(purchases, last_day):
                blocks.append(ScannedBlock(height, rng.randbytes(32), block_time, 0))
                for index, (txid_hex, amount) in enumerate(paid, start=1):
                    txid = bytes.fromhex(txid_hex)[::-1]  # stored in the wire's byte order
                    txs.append(TxFacts(txid, height, index, 1, 2, amount + 10_000))
                    credits.append(_Event(Credit(txid, 0, amount, scripts[len(credits) % len(scripts)], height),
                                          WALLET))
            for at in range(0, len(blocks), 20_000):
                facts.store_blocks(conn, blocks[at:at + 20_000])
            for at in range(0, len(txs), 20_000):
                facts.store_tx_facts(conn, txs[at:at + 20_000])
                facts.store_events(conn, credits[at:at + 20_000])
            tip = blocks[-1].height
            facts.mark_synced(conn, [WALLET], tip)
            facts.put_setting(conn, "network", REGTEST.value)
    return tip


def large_sqlite(entries: int, movements: int) -> str:
    path = CACHE / f"site-large-{entries}-{movements}.db"
    if path.exists():
        return str(path)
    partial = path.with_suffix(".partial.db")
    partial.unlink(missing_ok=True)
    export = export_file(entries)
    started = time.perf_counter()
    print(f"building the large SQLite book {path.name} (import, then chain facts) …", flush=True)
    Book.init(str(partial))
    with Book.open(str(partial)) as book:
        book.import_file(export)
    tip = add_chain_facts(str(partial), entries, movements)
    partial.rename(path)
    print(f"  built in {time.perf_counter() - started:,.0f} s, synced to height {tip}", flush=True)
    return str(path)


def large_postgres(admin_url: str, entries: int, movements: int) -> str:
    """The large book in schema boveda_bench_serve_… of the server (kept for the next run)."""
    schema = f"boveda_bench_serve_{entries}_{movements}"
    separator = "&" if "?" in admin_url else "?"
    location = f"{admin_url}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        ready = admin.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = "
                              "'chain_settings'", (schema,)).fetchone()
        if ready:
            done = admin.execute(f'SELECT value FROM "{schema}".chain_settings WHERE key = %s', ("bench",)).fetchone()
            if done:
                return location
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'CREATE SCHEMA "{schema}"')
    started = time.perf_counter()
    print(f"building the large PostgreSQL book in schema {schema} …", flush=True)
    with Book.open(location, create=True) as book:
        book.import_file(export_file(entries))
    tip = add_chain_facts(location, entries, movements)
    with Book.open(location) as book, book.store.write() as (conn, _head):
        facts.put_setting(conn, "bench", "complete")
    print(f"  built in {time.perf_counter() - started:,.0f} s, synced to height {tip}", flush=True)
    return location
