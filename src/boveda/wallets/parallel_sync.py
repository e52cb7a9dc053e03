"""`boveda sync --parallel`: a long history read over a Dask cluster, then walked only where it matters.

The Dask scan over the blk files (chain/parallel.py) finds which blocks pay a script the walk
watches or spend a coin it holds; the walk (wallets/walk.py) then reads those blocks, and of the
others only their headers. The sync's result is the sequential one's by construction: the same
walk counts the same blocks, and the blocks it skips hold nothing for it. Each wallet is derived
further ahead first, so that one scan serves a long stretch of blocks; once the walk watches a
script the scan did not, the rest of the range is scanned again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from boveda.bitcoin.block import BLOCK_HEADER_SIZE
from boveda.bitcoin.hashes import sha256d
from boveda.chain.blockfiles import BlockFileSource, deobfuscate, read_xor_key
from boveda.chain.parallel import parallel_scan
from boveda.chain.scanner import ScannedBlock
from boveda.errors import ChainError
from boveda.wallets.walk import BlockItem, WalletWalk, blocks_of

SCAN_AHEAD = 1_000  # scripts derived ahead of each branch's window before a scan


@dataclass(frozen=True, slots=True)
class ParallelOptions:
    """Where the scan runs: the Dask scheduler at `scheduler_address` (e.g. "tcp://10.0.0.5:8786",
    whose workers see the datadir at the same path), else a local cluster of `workers` processes
    (default: one per core) started for the sync. `on_files(done, total)` follows each scan's chunks
    of blk files (two stages each)."""

    scheduler_address: str | None = None
    workers: int | None = None
    on_files: Callable[[int, int], None] | None = None
    processes: bool = True  # False: the local cluster's workers are threads (tests)


class ParallelRoute:
    """The scans of one sync, on one cluster (a local one lives as long as this route)."""

    def __init__(self, options: ParallelOptions) -> None:
        self.options = options
        self._stack = contextlib.ExitStack()
        self._address = options.scheduler_address
        self._scanned: _Scan | None = None
        self.scans = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _scheduler(self) -> str:
        if self._address is None:
            from dask.distributed import LocalCluster  # imported only where used

            cluster = self._stack.enter_context(LocalCluster(
                n_workers=self.options.workers or os.cpu_count() or 1, threads_per_worker=1,
                processes=self.options.processes, dashboard_address=None))
            self._address = cluster.scheduler_address
        return self._address

    def blocks(self, walk: WalletWalk, source: BlockFileSource, start: int, stop: int, last: int
               ) -> Iterator[tuple[ScannedBlock, BlockItem | None]]:
        """Blocks start..stop for `walk`: read where a scan found something, headers elsewhere (None).
        A scan covers start..`last` (the tip), and is done again once the walk watches more than it."""
        headers = _Headers(source)
        try:
            for height in range(start, stop + 1):
                if not self._covers(walk, height):
                    self._scan(walk, source, height, last)
                if height in self._scanned.heights:
                    yield next(blocks_of(source, height, height))
                else:
                    yield headers.block(height), None
        finally:
            headers.close()

    def _covers(self, walk: WalletWalk, height: int) -> bool:
        """Whether the last scan holds every block from `height` on that can matter to the walk."""
        if self._scanned is None or height < self._scanned.start:
            return False
        rebuilds, added = walk.watched
        if rebuilds != self._scanned.rebuilds:
            if not walk.watched_scripts() <= self._scanned.watched:
                return False
            self._scanned.rebuilds, self._scanned.checked = rebuilds, 0
        if any(script not in self._scanned.watched for script in added[self._scanned.checked:]):
            return False
        self._scanned.checked = len(added)
        return True

    def _scan(self, walk: WalletWalk, source: BlockFileSource, start: int, last: int) -> None:
        walk.derive_further(SCAN_AHEAD)
        watched = walk.watched_scripts()
        found = parallel_scan(source, watched, start, last, unspent=walk.unspent, scheduler_address=self._scheduler(),
                              on_chunk=self.options.on_files)
        rebuilds, added = walk.watched
        self._scanned = _Scan(start, watched, {event.height for event in found.events}, rebuilds, len(added))
        self.scans += 1


@dataclass(slots=True)
class _Scan:
    """What one scan covered: blocks from `start` for the `watched` scripts; the `heights` it found
    something in; how far the walk's later scripts were checked to be among those watched."""

    start: int
    watched: frozenset[bytes]
    heights: set[int]
    rebuilds: int
    checked: int


class _Headers:
    """Block headers read from the blk files (80 bytes each), checked against the active chain's hashes."""

    def __init__(self, source: BlockFileSource) -> None:
        self._source = source
        self._key = read_xor_key(source.blocks_dir)
        self._fds: dict[int, int] = {}

    def block(self, height: int) -> ScannedBlock:
        where = self._source.location(height)
        fd = self._fds.get(where.file_number)
        if fd is None:
            fd = self._fds[where.file_number] = os.open(
                Path(self._source.blocks_dir) / f"blk{where.file_number:05d}.dat", os.O_RDONLY)
        header = deobfuscate(os.pread(fd, BLOCK_HEADER_SIZE, where.offset), self._key, where.offset)
        block_hash = self._source.hash_at(height)
        if sha256d(header) != block_hash:
            raise ChainError(f"blk{where.file_number:05d}.dat changed at offset {where.offset} since it was indexed "
                             f"(expected block {block_hash[::-1].hex()} at height {height})")
        return ScannedBlock(height, block_hash, int.from_bytes(header[68:72], "little"), where.length)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
