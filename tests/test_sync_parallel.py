"""`boveda sync --parallel`: the blk files scanned over Dask first, the blocks that matter walked after —
the same chain facts as the sequential sync (one local cluster, threads, for the whole module)."""

from __future__ import annotations

import pytest
from test_sync import COIN, chain_facts, funded_simulation, new_book, pay_around, register, run_sync
from test_wallet_cli import refused

from boveda.book import Book
from boveda.service import wallets as service_wallets
from boveda.service.wallets import SyncProgress, sync_book
from boveda.wallets import parallel_sync, walk
from boveda.wallets.parallel_sync import ParallelOptions

pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")


def test_a_parallel_sync_stores_the_sequential_syncs_facts_reading_only_the_blocks_that_matter(tmp_path, monkeypatch):
    sim = funded_simulation(tmp_path / "chain")
    sim.mine_blocks(30)  # blocks that pay no wallet: only their headers are read
    pay_around(sim, 4)
    sim.pay("miner", [(sim.receive_script("alice"), COIN) for _ in range(25)])  # past what was derived ahead
    sim.mine()
    sim.mine_blocks(20)
    pay_around(sim, 2)
    sequential = new_book(str(tmp_path / "sequential.db"))
    register(sequential, sim, births={"carol": 120})
    expected = run_sync(sequential, sim)

    monkeypatch.setattr(parallel_sync, "SCAN_AHEAD", 3)  # so that the walk outgrows a scan, and scans again
    monkeypatch.setattr(service_wallets, "ParallelOptions",  # two threads: a process takes seconds to start
                        lambda **options: ParallelOptions(**options, workers=2, processes=False))
    read = []
    blocks_of = walk.blocks_of
    monkeypatch.setattr(parallel_sync, "blocks_of", lambda source, start, stop: read.append(start) or
                        blocks_of(source, start, stop))
    scans = []
    book = new_book(str(tmp_path / "parallel.db"))
    register(book, sim, births={"carol": 120})
    with sim.released() as datadir:
        report = sync_book(book, datadir, "regtest", parallel=True, progress=SyncProgress(
            files=lambda done, total: scans.append((done, total))))
    assert report == expected
    assert chain_facts(book) == chain_facts(sequential)
    assert len(read) < sim.height / 2  # most blocks pay no wallet
    assert sum(1 for done, total in scans if done == total) > 1  # scanned again once the walk watched more
    sequential.close()
    book.close()
    sim.close()


def test_the_parallel_scan_reads_blk_files_and_is_for_one_sync(tmp_path):
    location = str(tmp_path / "book.db")
    Book.init(location)
    refused(location, "sync", "--parallel", "--rpc-url", "http://127.0.0.1:9/", "--network", "regtest",
            reason="reads a node's blk files")
    refused(location, "sync", "--follow", "--scheduler", "tcp://127.0.0.1:8786", "--rpc-url", "http://127.0.0.1:9/",
            reason="are for one sync")
