"""The Dask scan over blk files gives the sequential walk's events and unspent outputs."""

from __future__ import annotations

import pytest

from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.parallel import chunks, parallel_scan
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.chain.scanner import Credit, Debit, Scanner, TxFacts
from boveda.keys.software_wallet import WalletKind

pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")


def test_the_parallel_scan_equals_the_sequential_walk_in_events_order_and_unspent_outputs(tmp_path):
    sim = Simulation(tmp_path)
    for name in ("alice", "bob"):
        sim.add_wallet(name, WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 2)
    for round_ in range(6):
        sim.pay("miner", [(sim.receive_script("alice"), 50_000_000 + round_), (sim.receive_script("bob"), 7_000_000)])
        sim.mine()
        sim.pay("alice", [(sim.receive_script("bob"), 10_000_000 + round_)])
        sim.mine()
    watch = set(sim.wallet_scripts("alice")) | set(sim.wallet_scripts("bob"))
    with sim.released(), BlockFileSource(tmp_path, Network.REGTEST) as files:
        tip = files.tip().height
        middle = COINBASE_MATURITY + 5
        head = Scanner(watch)
        list(head.scan(files, 0, middle))
        sequential = Scanner(watch, head.unspent, with_tx_facts=True)
        expected = list(sequential.scan(files, middle + 1, tip))
        parts = chunks(files, middle + 1, tip, chunk_bytes=700)
        assert len(parts) > 3  # several tasks a stage, so the order is really put back
        progress = []
        result = parallel_scan(files, watch, middle + 1, tip, unspent=head.unspent, with_tx_facts=True,
                               workers=2, processes=False, chunk_bytes=700,
                               on_chunk=lambda done, total: progress.append((done, total)))
    sim.close()
    assert list(result.events) == expected
    assert {type(e) for e in expected} == {Credit, Debit, TxFacts}
    assert result.unspent == sequential.unspent
    assert progress[-1] == (2 * len(parts), 2 * len(parts))
