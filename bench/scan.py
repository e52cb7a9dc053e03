"""Scanning speed: the BlockFileSource raw walk and the kernel route, against hashing the same bytes.

    .venv/bin/python bench/scan.py            # 2,000 blocks, >= 500,000 transactions (built once, cached)
    .venv/bin/python bench/scan.py --quick    # a small chain, to check the bench runs

The floor is SHA-256d over every block's bytes with hashlib, in the same run; every route is
reported as a ratio to it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chain import bench_chain  # noqa: E402

from boveda.bitcoin.network import Network  # noqa: E402
from boveda.chain.blockfiles import BlockFileSource  # noqa: E402
from boveda.chain.kernel import KernelSource  # noqa: E402
from boveda.chain.scanner import Scanner  # noqa: E402


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--txs-per-block", type=int, default=270)
    parser.add_argument("--quick", action="store_true", help="200 blocks x 50 payments")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.txs_per_block = 200, 50

    datadir, scripts = bench_chain(args.blocks, args.txs_per_block)
    rng = random.Random(1)
    with KernelSource(datadir, Network.REGTEST) as kernel:
        tip = kernel.tip().height
        open_s, files = timed(lambda: BlockFileSource(datadir, Network.REGTEST, kernel=kernel))
        raw = list(files.raw_blocks(0, tip, with_undo=False))
        total_bytes = sum(len(r.block) for r in raw)
        tx_total = sum(_tx_count(r.block) for r in raw)
        blocks = len(raw)
        print(f"chain: {blocks} blocks, {tx_total:,} transactions, {total_bytes / 1e6:.1f} MB of blocks; "
              f"{len(scripts):,} distinct scripts paid\n")

        floor_s, _ = timed(functools.partial(_sha256d_each, [r.block for r in raw]))
        del raw  # the scans below read the files again, as a user's would

        def report(name: str, seconds: float, fraction: float = 1.0) -> None:
            mb = total_bytes * fraction / 1e6
            print(f"{name:<46} {seconds:7.2f} s  {blocks * fraction / seconds:9,.0f} blocks/s  "
                  f"{tx_total * fraction / seconds:10,.0f} tx/s  {mb / seconds:7.1f} MB/s  "
                  f"{seconds / (floor_s * fraction):6.1f}x the floor")

        watch_1000 = set(rng.sample(scripts, min(1000, len(scripts))))
        report("floor: sha256d of every block (hashlib)", floor_s)

        def files_scan(watch, stop=tip):
            return sum(1 for _ in Scanner(watch).scan(files, 0, stop))

        files_s, files_hits = timed(lambda: files_scan(watch_1000))
        report("BlockFileSource raw walk, 1,000 scripts", files_s)
        print(f"{'  (opening the source: index of the blk files)':<46} {open_s:7.2f} s")

        kernel_s, kernel_hits = timed(lambda: sum(1 for _ in Scanner(watch_1000).scan(kernel, 0, tip)))
        report("KernelSource (bytes(block) + parse), 1,000", kernel_s)
        assert kernel_hits == files_hits, (kernel_hits, files_hits)
        print(f"\nBlockFileSource vs kernel route: {kernel_s / files_s:.1f}x faster; both found {files_hits:,} events\n")

        print("scaling with the watch set (BlockFileSource, whole chain):")
        for size in (10, 1_000, 100_000):
            watch = set(rng.sample(scripts, min(size, len(scripts))))
            seconds, hits = timed(lambda: files_scan(watch))
            report(f"  {len(watch):>7,} scripts ({hits:,} events)", seconds)
        print("scaling with the chain (BlockFileSource, 1,000 scripts):")
        for percent in (25, 50, 100):
            stop = tip * percent // 100
            seconds, _ = timed(lambda: files_scan(watch_1000, stop))
            report(f"  {percent:>3}% of the chain", seconds, (stop + 1) / blocks)
        files.close()


def _sha256d_each(blocks: list[bytes]) -> list[bytes]:
    return [hashlib.sha256(hashlib.sha256(block).digest()).digest() for block in blocks]


def _tx_count(block: bytes) -> int:
    first = block[80]
    if first < 0xFD:
        return first
    return int.from_bytes(block[81:83] if first == 0xFD else block[81:85], "little")


if __name__ == "__main__":
    main()
