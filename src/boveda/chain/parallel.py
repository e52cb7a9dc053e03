"""The raw walk over a long range of blk files, spread over a Dask cluster.

For the full-history case: many GB of blocks, more cores than one. Two stages split the blocks
into chunks of one blk file each (a few tens of MB), walked where the workers are:

1. every chunk's outputs paying the watch set (credits), in parallel;
2. every chunk walked again with all the credits of stage 1 (and the seed) as its unspent
   outputs, in parallel: an input of the active chain can only spend an output made before it,
   so the debits are those of the sequential walk, and so are the transaction facts.

The events are put back in height order, and the unspent outputs replayed from them, so the
result is the sequential walk's (tests/test_parallel_scan.py holds it so). The workers must see
the data directory at the same path, and have this package installed.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.block import BLOCK_HEADER_SIZE
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.tx import OutPoint
from boveda.chain.blockfiles import BlockFileSource, deobfuscate, read_xor_key
from boveda.chain.scanner import Credit, Debit, ScanEvent, Scanner, TxFacts
from boveda.errors import ChainError

DEFAULT_CHUNK_BYTES = 32_000_000  # large enough that a task outweighs Dask's per-task cost (~1 ms)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Blocks of one blk file, consecutive in height: one task of each stage."""

    file_path: str
    xor_key: bytes
    blocks: tuple[tuple[int, bytes, int, int], ...]  # (height, hash, offset, length)

    @property
    def size_bytes(self) -> int:
        return sum(length for _, _, _, length in self.blocks)


@dataclass(frozen=True, slots=True)
class ParallelScan:
    """The sequential walk's answer: events in chain order, and the watched outputs left unspent."""

    events: tuple[ScanEvent, ...]
    unspent: tuple[Credit, ...]


def chunks(source: BlockFileSource, start_height: int, stop_height: int,
           chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[Chunk]:
    """Blocks start..stop of the active chain, cut where the blk file changes or a chunk is full."""
    xor_key = read_xor_key(source.blocks_dir)
    found: list[Chunk] = []
    current: list[tuple[int, bytes, int, int]] = []
    current_file, current_bytes = None, 0
    for height in range(start_height, stop_height + 1):
        where = source.location(height)
        if current and (where.file_number != current_file or current_bytes + where.length > chunk_bytes):
            found.append(Chunk(_blk_path(source, current_file), xor_key, tuple(current)))
            current, current_bytes = [], 0
        current.append((height, source.hash_at(height), where.offset, where.length))
        current_file, current_bytes = where.file_number, current_bytes + where.length
    if current:
        found.append(Chunk(_blk_path(source, current_file), xor_key, tuple(current)))
    return found


def _blk_path(source: BlockFileSource, file_number: int) -> str:
    return str(Path(source.blocks_dir) / f"blk{file_number:05d}.dat")


def _read_chunk(chunk: Chunk) -> Iterable[tuple[int, bytes]]:
    """(height, block bytes) of a chunk, each checked against the hash the coordinator indexed."""
    fd = os.open(chunk.file_path, os.O_RDONLY)
    try:
        for height, block_hash, offset, length in chunk.blocks:
            data = deobfuscate(os.pread(fd, length, offset), chunk.xor_key, offset)
            if len(data) != length or sha256d(data[:BLOCK_HEADER_SIZE]) != block_hash:
                raise ChainError(f"{chunk.file_path} changed at offset {offset} since it was indexed "
                                 f"(expected block {block_hash[::-1].hex()} at height {height})")
            yield height, data
    finally:
        os.close(fd)


def find_credits(chunk: Chunk, watch: frozenset[bytes]) -> bytes:
    """Stage 1, on a worker: the outputs of the chunk's blocks that pay the watch set (packed)."""
    scanner = Scanner(watch)
    return pack([e for height, data in _read_chunk(chunk) for e in scanner.scan_raw_block(height, data)
                 if isinstance(e, Credit)])


def walk_chunk(chunk: Chunk, watch: frozenset[bytes], unspent: bytes, with_tx_facts: bool) -> bytes:
    """Stage 2, on a worker: the chunk's events (packed), every credit of the range and the seed known."""
    scanner = Scanner(watch, _unpacked_once(unspent), with_tx_facts=with_tx_facts)
    return pack([e for height, data in _read_chunk(chunk) for e in scanner.scan_raw_block(height, data)])


_last_unpacked: list = [None, ()]  # (the packed bytes, its events): every stage-2 task of a worker gets the same


def _unpacked_once(data: bytes) -> list[ScanEvent]:
    if _last_unpacked[0] is not data:
        _last_unpacked[:] = [data, unpack(data)]
    return _last_unpacked[1]


# Events cross between processes as plain tuples in one pickle: a frozen dataclass pickles
# through __setstate__ field by field, and Dask then inspects every element of a collection; for
# 200,000 events that took 20 s where the walk took half of one.
_CREDIT, _DEBIT, _FACTS = 0, 1, 2


def pack(events: Iterable[ScanEvent]) -> bytes:
    rows: list[tuple] = []
    for e in events:
        if isinstance(e, Credit):
            rows.append((_CREDIT, e.txid, e.vout, e.value_sat, e.script_pubkey, e.height))
        elif isinstance(e, Debit):
            rows.append((_DEBIT, e.outpoint.txid, e.outpoint.vout, e.value_sat, e.script_pubkey, e.spending_txid,
                         e.height))
        else:
            rows.append((_FACTS, e.txid, e.height, e.tx_index, e.input_count, e.output_count, e.output_total_sat))
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes) -> list[ScanEvent]:
    events: list[ScanEvent] = []
    for kind, *fields in pickle.loads(data):
        if kind == _CREDIT:
            events.append(Credit(*fields))
        elif kind == _DEBIT:
            txid, vout, value_sat, script, spending_txid, height = fields
            events.append(Debit(OutPoint(txid, vout), value_sat, script, spending_txid, height))
        else:
            events.append(TxFacts(*fields))
    return events


