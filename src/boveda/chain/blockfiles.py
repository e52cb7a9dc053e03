"""Bitcoin Core's blk*.dat and rev*.dat files read directly: the fast path to blocks and undo data.

No lock is taken: blk/rev files are append-only and can be read while bitcoind runs. The active
chain comes from a kernel (any authoritative ChainSource) when given, else from chain work.
"""

from __future__ import annotations

import collections
import functools
import itertools
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.block import BLOCK_HEADER_SIZE, Block, BlockHeader
from boveda.bitcoin.codec import read_compact_size
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.network import Network
from boveda.chain.blockfile_records import (  # noqa: F401  (the record layer is part of this module's API)
    _ZERO_MAGIC,
    NO_XOR_KEY,
    RECORD_HEADER_SIZE,
    UNDO_CHECKSUM_SIZE,
    XOR_KEY_SIZE,
    UndoRecord,
    _is_padding,
    _read_file,
    _records,
    _SmallXor,
    _wrong_magic,
    block_records,
    deobfuscate,
    read_block_file,
    read_undo_file,
    read_xor_key,
    undo_records,
)
from boveda.chain.kernel import check_datadir, network_dir
from boveda.chain.source import BlockRef, ChainSource, RawBlock, SpentBlock
from boveda.chain.undo import block_undo_prevouts, undo_checksum
from boveda.errors import ChainError, CodecError

_NULL_HASH = bytes(32)
_BLK_NAME = re.compile(r"blk(\d{5,})\.dat")
# Record header, block header and the largest CompactSize transaction count.
_PROBE_SIZE = RECORD_HEADER_SIZE + BLOCK_HEADER_SIZE + 9
_OPEN_FILES = 4
_CACHED_UNDO_FILES = 2


@dataclass(frozen=True, slots=True)
class BlockLocation:
    """Where a block's bytes are: file blkNNNNN.dat, offset just past its 8-byte record header."""

    file_number: int
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class _IndexedBlock:
    hash: bytes
    prev_hash: bytes
    bits: int
    tx_count: int
    location: BlockLocation


@dataclass(frozen=True, slots=True)
class _UndoLocation:
    offset: int
    length: int


def _tx_count(probe: bytes) -> int:
    first = probe[RECORD_HEADER_SIZE + BLOCK_HEADER_SIZE]
    if first < 0xFD:
        return first
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    start = RECORD_HEADER_SIZE + BLOCK_HEADER_SIZE + 1
    return int.from_bytes(probe[start : start + width], "little")


def _scan_block_file(
    path: Path, file_number: int, network: Network, small_xor: _SmallXor, *, being_written: bool
) -> list[_IndexedBlock]:
    """Every block record of one blk file, reading only each record's headers (one pread each).

    In the file a running node is `being_written`, a last record that runs past the end is not
    yet complete and is left out.
    """
    magic = network.magic
    found = []
    fd = os.open(path, os.O_RDONLY)
    try:
        file_size = os.fstat(fd).st_size
        pos = 0
        while pos + RECORD_HEADER_SIZE <= file_size:
            raw = os.pread(fd, _PROBE_SIZE, pos)
            probe = small_xor(raw, pos)
            record_magic = probe[:4]
            if record_magic != magic:
                if raw[:4] == _ZERO_MAGIC or record_magic == _ZERO_MAGIC:
                    break  # the pre-allocated padding
                raise _wrong_magic(record_magic, network, path.name, pos)
            length = int.from_bytes(probe[4:8], "little")
            payload_offset = pos + RECORD_HEADER_SIZE
            if being_written and length > BLOCK_HEADER_SIZE and payload_offset + length > file_size:
                break
            if length <= BLOCK_HEADER_SIZE or payload_offset + length > file_size:
                raise ChainError(f"{path.name} has a damaged or truncated record at offset {pos}")
            header = probe[RECORD_HEADER_SIZE : RECORD_HEADER_SIZE + BLOCK_HEADER_SIZE]
            found.append(
                _IndexedBlock(
                    sha256d(header),
                    header[4:36],
                    int.from_bytes(header[72:76], "little"),
                    _tx_count(probe),
                    BlockLocation(file_number, payload_offset, length),
                )
            )
            pos = payload_offset + length
    finally:
        os.close(fd)
    return found


