"""Bitcoin Core's undo data (CBlockUndo in rev*.dat): the coins each block spent, compressed.

Formats follow Core's undo.h (TxInUndoFormatter), compressor.h/.cpp (amount and script
compression) and serialize.h (the MSB base-128 VarInt, which is not CompactSize).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve

from boveda.bitcoin.codec import encode_compact_size, read_compact_size
from boveda.bitcoin.script import p2pk, p2pkh_of_hash, p2sh_of_hash
from boveda.bitcoin.tx import TxOut
from boveda.errors import CodecError

SPECIAL_SCRIPT_COUNT = 6
MAX_SCRIPT_SIZE = 10_000
_UINT64_MAX = (1 << 64) - 1
_OP_RETURN_SCRIPT = b"\x6a"
_SPECIAL_SCRIPT_SIZES = (20, 20, 32, 32, 32, 32)
_P2PKH_PREFIX, _P2PKH_SUFFIX = b"\x76\xa9\x14", b"\x88\xac"
_P2SH_PREFIX, _P2SH_SUFFIX = b"\xa9\x14", b"\x87"
_OP_CHECKSIG = 0xAC


@dataclass(frozen=True, slots=True)
class SpentCoin:
    """An output a block spent, as its undo record keeps it."""

    output: TxOut
    height: int  # the height of the block that created the output
    is_coinbase: bool


# --- VarInt (serialize.h) -------------------------------------------------------------


def encode_varint(n: int) -> bytes:
    """Core's VarInt: base 128, most significant group first, each continuation minus one."""
    if n < 0:
        raise CodecError(f"a VarInt holds no negative number, not {n}")
    groups = [n & 0x7F]
    while n > 0x7F:
        n = (n >> 7) - 1
        groups.append((n & 0x7F) | 0x80)
    return bytes(reversed(groups))


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The VarInt at `pos` and the position after it; CodecError if truncated or over 64 bits."""
    n = 0
    try:
        while True:
            byte = data[pos]
            pos += 1
            if n > _UINT64_MAX >> 7:
                raise CodecError(f"VarInt over 64 bits ending at offset {pos}")
            n = (n << 7) | (byte & 0x7F)
            if byte & 0x80:
                n += 1
            else:
                return n, pos
    except IndexError:
        raise CodecError(f"truncated VarInt at offset {pos}") from None


# --- amounts (compressor.cpp) ---------------------------------------------------------


def compress_amount(value_sat: int) -> int:
    """CompressAmount: trailing decimal zeros folded into the low digit, so round amounts stay short."""
    if not 0 <= value_sat <= _UINT64_MAX:
        raise CodecError(f"amount {value_sat} is outside 0..2^64-1")
    if value_sat == 0:
        return 0
    exponent = 0
    while value_sat % 10 == 0 and exponent < 9:
        value_sat //= 10
        exponent += 1
    if exponent < 9:
        last_digit = value_sat % 10
        return 1 + (value_sat // 10 * 9 + last_digit - 1) * 10 + exponent
    return 1 + (value_sat - 1) * 10 + 9


def decompress_amount(compressed: int) -> int:
    """DecompressAmount, the inverse of compress_amount; CodecError past 64 bits (Core would wrap)."""
    if compressed == 0:
        return 0
    compressed -= 1
    exponent = compressed % 10
    compressed //= 10
    if exponent < 9:
        last_digit = compressed % 9 + 1
        value_sat = compressed // 9 * 10 + last_digit
    else:
        value_sat = compressed + 1
    value_sat *= 10**exponent
    if value_sat > _UINT64_MAX:
        raise CodecError(f"compressed amount decodes to {value_sat}, beyond 64 bits")
    return value_sat


# --- scripts (compressor.cpp) ---------------------------------------------------------


def _compressed_special(script: bytes) -> bytes | None:
    """The 21- or 33-byte special form of `script`, or None when it has none."""
    size = len(script)
    if size == 25 and script[:3] == _P2PKH_PREFIX and script[23:] == _P2PKH_SUFFIX:
        return b"\x00" + script[3:23]
    if size == 23 and script[:2] == _P2SH_PREFIX and script[22:] == _P2SH_SUFFIX:
        return b"\x01" + script[2:22]
    if size == 35 and script[0] == 33 and script[34] == _OP_CHECKSIG and script[1] in (2, 3):
        return script[1:34]
    if size == 67 and script[0] == 65 and script[66] == _OP_CHECKSIG and script[1] == 4:
        try:
            coincurve.PublicKey(script[1:66])
        except ValueError:
            return None  # not a point on the curve: Core keeps such keys uncompressed
        return bytes((4 | (script[65] & 1),)) + script[2:34]
    return None


def compress_script(script_pubkey: bytes) -> bytes:
    """ScriptCompression's serialisation: a special form, else VarInt(size + 6) and the script."""
    special = _compressed_special(script_pubkey)
    if special is not None:
        return special
    return encode_varint(len(script_pubkey) + SPECIAL_SCRIPT_COUNT) + script_pubkey