def parallel_scan(
    source: BlockFileSource,
    watch_scripts: Iterable[bytes],
    start_height: int,
    stop_height: int,
    *,
    unspent: Iterable[Credit] = (),
    with_tx_facts: bool = False,
    scheduler_address: str | None = None,
    workers: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    processes: bool = True,
    on_chunk: Callable[[int, int], None] | None = None,
) -> ParallelScan:
    """The events of `watch_scripts` in blocks start..stop (inclusive), as `Scanner.scan` finds them.

    Runs on the Dask scheduler at `scheduler_address` (e.g. "tcp://10.0.0.5:8786"), else on a
    local cluster of `workers` processes (default: one per core) started for this call.
    `on_chunk(done, total)` is told as chunks finish, stage 1 then stage 2.
    """
    from dask.distributed import Client, LocalCluster, as_completed  # imported only where used

    watch = frozenset(watch_scripts)
    seed = tuple(unspent)
    parts = chunks(source, start_height, stop_height, chunk_bytes)
    total = 2 * len(parts)

    def run(client: Client) -> ParallelScan:
        done = 0
        # One object each, sent once to every worker (scatter would split a bare collection).
        [watch_future] = client.scatter([watch], broadcast=True)
        stage1 = client.map(find_credits, parts, watch=watch_future, pure=False)
        for _ in as_completed(stage1):
            done += 1
            if on_chunk:
                on_chunk(done, total)
        found = pack(seed + tuple(credit for part in client.gather(stage1) for credit in unpack(part)))
        [known] = client.scatter([found], broadcast=True)
        stage2 = client.map(walk_chunk, parts, watch=watch_future, unspent=known, with_tx_facts=with_tx_facts,
                            pure=False)
        for _ in as_completed(stage2):
            done += 1
            if on_chunk:
                on_chunk(done, total)
        events = tuple(event for part in client.gather(stage2) for event in unpack(part))  # in height order
        return ParallelScan(events, _replay(seed, events))

    if scheduler_address is not None:
        with Client(scheduler_address) as client:
            return run(client)
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return run(client)


def _replay(seed: tuple[Credit, ...], events: tuple[ScanEvent, ...]) -> tuple[Credit, ...]:
    """The unspent outputs after `events`, in the order the sequential walk's mapping keeps them."""
    unspent = {c.outpoint.serialize(): c for c in seed}
    for event in events:
        if isinstance(event, Credit):
            unspent[event.outpoint.serialize()] = event
        elif isinstance(event, Debit):
            unspent.pop(event.outpoint.serialize(), None)
    return tuple(unspent.values())
