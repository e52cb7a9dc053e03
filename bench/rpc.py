"""Reading a running node (RpcSource over REST/RPC) beside reading its block files (BlockFileSource).

    .venv/bin/python bench/rpc.py            # the cached 2,000-block bench chain (built once, see _chain.py)
    .venv/bin/python bench/rpc.py --quick    # a small chain, to check the bench runs

One run, one chain: a copy of the cached datadir is served by a real bitcoind (../shared/bin, or
$BITCOIND) while BlockFileSource reads the same copy's blk/rev files (append-only, so that is safe
with the node running; the kernel is never opened on it). Each route is timed `--repeat` times and
the best run is reported; the ratio is RPC throughput over block-file throughput (target >= 50 %).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests"))

from _bitcoind import Bitcoind, find_bitcoind
from _chain import bench_chain

from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.rpc import PrevoutRoute, RpcSource
from boveda.chain.scanner import Scanner


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """(fastest seconds, what the run counted)."""
    best, result = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def _count(items: Iterable) -> int:
    return sum(1 for _ in items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--txs-per-block", type=int, default=270)
    parser.add_argument("--quick", action="store_true", help="200 blocks x 50 payments")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--window", type=int, default=32, help="blocks fetched ahead (RpcSource's default)")
    parser.add_argument("--workers", type=int, default=4, help="threads fetching (RpcSource's default)")
    parser.add_argument("--verbose-blocks", type=int, default=50, help="blocks read through getblock 3 (slow)")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.txs_per_block = 200, 50
    binary = find_bitcoind()
    if binary is None:
        sys.exit("no bitcoind: set BITCOIND or put one in ../shared/bin")

    cached, scripts = bench_chain(args.blocks, args.txs_per_block)
    with tempfile.TemporaryDirectory(prefix="boveda-bench-rpc-") as folder:
        datadir = Path(folder) / "datadir"
        shutil.copytree(cached, datadir)  # bitcoind writes to its datadir; the cache stays as built
        node = Bitcoind(binary, datadir, zmq=False, extra_args=("-rpcthreads=8", "-rpcworkqueue=64"))
        node.start()
        try:
            run(args, node, datadir, scripts)
        finally:
            node.stop()


def run(args, node: Bitcoind, datadir: Path, scripts: list[bytes]) -> None:
    files = BlockFileSource(datadir, Network.REGTEST)
    rpc = RpcSource(node.client(), window=args.window, workers=args.workers)
    tip = files.tip()
    assert rpc.tip() == tip, "the node and the block files disagree on the tip"
    total_bytes = sum(len(raw.block) for raw in files.raw_blocks(0, tip.height, with_undo=False))
    blocks = tip.height + 1
    print(f"chain: {blocks:,} blocks, {total_bytes / 1e6:.1f} MB of blocks; bitcoind {node.binary}; "
          f"RpcSource window {args.window}, {args.workers} workers\n")

    def line(name: str, seconds: float, fraction: float = 1.0) -> float:
        mb_s = total_bytes * fraction / 1e6 / seconds
        print(f"  {name:<44} {seconds:7.2f} s  {blocks * fraction / seconds:8,.0f} blocks/s  {mb_s:7.1f} MB/s")
        return mb_s

    def compare(title: str, files_run: Callable[[], int], rpc_run: Callable[[], int]) -> None:
        print(title)
        files_s, files_n = best_of(args.repeat, files_run)
        rpc_s, rpc_n = best_of(args.repeat, rpc_run)
        assert files_n == rpc_n, (files_n, rpc_n)
        line("BlockFileSource", files_s)
        line("RpcSource", rpc_s)
        print(f"  RPC / block files: {files_s / rpc_s:.0%} of the throughput\n")

    compare(
        "raw blocks (the scanner's input): blk files vs REST /rest/block/<hash>.bin",
        lambda: _count(files.raw_blocks(0, tip.height, with_undo=False)),
        lambda: _count(rpc.raw_blocks(0, tip.height)),
    )
    watch = set(random.Random(1).sample(scripts, min(1000, len(scripts))))
    compare(
        "scan, 1,000 watched scripts (what sync does): raw walk over each source",
        lambda: _count(Scanner(watch).scan(files, 0, tip.height)),
        lambda: _count(Scanner(watch).scan(rpc, 0, tip.height)),
    )
    compare(
        "parsed blocks with prevouts: blk + rev files vs REST block + spenttxouts",
        lambda: _count(files.blocks(0, tip.height)),
        lambda: _count(rpc.blocks(0, tip.height)),
    )

    # getblock 3 is the fallback for a node before Core 30: shown on a sample, it is much slower.
    sample = min(args.verbose_blocks, tip.height)
    start = tip.height - sample + 1
    fraction = sample / blocks
    verbose = RpcSource(node.client(), window=args.window, workers=args.workers, prevout_route=PrevoutRoute.RPC)
    print(f"the fallback for nodes before Core 30, last {sample} blocks")
    rest_s, _ = best_of(1, lambda: _count(rpc.blocks(start, tip.height)))
    verbose_s, _ = best_of(1, lambda: _count(verbose.blocks(start, tip.height)))
    line("REST block + spenttxouts", rest_s, fraction)
    line("getblock <hash> 3 (JSON)", verbose_s, fraction)
    print(f"  getblock 3 / REST: {rest_s / verbose_s:.0%} of the throughput")
    files.close()
    rpc.close()
    verbose.close()


if __name__ == "__main__":
    main()
