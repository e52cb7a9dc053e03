"""A sync against another chain is refused and changes nothing; one sync of a book runs at a time."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from _book_fixtures import backend, book_location, postgres_url  # noqa: F401  (fixtures)
from test_sync import KINDS, funded_simulation, new_book, pay_around, register, run_sync

from boveda.chain.regtest.simulation import Simulation
from boveda.errors import WalletError
from boveda.wallets.sync import sync_lock
from boveda.wallets.tables import chain_blocks, chain_settings, chain_txs, txos, wallet_scripts, wallet_sync

FACT_TABLES = (chain_blocks, chain_settings, chain_txs, txos, wallet_scripts, wallet_sync)


def facts_of(book) -> dict:
    with book.store.read() as conn:
        return {t.name: sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(t))) for t in FACT_TABLES}


@pytest.fixture
def synced(tmp_path, book_location):  # noqa: F811
    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 2)
    book = new_book(book_location)
    register(book, sim, births={name: 5 for name in KINDS})
    run_sync(book, sim)
    yield book, sim
    book.close()


def another_chain(folder) -> Simulation:
    """A regtest chain with the same genesis block (every regtest chain has it) and nothing else in common."""
    other = Simulation(folder, seed_label="another chain")  # another miner: no block but genesis in common
    other.add_wallet("stranger", KINDS["alice"])
    other.mine_blocks(130)
    return other


def test_a_sync_against_another_chain_is_refused_and_changes_nothing(synced, tmp_path):
    book, _sim = synced
    before = facts_of(book)
    head = book.audit_head()
    other = another_chain(tmp_path / "other")
    with pytest.raises(WalletError, match="another chain, not a reorganisation.*--rescan-from-scratch"):
        run_sync(book, other)
    assert facts_of(book) == before
    assert book.audit_head() == head


def test_rescan_from_scratch_forgets_the_old_chain_and_syncs_the_new_one(synced, tmp_path):
    book, _sim = synced
    other = another_chain(tmp_path / "other")
    report = run_sync(book, other, rescan_from_scratch=True)
    assert report.rolled_back_to == -1
    assert report.tip_height == other.height
    with book.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(txos)).scalar() == 0  # no coin of ours there
        assert conn.execute(sa.select(sa.func.max(chain_blocks.c.height))).scalar() == other.height


def test_a_different_genesis_is_refused(synced):
    book, sim = synced
    with book.store.write() as (conn, _head):
        conn.execute(chain_settings.update().where(chain_settings.c.key == "genesis").values(value="ab" * 32))
    before = facts_of(book)
    with pytest.raises(WalletError, match="genesis block"):
        run_sync(book, sim)
    assert facts_of(book) == before


def test_a_second_sync_of_the_same_book_is_refused_at_the_start(synced):
    book, sim = synced
    location = book.store.location
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from boveda.book import Book\n"
            "from boveda.wallets.sync import sync_lock\n"
            f"book = Book.open({location!r})\n"
            "with sync_lock(book.store):\n"
            "    print('locked', flush=True)\n"
            "    time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = facts_of(book)
        started = time.monotonic()
        with pytest.raises(WalletError, match="another sync of this book is running"):
            pay_around(sim, 1)
            run_sync(book, sim)
        assert time.monotonic() - started < 10, "refused at once, not after waiting"
        assert facts_of(book) == before
    finally:
        holder.kill()
        holder.wait()
    assert run_sync(book, sim).blocks_scanned == 1  # free again once the other sync ended


def test_the_lock_is_reentrant_within_one_process(synced):
    book, sim = synced
    with sync_lock(book.store), sync_lock(book.store):
        pay_around(sim, 1)
        assert run_sync(book, sim).blocks_scanned == 1
