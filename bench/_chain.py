"""The benchmark chain: built once through the simulation (real signatures, every block validated by
libbitcoinkernel) and cached under bench/.cache between runs."""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from pathlib import Path

from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import WalletKind

CACHE = Path(__file__).resolve().parent / ".cache"
COIN = 100_000_000


def bench_chain(blocks: int, txs_per_block: int, *, wallets: int = 20, seed: int = 7) -> tuple[Path, list[bytes]]:
    """(datadir, every script paid on the chain); built unless the cache already has it."""
    folder = CACHE / f"chain-{blocks}x{txs_per_block}"
    meta_path = folder / "scripts.json"
    if meta_path.exists():
        return folder / "datadir", [bytes.fromhex(h) for h in json.loads(meta_path.read_text())]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    started = time.monotonic()
    rng = random.Random(seed)
    names = [f"w{i:02d}" for i in range(wallets)]
    with Simulation(folder / "datadir", seed_label=f"bench-{seed}") as sim:
        for name in names:
            sim.add_wallet(name, WalletKind.WPKH)
        sim.mine_blocks(COINBASE_MATURITY + 45)  # 45 mature coinbases: 2,250 BTC to hand out
        for name in names:
            sim.pay("miner", [(sim.receive_script(name), COIN) for _ in range(100)])
        sim.mine()
        tx_count = 0
        while sim.height < blocks:
            for _ in range(txs_per_block):
                source, target = rng.sample(names, 2)
                sim.pay(source, [(sim.receive_script(target), rng.randrange(10_000, 50_000))])
            sim.mine()
            tx_count += txs_per_block
            if sim.height % 100 == 0:
                rate = tx_count / (time.monotonic() - started)
                print(f"  built {sim.height}/{blocks} blocks, {tx_count} payments ({rate:.0f} tx/s)", file=sys.stderr)
        scripts = list(sim.scripts())
    meta_path.write_text(json.dumps([s.hex() for s in scripts]))
    print(f"  chain built in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return folder / "datadir", scripts
