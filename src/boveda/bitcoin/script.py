"""Output scripts: what kind a script_pubkey is, and builders for the standard kinds.

The kinds and their templates follow Bitcoin Core's `Solver` (script/solver.cpp).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence

from boveda.bitcoin.hashes import hash160, sha256
from boveda.errors import CodecError

OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1NEGATE = 0x4F
OP_1 = 0x51
OP_16 = 0x60
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC
OP_CHECKMULTISIG = 0xAE
MAX_PUBKEYS_PER_MULTISIG = 20


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


def minimal_push_opcode(data: bytes) -> int:
    """The opcode that pushes `data` minimally, as MINIMALDATA demands (Bitcoin Core's CheckMinimalPush).

    Unlike `push_data`, it counts OP_0, OP_1..OP_16 and OP_1NEGATE as the pushes of no bytes,
    of one byte 1..16 and of the byte 0x81.
    """
    if not data:
        return OP_0
    if len(data) == 1 and 1 <= data[0] <= 16:
        return OP_1 + data[0] - 1
    if data == b"\x81":
        return OP_1NEGATE
    if len(data) < OP_PUSHDATA1:
        return len(data)
    if len(data) <= 0xFF:
        return OP_PUSHDATA1
    return OP_PUSHDATA2 if len(data) <= 0xFFFF else OP_PUSHDATA4


def small_int_opcode(n: int) -> int:
    """OP_0..OP_16 for 0..16."""
    if not 0 <= n <= 16:
        raise CodecError(f"{n} has no small-integer opcode (there are OP_0..OP_16)")
    return OP_0 if n == 0 else OP_1 + n - 1


def push_int(n: int) -> bytes:
    """`n` as `CScript() << n` writes it: OP_0, OP_1..OP_16, OP_1NEGATE, else a minimal script number."""
    if n == -1 or 0 <= n <= 16:
        return bytes((OP_1NEGATE if n == -1 else small_int_opcode(n),))
    magnitude = abs(n)
    body = magnitude.to_bytes((magnitude.bit_length() + 8) // 8, "little")  # the least bytes with a sign bit
    if n < 0:
        body = body[:-1] + bytes((body[-1] | 0x80,))
    return push_data(body)


def iter_ops(script: bytes) -> Iterator[tuple[int, bytes | None]]:
    """(opcode, pushed data or None) for each operation; CodecError on a push that runs past the end."""
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
                raise CodecError(f"truncated script: the push length at offset {pos} runs past its end")
            size = int.from_bytes(script[pos : pos + width], "little")
            pos += width
        if pos + size > end:
            raise CodecError(f"truncated script: a push of {size} bytes at offset {pos} runs past its end")
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


def _multisig_parts(script: bytes) -> tuple[int, tuple[bytes | None, ...]] | None:
    """(k, what is pushed between k and n) of `OP_k ... OP_n OP_CHECKMULTISIG` with n items there, k <= n."""
    try:
        ops = list(iter_ops(script))
    except CodecError:
        return None
    if len(ops) < 4 or ops[-1][0] != OP_CHECKMULTISIG:
        return None
    required, total = _small_int(ops[0][0]), _small_int(ops[-2][0])
    keys = tuple(data for _, data in ops[1:-2])
    if required is None or total is None or total != len(keys) or not 1 <= required <= total:
        return None
    return required, keys


def _is_multisig(script: bytes) -> bool:
    parts = _multisig_parts(script)
    return parts is not None and all(_is_pubkey(key) for key in parts[1])


def parse_multisig(script: bytes) -> tuple[int, tuple[bytes, ...]] | None:
    """(k, keys) if `script` is exactly what `multisig(k, keys)` builds (k and n at most 16), else None.

    Stricter than `classify`, which follows Core's Solver: pushes must be minimal, but the
    keys may be any bytes (a verifier checks their encoding as it reaches them).
    """
    parts = _multisig_parts(script)
    if parts is None or any(key is None for key in parts[1]):
        return None
    required, keys = parts
    if multisig(required, keys) != script:
        return None
    return required, keys


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
        except CodecError:
            pass
        return ScriptType.NONSTANDARD
    if _is_multisig(s):
        return ScriptType.MULTISIG
    return ScriptType.NONSTANDARD


def p2pk(pubkey: bytes) -> bytes:
    return push_data(pubkey) + bytes((OP_CHECKSIG,))


def p2pkh(pubkey: bytes) -> bytes:
    """Pay to the hash of `pubkey` (also the BIP-143 scriptCode of a P2WPKH input)."""
    return p2pkh_of_hash(hash160(pubkey))


def p2pkh_of_hash(key_hash: bytes) -> bytes:
    """`OP_DUP OP_HASH160 <key_hash> OP_EQUALVERIFY OP_CHECKSIG` for a 20-byte hash160 of a key."""
    return b"\x76\xa9\x14" + key_hash + b"\x88\xac"


def p2sh(redeem_script: bytes) -> bytes:
    return p2sh_of_hash(hash160(redeem_script))


def p2sh_of_hash(script_hash: bytes) -> bytes:
    """`OP_HASH160 <script_hash> OP_EQUAL` for a 20-byte hash160 of a redeem script (BIP-16)."""
    return b"\xa9\x14" + script_hash + bytes((OP_EQUAL,))


def p2wpkh(pubkey: bytes) -> bytes:
    if len(pubkey) != 33:
        raise CodecError(f"P2WPKH needs a compressed (33-byte) public key, not {len(pubkey)} bytes")
    return b"\x00\x14" + hash160(pubkey)


def p2wsh(witness_script: bytes) -> bytes:
    return b"\x00\x20" + sha256(witness_script)


def p2tr(output_key: bytes) -> bytes:
    """Pay to a taproot output key (32-byte x-only, already tweaked: BIP-341)."""
    if len(output_key) != 32:
        raise CodecError(f"a taproot output key is 32 bytes (x-only), not {len(output_key)}")
    return b"\x51\x20" + output_key


def multisig(k: int, pubkeys: Sequence[bytes]) -> bytes:
    """k-of-n OP_CHECKMULTISIG over `pubkeys` in the order given (sort them first for sortedmulti).

    As Bitcoin Core's GetScriptForMultisig: k and n above 16 are pushed as script numbers.
    """
    if not 1 <= k <= len(pubkeys) <= MAX_PUBKEYS_PER_MULTISIG:
        raise CodecError(
            f"a {k}-of-{len(pubkeys)} multisig is not possible (1 <= k <= n <= {MAX_PUBKEYS_PER_MULTISIG})"
        )
    body = b"".join(push_data(pubkey) for pubkey in pubkeys)
    return push_int(k) + body + push_int(len(pubkeys)) + bytes((OP_CHECKMULTISIG,))


def null_data(data: bytes) -> bytes:
    return bytes((OP_RETURN,)) + push_data(data)