def _special_script(kind: int, payload: bytes) -> bytes:
    if kind == 0:
        return p2pkh_of_hash(payload)
    if kind == 1:
        return p2sh_of_hash(payload)
    if kind in (2, 3):
        return p2pk(bytes((kind,)) + payload)
    try:
        point = coincurve.PublicKey(bytes((kind - 2,)) + payload).format(compressed=False)
    except ValueError:
        raise CodecError(f"compressed P2PK key {payload.hex()} is not on the curve") from None
    return p2pk(point)


def read_compressed_script(data: bytes, pos: int) -> tuple[bytes, int]:
    """The script compressed at `pos` and the position after it."""
    size_code, pos = read_varint(data, pos)
    if size_code < SPECIAL_SCRIPT_COUNT:
        end = pos + _SPECIAL_SCRIPT_SIZES[size_code]
        if end > len(data):
            raise CodecError(f"truncated compressed script at offset {pos}")
        return _special_script(size_code, data[pos:end]), end
    size = size_code - SPECIAL_SCRIPT_COUNT
    end = pos + size
    if end > len(data):
        raise CodecError(f"truncated script of {size} bytes at offset {pos}")
    if size > MAX_SCRIPT_SIZE:
        return _OP_RETURN_SCRIPT, end  # as Core does: an overlong script becomes a short unspendable one
    return data[pos:end], end


def decompress_script(data: bytes) -> bytes:
    """The script `compress_script` gave `data` for; refuses trailing bytes."""
    script, pos = read_compressed_script(data, 0)
    if pos != len(data):
        raise CodecError(f"{len(data) - pos} trailing bytes after a compressed script")
    return script


# --- coins and blocks (undo.h) --------------------------------------------------------


def serialize_spent_coin(coin: SpentCoin) -> bytes:
    parts = [encode_varint(coin.height * 2 + coin.is_coinbase)]
    if coin.height > 0:
        parts.append(b"\x00")  # the dummy version Core still writes for compatibility
    parts += (encode_varint(compress_amount(coin.output.value_sat)), compress_script(coin.output.script_pubkey))
    return b"".join(parts)


def serialize_block_undo(spent: Sequence[Sequence[SpentCoin]]) -> bytes:
    """CBlockUndo for a block whose non-coinbase transactions spent `spent[i]`, in input order."""
    parts = [encode_compact_size(len(spent))]
    for coins in spent:
        parts.append(encode_compact_size(len(coins)))
        parts += (serialize_spent_coin(coin) for coin in coins)
    return b"".join(parts)


def parse_block_undo(data: bytes) -> tuple[tuple[SpentCoin, ...], ...]:
    """Decodes a CBlockUndo: per non-coinbase transaction, the coins its inputs spent, in input order."""
    tx_count, pos = read_compact_size(data, 0)
    if tx_count > len(data):
        raise CodecError(f"undo data claims {tx_count} transactions in {len(data)} bytes")
    block_spent = []
    for _ in range(tx_count):
        coin_count, pos = read_compact_size(data, pos)
        if coin_count > len(data) - pos:
            raise CodecError(f"undo data claims {coin_count} coins with {len(data) - pos} bytes left")
        coins = []
        for _ in range(coin_count):
            code, pos = read_varint(data, pos)
            height = code >> 1
            if height > 0:
                _, pos = read_varint(data, pos)
            compressed_amount, pos = read_varint(data, pos)
            script, pos = read_compressed_script(data, pos)
            coins.append(SpentCoin(TxOut(decompress_amount(compressed_amount), script), height, bool(code & 1)))
        block_spent.append(tuple(coins))
    if pos != len(data):
        raise CodecError(f"{len(data) - pos} trailing bytes after block undo data")
    return tuple(block_spent)


def block_undo_prevouts(data: bytes) -> tuple[tuple[TxOut, ...], ...]:
    """Just the spent outputs of a CBlockUndo, shaped like SpentBlock.prevouts."""
    return tuple(tuple(coin.output for coin in coins) for coins in parse_block_undo(data))


def undo_checksum(prev_block_hash: bytes, undo: bytes) -> bytes:
    """The checksum Core writes after an undo record: sha256d(previous block hash ‖ undo bytes)."""
    inner = hashlib.sha256(prev_block_hash)
    inner.update(undo)
    return hashlib.sha256(inner.digest()).digest()
