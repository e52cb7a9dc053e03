"""Blocks and headers, and the commitments a header makes to its transactions."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from boveda.bitcoin.codec import Reader, encode_compact_size, read_exactly
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.tx import Transaction
from boveda.errors import CodecError

BLOCK_HEADER_SIZE = 80
WITNESS_COMMITMENT_PREFIX = bytes.fromhex("6a24aa21a9ed")
_HEADER = struct.Struct("<i32s32sIII")
assert _HEADER.size == BLOCK_HEADER_SIZE


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int

    def serialize(self) -> bytes:
        return _HEADER.pack(self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce)

    @classmethod
    def parse(cls, data: bytes) -> BlockHeader:
        if len(data) != BLOCK_HEADER_SIZE:
            raise CodecError(f"a block header is {BLOCK_HEADER_SIZE} bytes, got {len(data)}")
        return cls(*_HEADER.unpack(data))

    @property
    def hash(self) -> bytes:
        return sha256d(self.serialize())

    @property
    def hash_hex(self) -> str:
        return self.hash[::-1].hex()

    @property
    def prev_hash_hex(self) -> str:
        return self.prev_hash[::-1].hex()

    @property
    def target(self) -> int:
        exponent, mantissa = self.bits >> 24, self.bits & 0x007FFFFF
        return mantissa << (8 * (exponent - 3)) if exponent > 3 else mantissa >> (8 * (3 - exponent))

    def meets_target(self) -> bool:
        return int.from_bytes(self.hash, "little") <= self.target


@dataclass(frozen=True, slots=True)
class Block:
    header: BlockHeader
    transactions: tuple[Transaction, ...]

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def hash_hex(self) -> str:
        return self.header.hash_hex

    def serialize(self) -> bytes:
        return b"".join(
            [self.header.serialize(), encode_compact_size(len(self.transactions))]
            + [tx.serialize() for tx in self.transactions]
        )

    @classmethod
    def read_from(cls, reader: Reader) -> Block:
        header = BlockHeader.parse(reader.read(BLOCK_HEADER_SIZE))
        return cls(header, tuple(Transaction.read_from(reader) for _ in range(reader.compact_size())))

    @classmethod
    def parse(cls, data: bytes) -> Block:
        return read_exactly(data, cls.read_from, "block")

    def computed_merkle_root(self) -> bytes:
        return merkle_root([tx.txid for tx in self.transactions])

    def witness_commitment(self) -> bytes | None:
        """The commitment in the coinbase's last output starting 6a24aa21a9ed, if any (BIP-141)."""
        for txout in reversed(self.transactions[0].outputs):
            script = txout.script_pubkey
            if len(script) >= 38 and script.startswith(WITNESS_COMMITMENT_PREFIX):
                return script[6:38]
        return None

    def computed_witness_commitment(self) -> bytes:
        """sha256d(witness merkle root || reserved value), the coinbase's wtxid taken as zero."""
        wtxids = [bytes(32)] + [tx.wtxid for tx in self.transactions[1:]]
        reserved = self.transactions[0].inputs[0].witness
        reserved_value = reserved[0] if len(reserved) == 1 else bytes(32)
        return sha256d(merkle_root(wtxids) + reserved_value)


def merkle_root(hashes: list[bytes]) -> bytes:
    """Bitcoin's merkle root: pairs hashed with sha256d, an odd level's last node paired with itself."""
    if not hashes:
        raise CodecError("a merkle root needs at least one hash (a block holds at least its coinbase)")
    level = list(hashes)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]
