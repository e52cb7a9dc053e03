"""Output scripts: what kind a script_pubkey is, and builders for the standard kinds.

The kinds and their templates follow Bitcoin Core's `Solver` (script/solver.cpp).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence

from boveda.bitcoin.hashes import hash160, sha256

OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1 = 0x51
OP_16 = 0x60
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC
OP_CHECKMULTISIG = 0xAE


class ScriptType(enum.Enum):
    P2PK = "p2pk"
    P2PKH = "p2pkh"
    P2SH = "p2sh"
    P2WPKH = "p2wpkh"
    P2WSH = "p2wsh"
    P2TR = "p2tr"
    MULTISIG = "multisig"  # bare k-of-n
    NULL_DATA = "null_data"  # OP_RETURN followed by pushes only
    WITNESS_UNKNOWN = "witness_unknown"  # a witness program of a version without defined rules
    NONSTANDARD = "nonstandard"


def push_data(data: bytes) -> bytes:
    """The minimal push of `data` (as CScript() << data writes it for non-number data)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little") + data
    return bytes((OP_PUSHDATA4,)) + n.to_bytes(4, "little") + data


def small_int_opcode(n: int) -> int:
    """OP_0..OP_16 for 0..16."""
    if not 0 <= n <= 16:
        raise ValueError(f"{n} has no small-integer opcode")
    return OP_0 if n == 0 else OP_1 + n - 1


def iter_ops(script: bytes) -> Iterator[tuple[int, bytes | None]]:
    """(opcode, pushed data or None) for each operation; ValueError on a truncated push."""
    pos, end = 0, len(script)
    while pos < end:
        op = script[pos]
        pos += 1
        if op > OP_PUSHDATA4:
            yield op, None
            continue
        if op < OP_PUSHDATA1:
            size = op
        else:
            width = {OP_PUSHDATA1: 1, OP_PUSHDATA2: 2, OP_PUSHDATA4: 4}[op]
            if pos + width > end:
                raise ValueError("truncated push length")
            size = int.from_bytes(script[pos : pos + width], "little")
            pos += width
        if pos + size > end:
            raise ValueError("truncated push")
        yield op, script[pos : pos + size]
        pos += size


def witness_program(script_pubkey: bytes) -> tuple[int, bytes] | None:
    """(version, program) if `script_pubkey` is a witness program (BIP-141), else None."""
    n = len(script_pubkey)
    if not 4 <= n <= 42:
        return None
    first = script_pubkey[0]
    if first != OP_0 and not OP_1 <= first <= OP_16:
        return None
    if script_pubkey[1] + 2 != n:
        return None
    return (0 if first == OP_0 else first - OP_1 + 1), script_pubkey[2:]


def _is_pubkey(data: bytes | None) -> bool:
    if data is None or not data:
        return False
    return (len(data) == 33 and data[0] in (2, 3)) or (len(data) == 65 and data[0] in (4, 6, 7))


def _small_int(op: int) -> int | None:
    return op - OP_1 + 1 if OP_1 <= op <= OP_16 else None


def _is_multisig(script: bytes) -> bool:
    try:
        ops = list(iter_ops(script))
    except ValueError:
        return False
    if len(ops) < 4 or ops[-1][0] != OP_CHECKMULTISIG:
        return False
    required, total = _small_int(ops[0][0]), _small_int(ops[-2][0])
    keys = ops[1:-2]
    if required is None or total is None or total != len(keys) or not 1 <= required <= total:
        return False
    return all(_is_pubkey(data) for _, data in keys)


def classify(script_pubkey: bytes) -> ScriptType:
    s, n = script_pubkey, len(script_pubkey)
    if n == 25 and s[:3] == b"\x76\xa9\x14" and s[23:] == b"\x88\xac":
        return ScriptType.P2PKH
    if n == 23 and s[:2] == b"\xa9\x14" and s[22] == OP_EQUAL:
        return ScriptType.P2SH
    program = witness_program(s)
    if program is not None:
        version, data = program
        if version == 0:
            return {20: ScriptType.P2WPKH, 32: ScriptType.P2WSH}.get(len(data), ScriptType.NONSTANDARD)
        if version == 1 and len(data) == 32:
            return ScriptType.P2TR
        return ScriptType.WITNESS_UNKNOWN
    if n in (35, 67) and s[0] == n - 2 and s[-1] == OP_CHECKSIG and _is_pubkey(s[1:-1]):
        return ScriptType.P2PK
    if n >= 1 and s[0] == OP_RETURN:
        try:
            if all(op <= OP_16 for op, _ in iter_ops(s[1:])):
                return ScriptType.NULL_DATA
        except ValueError:
            pass
        return ScriptType.NONSTANDARD
    if _is_multisig(s):
        return ScriptType.MULTISIG
    return ScriptType.NONSTANDARD


def p2pk(pubkey: bytes) -> bytes:
    return push_data(pubkey) + bytes((OP_CHECKSIG,))


def p2pkh(pubkey: bytes) -> bytes:
    """Pay to the hash of `pubkey` (also the BIP-143 scriptCode of a P2WPKH input)."""
    return b"\x76\xa9\x14" + hash160(pubkey) + b"\x88\xac"


def p2sh(redeem_script: bytes) -> bytes:
    return b"\xa9\x14" + hash160(redeem_script) + bytes((OP_EQUAL,))


def p2wpkh(pubkey: bytes) -> bytes:
    if len(pubkey) != 33:
        raise ValueError("P2WPKH needs a compressed (33-byte) public key")
    return b"\x00\x14" + hash160(pubkey)


def p2wsh(witness_script: bytes) -> bytes:
    return b"\x00\x20" + sha256(witness_script)


def p2tr(output_key: bytes) -> bytes:
    """Pay to a taproot output key (32-byte x-only, already tweaked: BIP-341)."""
    if len(output_key) != 32:
        raise ValueError("a taproot output key is 32 bytes (x-only)")
    return b"\x51\x20" + output_key


def multisig(k: int, pubkeys: Sequence[bytes]) -> bytes:
    """k-of-n OP_CHECKMULTISIG over `pubkeys` in the order given (sort them first for sortedmulti)."""
    if not 1 <= k <= len(pubkeys) <= 16:
        raise ValueError(f"a {k}-of-{len(pubkeys)} multisig is not possible (1 <= k <= n <= 16)")
    body = b"".join(push_data(pubkey) for pubkey in pubkeys)
    return bytes((small_int_opcode(k),)) + body + bytes((small_int_opcode(len(pubkeys)), OP_CHECKMULTISIG))


def null_data(data: bytes) -> bytes:
    return bytes((OP_RETURN,)) + push_data(data)
