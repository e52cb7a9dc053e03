"""The record layer of Bitcoin Core's blk*.dat and rev*.dat files: XOR obfuscation, network magic,
length-prefixed records, zero padding at the end of a pre-allocated file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from boveda.bitcoin.network import Network
from boveda.chain.undo import undo_checksum
from boveda.errors import ChainError

RECORD_HEADER_SIZE = 8  # network magic, then the payload length as LE32
UNDO_CHECKSUM_SIZE = 32
XOR_KEY_SIZE = 8
NO_XOR_KEY = bytes(XOR_KEY_SIZE)
_ZERO_MAGIC = bytes(4)

try:  # the compiled walk's XOR, where setup.py built it (BOVEDA_PURE_PYTHON=1 keeps to numpy)
    from boveda.chain._walk import xor as _compiled_xor
except ImportError:
    _compiled_xor = None
if os.environ.get("BOVEDA_PURE_PYTHON") == "1":
    _compiled_xor = None


# --- obfuscation -----------------------------------------------------------------------


def read_xor_key(blocks_dir: Path) -> bytes:
    """The key of `blocks/xor.dat`; all zero (no obfuscation) when the file is absent, as before Core 28."""
    path = Path(blocks_dir) / "xor.dat"
    if not path.exists():
        return NO_XOR_KEY
    key = path.read_bytes()
    if len(key) != XOR_KEY_SIZE:
        raise ChainError(f"{path} holds {len(key)} bytes, not an {XOR_KEY_SIZE}-byte obfuscation key")
    return key


def _rotated_key(xor_key: bytes, file_offset: int) -> bytes:
    shift = file_offset % XOR_KEY_SIZE
    return xor_key[shift:] + xor_key[:shift]


def deobfuscate(data: bytes | memoryview, xor_key: bytes, file_offset: int = 0) -> bytes:
    """`data`, read from absolute `file_offset` of a blk/rev file, XORed back with the folder's key."""
    if xor_key == NO_XOR_KEY:
        return bytes(data)
    if _compiled_xor is not None:  # one pass, one copy (numpy's takes two)
        return _compiled_xor(data, xor_key, file_offset)
    key = _rotated_key(xor_key, file_offset)
    size = len(data)
    whole = size - size % XOR_KEY_SIZE
    source = np.frombuffer(data, dtype=np.uint8)
    out = np.empty(size, dtype=np.uint8)
    # Eight bytes at a time against one 64-bit word: memory speed, no key stream to build.
    key_word = np.frombuffer(key, dtype=np.uint64)[0]
    np.bitwise_xor(source[:whole].view(np.uint64), key_word, out=out[:whole].view(np.uint64))
    np.bitwise_xor(source[whole:], np.frombuffer(key[: size - whole], dtype=np.uint8), out=out[whole:])
    return out.tobytes()


class _SmallXor:
    """XOR for short reads (record probes), with big-int arithmetic instead of numpy's call overhead."""

    def __init__(self, xor_key: bytes, size: int) -> None:
        self.identity = xor_key == NO_XOR_KEY
        stream = xor_key * (size // XOR_KEY_SIZE + 2)
        self._keys = [int.from_bytes(stream[shift : shift + size], "little") for shift in range(XOR_KEY_SIZE)]

    def __call__(self, data: bytes, file_offset: int) -> bytes:
        if self.identity:
            return data
        key = self._keys[file_offset % XOR_KEY_SIZE] & ((1 << (8 * len(data))) - 1)
        return (int.from_bytes(data, "little") ^ key).to_bytes(len(data), "little")


# --- record framing --------------------------------------------------------------------


def _wrong_magic(magic: bytes, network: Network, file_name: str, offset: int) -> ChainError:
    for other in Network:
        if magic == other.magic:
            return ChainError(
                f"{file_name} holds {other.value} records (magic {magic.hex()}) at offset {offset}, "
                f"not {network.value} ones: pass the network the data belongs to"
            )
    return ChainError(
        f"{file_name} has unexpected bytes {magic.hex()} at offset {offset}: not a {network.value} record"
    )


def _is_padding(magic_bytes: bytes, xor_key: bytes, offset: int) -> bool:
    """Whether deobfuscated bytes at `offset` are the zeros Core pre-allocates files with.

    Core writes the padding unobfuscated, so it reads back as the key; a node without a key
    (or a loose file) has plain zeros.
    """
    return magic_bytes == _ZERO_MAGIC or magic_bytes == _rotated_key(xor_key, offset)[:4]


def _records(
    data: bytes, network: Network, trailer_size: int, file_name: str, xor_key: bytes
) -> Iterator[tuple[int, int]]:
    magic = network.magic
    size = len(data)
    pos = 0
    while pos + RECORD_HEADER_SIZE <= size:
        record_magic = data[pos : pos + 4]
        if record_magic != magic:
            if _is_padding(record_magic, xor_key, pos):
                return
            raise _wrong_magic(record_magic, network, file_name, pos)
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        payload_offset = pos + RECORD_HEADER_SIZE
        pos = payload_offset + length + trailer_size
        if pos > size:
            raise ChainError(f"{file_name} is truncated: the record at offset {payload_offset - 8} runs past its end")
        yield payload_offset, length


def block_records(
    data: bytes, network: Network, *, xor_key: bytes = NO_XOR_KEY, file_name: str = "block file"
) -> Iterator[tuple[int, int]]:
    """(offset, length) of each block in deobfuscated blk-file bytes, up to the padding.

    `xor_key` is the key `data` was deobfuscated with; it tells the padding apart.
    """
    return _records(data, network, 0, file_name, xor_key)


def undo_records(
    data: bytes, network: Network, *, xor_key: bytes = NO_XOR_KEY, file_name: str = "undo file"
) -> Iterator[tuple[int, int]]:
    """(offset, length) of each undo payload in deobfuscated rev-file bytes; its checksum follows it."""
    return _records(data, network, UNDO_CHECKSUM_SIZE, file_name, xor_key)


@dataclass(frozen=True, slots=True)
class UndoRecord:
    """One record of a rev file: a CBlockUndo and the checksum that ties it to its block."""

    undo: bytes
    checksum: bytes

    def pairs_with(self, prev_block_hash: bytes) -> bool:
        """Whether this is the undo data of the block whose parent is `prev_block_hash`."""
        return undo_checksum(prev_block_hash, self.undo) == self.checksum


def _read_file(path: Path, xor_key: bytes) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ChainError(f"cannot read {path}: {exc.strerror}") from None
    return deobfuscate(raw, xor_key)


def read_block_file(path: Path | str, network: Network, *, xor_key: bytes = NO_XOR_KEY) -> Iterator[bytes]:
    """The serialised blocks of one blk file, in file order (not height order)."""
    path = Path(path)
    data = _read_file(path, xor_key)
    for offset, length in block_records(data, network, xor_key=xor_key, file_name=path.name):
        yield data[offset : offset + length]


def read_undo_file(path: Path | str, network: Network, *, xor_key: bytes = NO_XOR_KEY) -> Iterator[UndoRecord]:
    """The undo records of one rev file, in the order their blocks were connected."""
    path = Path(path)
    data = _read_file(path, xor_key)
    for offset, length in undo_records(data, network, xor_key=xor_key, file_name=path.name):
        end = offset + length
        yield UndoRecord(data[offset:end], data[end : end + UNDO_CHECKSUM_SIZE])


# --- the block index -------------------------------------------------------------------