@functools.cache
def _block_work(bits: int) -> int:
    """The expected number of hashes to find a block at `bits` (Core's GetBlockProof)."""
    target = BlockHeader(0, _NULL_HASH, _NULL_HASH, 0, bits, 0).target
    return 0 if target <= 0 else (1 << 256) // (target + 1)


class BlockFileSource:
    """The active chain of a Bitcoin Core data directory, read straight from its blk/rev files.

    `kernel`, when given, decides which blocks are active (and is checked against on every
    read); the caller keeps ownership of it. Without one, the active chain ends at the block with
    the most cumulative work among those that were connected (that have undo data), since a block
    stored on disk may still have failed validation.
    """

    def __init__(self, datadir: Path | str, network: Network, *, kernel: ChainSource | None = None) -> None:
        self.network = network
        self.datadir = Path(datadir).expanduser()
        self._kernel = kernel
        if kernel is not None and kernel.network is not network:
            raise ChainError(f"the kernel reads {kernel.network.value}, not {network.value}")
        self.blocks_dir = network_dir(self.datadir, network) / "blocks"
        block_files = self._block_files()
        self._xor_key = read_xor_key(self.blocks_dir)
        self._fds: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._maps: dict[int, mmap.mmap | None] = {}  # of the open files; None where a file cannot be mapped
        self._undo_data: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._undo_index: dict[int, dict[bytes, _UndoLocation]] = {}

        small_xor = _SmallXor(self._xor_key, _PROBE_SIZE)
        self._index: dict[bytes, _IndexedBlock] = {}
        self._by_file: dict[int, list[_IndexedBlock]] = {}
        last_file_number = block_files[-1][0]
        for file_number, path in block_files:
            being_written = file_number == last_file_number
            found = _scan_block_file(path, file_number, network, small_xor, being_written=being_written)
            self._by_file[file_number] = found
            for block in found:
                self._index.setdefault(block.hash, block)  # a re-stored duplicate is the same block
        self._height, self._chain_work = self._link()
        self._active = self._active_from_kernel(kernel) if kernel is not None else self._active_by_work()

    def _block_files(self) -> list[tuple[int, Path]]:
        files = []
        if self.blocks_dir.is_dir():
            for path in self.blocks_dir.iterdir():
                match = _BLK_NAME.fullmatch(path.name)
                if match:
                    files.append((int(match.group(1)), path))
        if not files:
            check_datadir(self.datadir, self.network)  # names a missing folder or another network's data
            raise ChainError(f"no blk*.dat block files in {self.blocks_dir}: the node has stored no blocks yet")
        return sorted(files)

    def _link(self) -> tuple[dict[bytes, int], dict[bytes, int]]:
        """Height and cumulative work of every block that links back to a genesis block."""
        children: dict[bytes, list[_IndexedBlock]] = collections.defaultdict(list)
        for block in self._index.values():
            children[block.prev_hash].append(block)
        height: dict[bytes, int] = {}
        work: dict[bytes, int] = {}
        frontier = [(b, 0, 0) for b in children.get(_NULL_HASH, ())]
        if not frontier:
            raise ChainError(
                f"the blk files in {self.blocks_dir} hold no genesis block: "
                "the node may be pruned, which is not supported"
            )
        while frontier:
            block, block_height, parent_work = frontier.pop()
            height[block.hash] = block_height
            work[block.hash] = parent_work + _block_work(block.bits)
            frontier.extend((child, block_height + 1, work[block.hash]) for child in children.get(block.hash, ()))
        return height, work

    def _chain_to(self, tip_hash: bytes) -> list[bytes]:
        hashes = []
        block_hash = tip_hash
        while block_hash != _NULL_HASH:
            hashes.append(block_hash)
            block_hash = self._index[block_hash].prev_hash
        hashes.reverse()
        return hashes

    def _active_from_kernel(self, kernel: ChainSource) -> list[bytes]:
        tip = kernel.tip()
        if tip.hash not in self._height:
            raise ChainError(
                f"the kernel's tip {tip.hash_hex} (height {tip.height}) is not in the blk files of {self.blocks_dir}"
            )
        active = self._chain_to(tip.hash)
        if len(active) != tip.height + 1:
            raise ChainError(
                f"the blk files put the kernel's tip {tip.hash_hex} at height {len(active) - 1}, not {tip.height}"
            )
        # The chain is hash-linked from the tip down, so agreeing on the tip is agreeing on all of it;
        # each read still checks its height against the kernel.
        return active

    def _active_by_work(self) -> list[bytes]:
        def rank(block_hash: bytes) -> tuple[int, int, int]:
            # Among equal work Core keeps the block it received first; file order approximates that.
            where = self._index[block_hash].location
            return -self._chain_work[block_hash], where.file_number, where.offset

        for block_hash in sorted(self._height, key=rank):
            where = self._index[block_hash].location
            if self._height[block_hash] == 0 or block_hash in self._undo_locations(where.file_number):
                return self._chain_to(block_hash)
        raise AssertionError("unreachable: the genesis block is always a candidate")

    # --- undo pairing ------------------------------------------------------------------

    def _undo_file(self, file_number: int) -> bytes:
        data = self._undo_data.get(file_number)
        if data is None:
            path = self.blocks_dir / f"rev{file_number:05d}.dat"
            data = _read_file(path, self._xor_key) if path.exists() else b""
            self._undo_data[file_number] = data
            if len(self._undo_data) > _CACHED_UNDO_FILES:
                self._undo_data.popitem(last=False)
        else:
            self._undo_data.move_to_end(file_number)
        return data

    def _undo_locations(self, file_number: int) -> dict[bytes, _UndoLocation]:
        """Which undo record of revNNNNN.dat belongs to which block of blkNNNNN.dat, by checksum.

        Records are in connect order, so the expected block (the next by height) is tried first;
        only a record of a reorganised-away block makes us try others.
        """
        paired = self._undo_index.get(file_number)
        if paired is not None:
            return paired
        paired = {}
        data = self._undo_file(file_number)
        rev_name = f"rev{file_number:05d}.dat"
        candidates = sorted(
            (b for b in self._by_file.get(file_number, ()) if self._height.get(b.hash, 0) > 0),
            key=lambda b: (self._height[b.hash], b.location.offset),
        )
        next_index = 0
        passed_over: list[int] = []  # candidates before next_index still without a record
        for offset, length in undo_records(data, self.network, xor_key=self._xor_key, file_name=rev_name):
            undo = memoryview(data)[offset : offset + length]
            checksum = data[offset + length : offset + length + UNDO_CHECKSUM_SIZE]
            try:
                undo_tx_count, _ = read_compact_size(undo)
            except CodecError as exc:
                raise ChainError(f"{rev_name} has a damaged undo record at offset {offset}: {exc}") from None
            while next_index < len(candidates) and candidates[next_index].hash in paired:
                next_index += 1
            if next_index >= len(candidates) and not passed_over:
                continue  # a record of no block we hold
            order = itertools.chain((next_index,), tuple(passed_over), range(next_index + 1, len(candidates)))
            for i in order:
                if i >= len(candidates):
                    continue
                block = candidates[i]
                if block.tx_count - 1 == undo_tx_count and undo_checksum(block.prev_hash, undo) == checksum:
                    paired[block.hash] = _UndoLocation(offset, length)
                    if i in passed_over:
                        passed_over.remove(i)
                    elif i > next_index:
                        passed_over.extend(range(next_index, i))
                        next_index = i + 1
                    else:
                        next_index += 1
                    break
        self._undo_index[file_number] = paired
        return paired

    # --- reading -----------------------------------------------------------------------

    def _fd(self, file_number: int) -> int:
        fd = self._fds.get(file_number)
        if fd is None:
            fd = os.open(self.blocks_dir / f"blk{file_number:05d}.dat", os.O_RDONLY)
            self._fds[file_number] = fd
            if len(self._fds) > _OPEN_FILES:
                evicted, old_fd = self._fds.popitem(last=False)
                self._unmap(evicted)
                os.close(old_fd)
        else:
            self._fds.move_to_end(file_number)
        return fd

    def _mapped(self, file_number: int, fd: int) -> mmap.mmap | None:
        if file_number not in self._maps:
            try:
                self._maps[file_number] = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # an empty file, or a system that will not map it: pread instead
                self._maps[file_number] = None
        return self._maps[file_number]

    def _unmap(self, file_number: int) -> None:
        mapped = self._maps.pop(file_number, None)
        if mapped is not None:
            mapped.close()

    def _read_block(self, block: _IndexedBlock) -> bytes:
        """The block's bytes, deobfuscated. Read through a map of the file where one fits (the XOR then reads
        the page cache itself: one copy instead of pread's two, half the time of reading a block), else pread."""
        where = block.location
        fd = self._fd(where.file_number)
        mapped = self._mapped(where.file_number, fd)
        end = where.offset + where.length
        # Only inside the file as mapped and as it is now: a file cut short since is read by pread, which
        # returns short (a clean error below) where a map would fault.
        if mapped is not None and end <= len(mapped) and end <= os.fstat(fd).st_size:
            with memoryview(mapped)[where.offset:end] as view:
                data = deobfuscate(view, self._xor_key, where.offset)
        else:
            data = deobfuscate(os.pread(fd, where.length, where.offset), self._xor_key, where.offset)
        if len(data) != where.length or sha256d(data[:BLOCK_HEADER_SIZE]) != block.hash:
            raise ChainError(
                f"blk{where.file_number:05d}.dat changed at offset {where.offset} since it was indexed "
                f"(expected block {block.hash[::-1].hex()})"
            )
        return data

    def _read_undo(self, block: _IndexedBlock, height: int) -> bytes:
        file_number = block.location.file_number
        where = self._undo_locations(file_number).get(block.hash)
        if where is None:
            raise ChainError(
                f"no undo data for block {block.hash[::-1].hex()} at height {height} in rev{file_number:05d}.dat"
            )
        return self._undo_file(file_number)[where.offset : where.offset + where.length]

    def _check_height(self, height: int) -> None:
        tip_height = len(self._active) - 1
        if not 0 <= height <= tip_height:
            raise ChainError(f"height {height} is outside the active chain (0..{tip_height})")

    def tip(self) -> BlockRef:
        return BlockRef(len(self._active) - 1, self._active[-1])

    def hash_at(self, height: int) -> bytes:
        self._check_height(height)
        return self._active[height]

    def location(self, height: int) -> BlockLocation:
        """Where the active chain's block at `height` is stored."""
        return self._index[self.hash_at(height)].location

    def raw_blocks(self, start_height: int, stop_height: int, *, with_undo: bool = True) -> Iterator[RawBlock]:
        """Blocks start_height..stop_height inclusive as stored, with their undo bytes; nothing is parsed.

        `with_undo=False` leaves `undo` empty and reads no rev file (the scanner needs none).
        """
        self._check_height(start_height)
        self._check_height(stop_height)
        kernel = self._kernel
        for height in range(start_height, stop_height + 1):
            block_hash = self._active[height]
            if kernel is not None and kernel.hash_at(height) != block_hash:
                raise ChainError(
                    f"the blk files and the kernel disagree at height {height}: "
                    f"{block_hash[::-1].hex()} vs {kernel.hash_at(height)[::-1].hex()}"
                )
            block = self._index[block_hash]
            undo = self._read_undo(block, height) if height > 0 and with_undo else b""
            yield RawBlock(height, block_hash, self._read_block(block), undo)

    def blocks(self, start_height: int, stop_height: int) -> Iterator[SpentBlock]:
        for raw in self.raw_blocks(start_height, stop_height):
            try:
                block = Block.parse(raw.block)
                prevouts = block_undo_prevouts(raw.undo) if raw.height > 0 else ()
            except CodecError as exc:
                raise ChainError(
                    f"block {raw.hash[::-1].hex()} at height {raw.height} does not decode: {exc}"
                ) from None
            spending = block.transactions[1:]
            if len(prevouts) != len(spending) or any(
                len(coins) != len(tx.inputs) for coins, tx in zip(prevouts, spending)
            ):
                raise ChainError(f"the undo data of block {raw.hash[::-1].hex()} does not match its inputs")
            yield SpentBlock(raw.height, block, prevouts)

    def close(self) -> None:
        for file_number in list(self._maps):
            self._unmap(file_number)
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._undo_data.clear()

    def __enter__(self) -> BlockFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
