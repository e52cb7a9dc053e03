"""Transactions: outpoints, inputs, outputs, witness stacks, and their BIP-144 serialisation.

Hashes (txid, prevout txid) are held in internal byte order, as on the wire; the
`*_hex` properties give the reversed, displayed form.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from boveda.bitcoin.codec import Reader, encode_compact_size, read_exactly
from boveda.bitcoin.hashes import sha256d
from boveda.errors import CodecError

NULL_TXID = bytes(32)
COINBASE_VOUT = 0xFFFFFFFF
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")


def txid_from_hex(txid_hex: str) -> bytes:
    """Displayed txid (64 hex digits) to internal byte order; raises CodecError on bad input."""
    try:
        raw = bytes.fromhex(txid_hex)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise CodecError(f"not a txid: {txid_hex!r} (expected 64 hex digits)")
    return raw[::-1]


def encode_witness(witness: Sequence[bytes]) -> bytes:
    """A witness stack as BIP-144 serialises it: a count, then each item with its length."""
    parts = [encode_compact_size(len(witness))]
    for item in witness:
        parts += (encode_compact_size(len(item)), item)
    return b"".join(parts)


def read_witness(reader: Reader) -> tuple[bytes, ...]:
    return tuple(reader.var_bytes() for _ in range(reader.compact_size()))


def decode_witness(data: bytes) -> tuple[bytes, ...]:
    """The witness stack `data` encodes; CodecError on truncation, non-canonical sizes or trailing bytes."""
    return read_exactly(data, read_witness, "witness stack")


@dataclass(frozen=True, slots=True)
class OutPoint:
    txid: bytes
    vout: int

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()

    def serialize(self) -> bytes:
        return self.txid + _U32.pack(self.vout)

    def is_null(self) -> bool:
        return self.txid == NULL_TXID and self.vout == COINBASE_VOUT

    def __str__(self) -> str:
        return f"{self.txid_hex}:{self.vout}"


@dataclass(frozen=True, slots=True)
class TxIn:
    prevout: OutPoint
    script_sig: bytes = b""
    sequence: int = 0xFFFFFFFF
    witness: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class TxOut:
    value_sat: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return _I64.pack(self.value_sat) + encode_compact_size(len(self.script_pubkey)) + self.script_pubkey


@dataclass(frozen=True, slots=True)
class Transaction:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int = 0

    @property
    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    @property
    def is_coinbase(self) -> bool:
        return len(self.inputs) == 1 and self.inputs[0].prevout.is_null()

    @property
    def txid(self) -> bytes:
        return sha256d(self.serialize(with_witness=False))

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()

    @property
    def wtxid(self) -> bytes:
        return sha256d(self.serialize(with_witness=True))

    def serialize(self, *, with_witness: bool = True) -> bytes:
        with_witness = with_witness and self.has_witness
        parts = [_I32.pack(self.version)]
        if with_witness:
            parts.append(b"\x00\x01")
        parts.append(encode_compact_size(len(self.inputs)))
        for txin in self.inputs:
            parts += (
                txin.prevout.serialize(),
                encode_compact_size(len(txin.script_sig)),
                txin.script_sig,
                _U32.pack(txin.sequence),
            )
        parts.append(encode_compact_size(len(self.outputs)))
        parts += (txout.serialize() for txout in self.outputs)
        if with_witness:
            parts += (encode_witness(txin.witness) for txin in self.inputs)
        parts.append(_U32.pack(self.locktime))
        return b"".join(parts)

    @classmethod
    def read_from(cls, reader: Reader) -> Transaction:
        version = reader.i32()
        input_count = reader.compact_size()
        segwit = False
        if input_count == 0:
            flag = reader.u8()
            if flag != 1:
                raise CodecError(f"unknown segwit flag {flag} at offset {reader.pos - 1}")
            segwit = True
            input_count = reader.compact_size()
        raw_inputs = []
        for _ in range(input_count):
            prevout = OutPoint(reader.read(32), reader.u32())
            raw_inputs.append((prevout, reader.var_bytes(), reader.u32()))
        outputs = tuple(TxOut(reader.u64(), reader.var_bytes()) for _ in range(reader.compact_size()))
        witnesses: list[tuple[bytes, ...]] = [()] * input_count
        if segwit:
            witnesses = [read_witness(reader) for _ in range(input_count)]
            if not any(witnesses):
                raise CodecError("segwit marker on a transaction without witness data")
        locktime = reader.u32()
        inputs = tuple(TxIn(p, s, q, w) for (p, s, q), w in zip(raw_inputs, witnesses))
        return cls(version, inputs, outputs, locktime)

    @classmethod
    def parse(cls, data: bytes) -> Transaction:
        return read_exactly(data, cls.read_from, "transaction")

    @classmethod
    def from_hex(cls, tx_hex: str) -> Transaction:
        try:
            data = bytes.fromhex(tx_hex)
        except ValueError as error:
            raise CodecError(f"not a transaction in hex: {error}") from None
        return cls.parse(data)
