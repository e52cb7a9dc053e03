"""The Dask scan over blk files (chain/parallel.py) against the single-core walk, on the bench chain.

    .venv/bin/python bench/parallel_scan.py            # the 2,000-block bench chain (built once, cached)
    .venv/bin/python bench/parallel_scan.py --quick

Reported: the sequential walk on one core; Dask with a fresh LocalCluster of --workers processes,
start-up included (what one `parallel_scan` call costs); and the scan alone on a cluster already
running (what a long-lived or institutional cluster costs). Each with the compiled walk, then the
pure-Python walk (BOVEDA_PURE_PYTHON=1, in the workers too). Events are checked identical.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chain import bench_chain  # noqa: E402

from boveda.bitcoin.network import Network  # noqa: E402
from boveda.chain.blockfiles import BlockFileSource  # noqa: E402
from boveda.chain.parallel import chunks, parallel_scan  # noqa: E402
from boveda.chain.scanner import Scanner, Walk  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--txs-per-block", type=int, default=270)
    parser.add_argument("--quick", action="store_true", help="200 blocks x 50 payments")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scripts", type=int, default=1000)
    parser.add_argument("--chunk-mb", type=float, default=16)
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.txs_per_block = 200, 50
    from dask.distributed import Client, LocalCluster

    datadir, scripts = bench_chain(args.blocks, args.txs_per_block)
    watch = set(random.Random(1).sample(scripts, min(args.scripts, len(scripts))))
    files = BlockFileSource(datadir, Network.REGTEST)
    tip = files.tip().height
    chunk_bytes = int(args.chunk_mb * 1e6)
    parts = chunks(files, 0, tip, chunk_bytes)
    total_mb = sum(p.size_bytes for p in parts) / 1e6
    print(f"chain: {tip + 1} blocks, {total_mb:.1f} MB in {len({p.file_path for p in parts})} blk files, "
          f"{len(parts)} chunks of <= {args.chunk_mb:g} MB; {len(watch):,} scripts; {args.workers} workers\n")

    for walk in (Walk.COMPILED, Walk.PURE):
        os.environ["BOVEDA_PURE_PYTHON"] = "1" if walk is Walk.PURE else "0"
        started = time.perf_counter()
        expected = list(Scanner(watch, walk=walk).scan(files, 0, tip))
        single_s = time.perf_counter() - started

        started = time.perf_counter()
        fresh = parallel_scan(files, watch, 0, tip, workers=args.workers, chunk_bytes=chunk_bytes)
        fresh_s = time.perf_counter() - started
        assert list(fresh.events) == expected

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster):
            parallel_scan(files, watch, 0, tip, scheduler_address=cluster.scheduler_address, chunk_bytes=chunk_bytes)
            started = time.perf_counter()
            warm = parallel_scan(files, watch, 0, tip, scheduler_address=cluster.scheduler_address,
                                 chunk_bytes=chunk_bytes)
            warm_s = time.perf_counter() - started
        assert list(warm.events) == expected

        print(f"{walk.value} walk ({len(expected):,} events, identical):")
        print(f"  one core, sequential                      {single_s:7.2f} s  {total_mb / single_s:8.1f} MB/s")
        print(f"  Dask, fresh LocalCluster (start-up in)    {fresh_s:7.2f} s  {total_mb / fresh_s:8.1f} MB/s  "
              f"{single_s / fresh_s:5.2f}x the single core")
        print(f"  Dask, cluster already running             {warm_s:7.2f} s  {total_mb / warm_s:8.1f} MB/s  "
              f"{single_s / warm_s:5.2f}x the single core\n")
    files.close()


if __name__ == "__main__":
    main()
