"""Scanning speed: the compiled and the pure-Python raw walk over blk files, and the kernel route, against
hashing the same bytes.

    .venv/bin/python bench/scan.py            # 2,000 blocks, >= 500,000 transactions (built once, cached)
    .venv/bin/python bench/scan.py --quick    # a small chain, to check the bench runs

The floor is SHA-256d over every block's bytes (in memory) with hashlib, in the same run; every
route is reported as a ratio to it, the floor being timed again beside each route, run for run.
Each timing is the best of --repeat runs (the machine is shared).
The file routes read the cached datadir through BlockFileSource alone; the kernel route opens a
copy, since libbitcoinkernel rewrites LevelDB files even to read them.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chain import bench_chain  # noqa: E402

from boveda.bitcoin.network import Network  # noqa: E402
from boveda.chain.blockfiles import BlockFileSource  # noqa: E402
from boveda.chain.kernel import KernelSource  # noqa: E402
from boveda.chain.scanner import Scanner, Walk, default_walk  # noqa: E402


def timed(fn, repeat: int = 1):
    """(best wall seconds of `repeat` runs, the last run's result)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


class Floor:
    """The floor, timed again beside each route (run for run, interleaved): other work on a shared
    machine then slows both alike, and the ratio holds."""

    def __init__(self, blocks: list[bytes]) -> None:
        self.hash_all = functools.partial(_sha256d_each, blocks)
        self.seconds = float("inf")  # the best of the latest measure()

    def measure(self, fn, repeat: int):
        """(best seconds of `fn`, its last result); sets `seconds` to the floor's best beside it."""
        best, self.seconds, result = float("inf"), float("inf"), None
        for _ in range(repeat):
            self.seconds = min(self.seconds, timed(self.hash_all)[0])
            seconds, result = timed(fn)
            best = min(best, seconds)
        return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--txs-per-block", type=int, default=270)
    parser.add_argument("--quick", action="store_true", help="200 blocks x 50 payments")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept")
    parser.add_argument("--no-kernel", action="store_true", help="leave out the (slow) kernel route")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.txs_per_block = 200, 50
    if default_walk() is not Walk.COMPILED:
        print("note: the compiled walk is not in use (not built, or BOVEDA_PURE_PYTHON=1): both rows run the pure walk")

    datadir, scripts = bench_chain(args.blocks, args.txs_per_block)
    rng = random.Random(1)
    open_s, files = timed(lambda: BlockFileSource(datadir, Network.REGTEST))
    tip = files.tip().height
    raw = [r.block for r in files.raw_blocks(0, tip, with_undo=False)]
    sizes = [len(block) for block in raw]
    tx_counts = [_tx_count(block) for block in raw]
    total_bytes, tx_total = sum(sizes), sum(tx_counts)
    blocks = len(raw)
    print(f"chain: {blocks} blocks, {tx_total:,} transactions, {total_bytes / 1e6:.1f} MB of blocks; "
          f"{len(scripts):,} distinct scripts paid\n")

    floor = Floor(raw)
    floor.measure(lambda: None, args.repeat)
    floor_s = floor.seconds

    def report(name: str, seconds: float, block_count: int = blocks) -> None:
        """One row; a part of the chain (its first `block_count` blocks) is held against the floor's
        time for the same bytes, measured beside it."""
        byte_count, tx_count = sum(sizes[:block_count]), sum(tx_counts[:block_count])
        print(f"{name:<48} {seconds:7.3f} s  {block_count / seconds:9,.0f} blocks/s  "
              f"{tx_count / seconds:10,.0f} tx/s  {byte_count / 1e6 / seconds:7.1f} MB/s  "
              f"{seconds / (floor.seconds * byte_count / total_bytes):6.2f}x the floor")

    def files_scan(watch, walk: Walk, stop=tip):
        return sum(1 for _ in Scanner(watch, walk=walk).scan(files, 0, stop))

    report("floor: sha256d of every block (hashlib)", floor_s)
    watch_1000 = set(rng.sample(scripts, min(1000, len(scripts))))
    compiled_s, compiled_hits = floor.measure(lambda: files_scan(watch_1000, Walk.COMPILED), args.repeat)
    report("compiled walk over blk files, 1,000 scripts", compiled_s)
    pure_s, pure_hits = floor.measure(lambda: files_scan(watch_1000, Walk.PURE), args.repeat)
    report("pure-Python walk over blk files, 1,000 scripts", pure_s)
    assert compiled_hits == pure_hits, (compiled_hits, pure_hits)
    print(f"{'  (opening the source: index of the blk files)':<48} {open_s:7.3f} s")
    print(f"\ncompiled walk: {pure_s / compiled_s:.1f}x faster than the pure walk; "
          f"both found {compiled_hits:,} events\n")

    if not args.no_kernel:
        with tempfile.TemporaryDirectory() as copy:
            shutil.copytree(datadir, copy, dirs_exist_ok=True)
            with KernelSource(copy, Network.REGTEST) as kernel:
                kernel_s, kernel_hits = floor.measure(
                    lambda: sum(1 for _ in Scanner(watch_1000).scan(kernel, 0, tip)), 1)
        report("KernelSource (bytes(block) + parse), 1,000", kernel_s)
        assert kernel_hits == compiled_hits, (kernel_hits, compiled_hits)
        print(f"kernel route: {kernel_s / compiled_s:.0f}x the compiled walk's time\n")

    print("scaling with the watch set (whole chain):")
    for size in (10, 1_000, 100_000):
        watch = set(rng.sample(scripts, min(size, len(scripts))))
        for walk in (Walk.COMPILED, Walk.PURE):
            seconds, hits = floor.measure(functools.partial(files_scan, watch, walk), args.repeat)
            report(f"  {walk.value:>8} {len(watch):>7,} scripts ({hits:,} events)", seconds)
        # The walk alone, its blocks already in memory: what reading them through BlockFileSource adds.
        seconds, _ = floor.measure(functools.partial(_walk_in_memory, watch, raw), args.repeat)
        report(f"  {'compiled':>8} {len(watch):>7,} scripts, blocks in memory", seconds)
    print("scaling with the chain (compiled walk, 1,000 scripts):")
    for percent in (25, 50, 100):
        stop = tip * percent // 100
        seconds, _ = floor.measure(functools.partial(files_scan, watch_1000, Walk.COMPILED, stop), args.repeat)
        report(f"  {percent:>3}% of the chain ({stop + 1} blocks)", seconds, stop + 1)
    files.close()


def _walk_in_memory(watch: set[bytes], blocks: list[bytes]) -> int:
    scanner = Scanner(watch, walk=Walk.COMPILED)
    return sum(len(scanner.scan_raw_block(height, block)) for height, block in enumerate(blocks))


def _sha256d_each(blocks: list[bytes]) -> list[bytes]:
    return [hashlib.sha256(hashlib.sha256(block).digest()).digest() for block in blocks]


def _tx_count(block: bytes) -> int:
    first = block[80]
    if first < 0xFD:
        return first
    return int.from_bytes(block[81:83] if first == 0xFD else block[81:85], "little")


if __name__ == "__main__":
    main()
