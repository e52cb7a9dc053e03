"""BIP-322 generic signed messages: to_spend/to_sign, simple and full proofs, signing and verification.

Verification is our own: BIP-143/BIP-341/legacy signature hashes of the one fixed to_sign shape,
computed directly, and libsecp256k1 (coincurve) for the signatures. It knows P2WPKH, P2WSH k-of-n
multisig, P2TR key path, P2SH-wrapped P2WPKH/P2WSH and P2PKH (full format), and legacy P2PKH
message signatures, and applies the BIP's required rules (SIGHASH_ALL, strict DER, low S, ...).
Any other script is *inconclusive*, as the BIP tells a validator without a full interpreter to
answer. tests/test_bip322.py checks the verdicts against Bitcoin Core's interpreter.
"""

from __future__ import annotations

import binascii
import enum
import functools
import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import coincurve
from coincurve._libsecp256k1 import ffi  # only for ffi.NULL: the default nonce function, given extra entropy

from boveda.bitcoin import message_signing, script, taproot
from boveda.bitcoin.address import address_to_script
from boveda.bitcoin.codec import Reader, encode_compact_size
from boveda.bitcoin.hashes import hash160, tagged_hash
from boveda.bitcoin.network import Network
from boveda.bitcoin.sighash import SighashType, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.tx import NULL_TXID, OutPoint, Transaction, TxIn, TxOut
from boveda.errors import CodecError

MESSAGE_TAG = "BIP0322-signed-message"
TO_SIGN_SCRIPT_PUBKEY = bytes((script.OP_RETURN,))
SECP256K1_HALF_ORDER = taproot.SECP256K1_ORDER // 2

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_MESSAGE_TAG_PREFIX = hashlib.sha256(MESSAGE_TAG.encode()).digest() * 2
_TAPSIGHASH_PREFIX = hashlib.sha256(b"TapSighash").digest() * 2
_ZERO_VALUE = bytes(8)
_TO_SIGN_OUTPUT = _ZERO_VALUE + b"\x01" + TO_SIGN_SCRIPT_PUBKEY
# The parts of to_spend that do not depend on the message or the script (BIP-322, "Full").
_TO_SPEND_HEAD = bytes(4) + b"\x01" + NULL_TXID + b"\xff\xff\xff\xff" + b"\x22\x00\x20"
_TO_SPEND_MIDDLE = bytes(4) + b"\x01" + _ZERO_VALUE
_HASH_OUTPUTS = hashlib.sha256(hashlib.sha256(_TO_SIGN_OUTPUT).digest()).digest()  # BIP-143, one fixed output
_SHA_OUTPUTS = hashlib.sha256(_TO_SIGN_OUTPUT).digest()  # BIP-341
_SHA_AMOUNTS = hashlib.sha256(_ZERO_VALUE).digest()
_SIGHASH_ALL_U32 = _U32.pack(SighashType.ALL)
_DEFINED_HASH_TYPES = frozenset((0x01, 0x02, 0x03, 0x81, 0x82, 0x83))
_OP_1NEGATE = 0x4F
_TAPROOT_CONTROL_BASE_SIZE = 33
_TAPROOT_CONTROL_NODE_SIZE = 32
_TAPROOT_CONTROL_MAX_NODES = 128
_PREFIXES = {"smp": "simple", "ful": "full", "pof": "proof_of_funds"}


class ProofFormat(enum.Enum):
    SIMPLE = "simple"  # the to_sign witness stack, base64
    FULL = "full"  # the whole signed to_sign transaction, base64
    LEGACY = "legacy"  # a P2PKH "Bitcoin Signed Message" compact signature, base64


class Verdict(enum.Enum):
    """BIP-322's three outcomes."""

    VALID = "valid"
    INCONCLUSIVE = "inconclusive"  # not checkable here: a script we do not interpret, or an upgradeable rule
    INVALID = "invalid"


class Reason(enum.Enum):
    OK = "ok"
    UNDECODABLE = "undecodable"  # not canonical base64, not a witness stack or transaction, trailing bytes
    NOT_A_TO_SIGN = "not_a_to_sign"  # full format: inputs or outputs not as BIP-322 lays them out
    OTHER_MESSAGE_OR_ADDRESS = "other_message_or_address"  # full format: spends the to_spend of another challenge
    WITNESS_MISMATCH = "witness_mismatch"  # wrong number of witness items, unexpected witness or scriptSig
    WRONG_KEY = "wrong_key"  # the key or script given does not hash to the address
    MALFORMED_SIGNATURE = "malformed_signature"  # not strict DER, wrong Schnorr size, bad public key encoding
    HASH_TYPE = "hash_type"  # not SIGHASH_ALL (or taproot's DEFAULT); 0x00 spelt out on a taproot signature
    HIGH_S = "high_s"
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify: other message, other key, altered bytes
    SCRIPT_FAILED = "script_failed"  # the script evaluates to false or breaks a required rule
    UNSUPPORTED_SCRIPT = "unsupported_script"
    UPGRADEABLE_RULE = "upgradeable_rule"  # to_sign version not 0/2, witness version above 1
    PROOF_OF_FUNDS = "proof_of_funds"  # proofs with extra inputs need the UTXO set; not supported


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking one proof, with the reason when it is not valid.

    A valid full proof is "valid at time `locktime` and age `sequence`" (BIP-322); both are 0
    for simple and legacy proofs.
    """

    verdict: Verdict
    reason: Reason
    detail: str = ""
    proof_format: ProofFormat | None = None
    locktime: int = 0
    sequence: int = 0

    @property
    def is_valid(self) -> bool:
        return self.verdict is Verdict.VALID


class _Refusal(Exception):
    """Raised inside verification; carries the verdict out to `verify`."""

    def __init__(self, verdict: Verdict, reason: Reason, detail: str) -> None:
        self.verdict, self.reason, self.detail = verdict, reason, detail


def _invalid(reason: Reason, detail: str) -> _Refusal:
    return _Refusal(Verdict.INVALID, reason, detail)


def _inconclusive(reason: Reason, detail: str) -> _Refusal:
    return _Refusal(Verdict.INCONCLUSIVE, reason, detail)


# -- the two virtual transactions ---------------------------------------------------------


def _message_bytes(message: str | bytes) -> bytes:
    return message.encode("utf-8") if isinstance(message, str) else bytes(message)


@functools.lru_cache(maxsize=256)
def _message_hash(message: bytes) -> bytes:
    return hashlib.sha256(_MESSAGE_TAG_PREFIX + message).digest()


def message_hash(message: str | bytes) -> bytes:
    """BIP-340 tagged hash of `message` (UTF-8 if text) with tag BIP0322-signed-message."""
    return _message_hash(_message_bytes(message))


def to_spend(message: str | bytes, script_pubkey: bytes) -> Transaction:
    """The virtual transaction whose only output, paying `script_pubkey`, commits to `message`."""
    return Transaction(
        version=0,
        inputs=(TxIn(OutPoint(NULL_TXID, 0xFFFFFFFF), b"\x00\x20" + message_hash(message), 0),),
        outputs=(TxOut(0, script_pubkey),),
        locktime=0,
    )


def to_sign(
    to_spend_tx: Transaction,
    witness: Sequence[bytes] = (),
    *,
    script_sig: bytes = b"",
    version: int = 0,
    locktime: int = 0,
    sequence: int = 0,
) -> Transaction:
    """The virtual transaction that spends `to_spend_tx` to one empty OP_RETURN output."""
    return Transaction(
        version=version,
        inputs=(TxIn(OutPoint(to_spend_tx.txid, 0), script_sig, sequence, tuple(witness)),),
        outputs=(TxOut(0, TO_SIGN_SCRIPT_PUBKEY),),
        locktime=locktime,
    )


def _to_spend_txid(message_digest: bytes, script_pubkey: bytes) -> bytes:
    """to_spend(...).txid, serialised by hand: it is computed once per proof verified."""
    serialized = b"".join(
        (
            _TO_SPEND_HEAD,
            message_digest,
            _TO_SPEND_MIDDLE,
            encode_compact_size(len(script_pubkey)),
            script_pubkey,
            bytes(4),
        )
    )
    return hashlib.sha256(hashlib.sha256(serialized).digest()).digest()


# -- encodings ------------------------------------------------------------------------------


def encode_witness(witness: Sequence[bytes]) -> bytes:
    """A witness stack as consensus encodes it: a count, then each item with its length."""
    parts = [encode_compact_size(len(witness))]
    for item in witness:
        parts += (encode_compact_size(len(item)), item)
    return b"".join(parts)


def decode_witness(data: bytes) -> tuple[bytes, ...]:
    """The witness stack `data` encodes; CodecError on truncation, non-canonical sizes or trailing bytes."""
    reader = Reader(data)
    count = reader.compact_size()
    items = tuple(reader.var_bytes() for _ in range(count))
    reader.expect_end("witness stack")
    return items


def _base64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def encode_simple(witness: Sequence[bytes]) -> str:
    """A simple proof: base64 of the to_sign witness stack (no format prefix, as most signers write it)."""
    return _base64(encode_witness(witness))


def encode_full(to_sign_tx: Transaction) -> str:
    """A full proof: base64 of the signed to_sign transaction."""
    return _base64(to_sign_tx.serialize())


def _decode_base64(text: str) -> bytes:
    """Canonical base64 only: the padding bits of the last character must be zero, so that every
    proof has one spelling and any one-character change alters the bytes or is refused."""
    if not text:
        raise _invalid(Reason.UNDECODABLE, "empty proof (signature too short)")
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _invalid(Reason.UNDECODABLE, "not valid base64") from None
    if _base64(raw) != text:
        raise _invalid(Reason.UNDECODABLE, "not canonical base64")
    return raw


def _split_prefix(proof: str) -> tuple[str | None, str]:
    # BIP-322's vectors may start a proof with a three-letter type; base64 text is a multiple of
    # four characters long, so a prefixed proof is never also valid unprefixed base64.
    if len(proof) % 4 == 3 and proof[:3] in _PREFIXES:
        return _PREFIXES[proof[:3]], proof[3:]
    return None, proof


# -- signature hashes of the fixed to_sign shape -------------------------------------------------


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _segwit_v0_sighash_all(txid: bytes, script_code: bytes, version: int, locktime: int, sequence: int) -> bytes:
    """BIP-143 SIGHASH_ALL of to_sign's input 0 (spent amount 0)."""
    sequence_bytes = _U32.pack(sequence)
    return _sha256d(
        b"".join(
            (
                _I32.pack(version),
                _sha256d(txid + bytes(4)),
                _sha256d(sequence_bytes),
                txid,
                bytes(4),
                encode_compact_size(len(script_code)),
                script_code,
                _ZERO_VALUE,
                sequence_bytes,
                _HASH_OUTPUTS,
                _U32.pack(locktime),
                _SIGHASH_ALL_U32,
            )
        )
    )


def _taproot_sighash(
    txid: bytes,
    script_pubkey: bytes,
    hash_type: int,
    version: int,
    locktime: int,
    sequence: int,
    annex: bytes | None,
) -> bytes:
    """BIP-341 key-path signature hash of to_sign's input 0 for SIGHASH_DEFAULT or SIGHASH_ALL."""
    parts = [
        b"\x00",
        bytes((hash_type,)),
        _I32.pack(version),
        _U32.pack(locktime),
        hashlib.sha256(txid + bytes(4)).digest(),
        _SHA_AMOUNTS,
        hashlib.sha256(encode_compact_size(len(script_pubkey)) + script_pubkey).digest(),
        hashlib.sha256(_U32.pack(sequence)).digest(),
        _SHA_OUTPUTS,
        b"\x00" if annex is None else b"\x01",
        bytes(4),
    ]
    if annex is not None:
        parts.append(hashlib.sha256(encode_compact_size(len(annex)) + annex).digest())
    return hashlib.sha256(_TAPSIGHASH_PREFIX + b"".join(parts)).digest()


def _legacy_sighash_all(txid: bytes, script_code: bytes, version: int, locktime: int, sequence: int) -> bytes:
    """Pre-segwit SIGHASH_ALL of to_sign's input 0: the transaction with scriptCode in place of scriptSig."""
    return _sha256d(
        b"".join(
            (
                _I32.pack(version),
                b"\x01",
                txid,
                bytes(4),
                encode_compact_size(len(script_code)),
                script_code,
                _U32.pack(sequence),
                b"\x01",
                _TO_SIGN_OUTPUT,
                _U32.pack(locktime),
                _SIGHASH_ALL_U32,
            )
        )
    )


# -- signing ------------------------------------------------------------------------------------


def _sign_ecdsa(private_key: coincurve.PrivateKey, sighash: bytes, *, low_r: bool) -> bytes:
    """DER signature with SIGHASH_ALL appended, from an RFC-6979 nonce.

    With `low_r` the nonce is ground (extra entropy 1, 2, ...) until R needs no 0x00 pad, as
    Bitcoin Core's wallet does: signatures are 71 bytes or fewer and match Core's byte for byte.
    """
    signature = private_key.sign(sighash, hasher=None)
    counter = 0
    while low_r and signature[3] > 32:  # r took a 0x00 pad: its top bit is set
        counter += 1
        extra_entropy = counter.to_bytes(4, "little") + bytes(28)
        signature = private_key.sign(sighash, hasher=None, custom_nonce=(ffi.NULL, extra_entropy))
    return signature + bytes((SighashType.ALL,))


def _encode_signed(proof_format: ProofFormat, to_spend_tx: Transaction, witness: Sequence[bytes]) -> str:
    if proof_format is ProofFormat.SIMPLE:
        return encode_simple(witness)
    if proof_format is ProofFormat.FULL:
        return encode_full(to_sign(to_spend_tx, witness))
    raise ValueError(f"BIP-322 signing writes simple or full proofs, not {proof_format.value}")


def sign_p2wpkh(
    message: str | bytes, private_key: bytes, *, proof_format: ProofFormat = ProofFormat.SIMPLE, low_r: bool = True
) -> str:
    """A proof that the holder of `private_key` (32 bytes) signed `message` for its P2WPKH address.

    `low_r` grinds the nonce for a low R as Bitcoin Core's wallet does (71-byte signatures);
    without it the signature is plain RFC-6979. Both are deterministic.
    """
    key = coincurve.PrivateKey(private_key)
    public_key = key.public_key.format()
    spend = to_spend(message, script.p2wpkh(public_key))
    sighash = segwit_v0_sighash(to_sign(spend), 0, script.p2pkh(public_key), 0, SighashType.ALL)
    return _encode_signed(proof_format, spend, (_sign_ecdsa(key, sighash, low_r=low_r), public_key))


def _multisig_template(witness_script: bytes) -> tuple[int, tuple[bytes, ...]] | None:
    """(k, public keys) if `witness_script` is exactly `k <keys> n OP_CHECKMULTISIG` with minimal pushes."""
    try:
        ops = list(script.iter_ops(witness_script))
    except ValueError:
        return None
    if len(ops) < 4 or ops[-1][0] != script.OP_CHECKMULTISIG:
        return None
    first, count = ops[0][0], ops[-2][0]
    if not (script.OP_1 <= first <= script.OP_16 and script.OP_1 <= count <= script.OP_16):
        return None
    required, keys = first - script.OP_1 + 1, tuple(data for _, data in ops[1:-2])
    if any(key is None for key in keys) or len(keys) != count - script.OP_1 + 1 or required > len(keys):
        return None
    if script.multisig(required, keys) != witness_script:  # refuses non-minimal pushes
        return None
    return required, keys


def sign_p2wsh_multisig(
    message: str | bytes,
    witness_script: bytes,
    private_keys: Sequence[bytes],
    *,
    proof_format: ProofFormat = ProofFormat.SIMPLE,
    low_r: bool = True,
) -> str:
    """A proof for the P2WSH address of a k-of-n `multi`/`sortedmulti` `witness_script`.

    `private_keys` (32 bytes each, any order) must include at least k of the script's keys; the
    first k in script order sign. `low_r` as for `sign_p2wpkh`.
    """
    template = _multisig_template(witness_script)
    if template is None:
        raise ValueError("not a k-of-n OP_CHECKMULTISIG witness script")
    required, public_keys = template
    positions: dict[int, coincurve.PrivateKey] = {}
    for secret in private_keys:
        key = coincurve.PrivateKey(secret)
        forms = (key.public_key.format(compressed=True), key.public_key.format(compressed=False))
        matches = [i for i, public_key in enumerate(public_keys) if public_key in forms]
        if not matches:
            raise ValueError(f"private key of {forms[0].hex()} is not in the witness script")
        for position in matches:
            positions[position] = key
    if len(positions) < required:
        raise ValueError(
            f"a {required}-of-{len(public_keys)} proof needs {required} keys of the script, got {len(positions)}"
        )
    spend = to_spend(message, script.p2wsh(witness_script))
    sighash = segwit_v0_sighash(to_sign(spend), 0, witness_script, 0, SighashType.ALL)
    signatures = tuple(_sign_ecdsa(positions[i], sighash, low_r=low_r) for i in sorted(positions)[:required])
    return _encode_signed(proof_format, spend, (b"", *signatures, witness_script))


def sign_p2tr(
    message: str | bytes,
    private_key: bytes,
    *,
    proof_format: ProofFormat = ProofFormat.SIMPLE,
    aux_rand: bytes | None = None,
) -> str:
    """A proof for the BIP-86 taproot address of internal key `private_key` (key path, SIGHASH_DEFAULT).

    `aux_rand` is BIP-340's auxiliary randomness (32 bytes); fresh random bytes when not given.
    """
    tweaked_secret, output_key = taproot.tweak_secret(private_key)
    spent = TxOut(0, script.p2tr(output_key))
    spend = to_spend(message, spent.script_pubkey)
    sighash = taproot_sighash(to_sign(spend), 0, (spent,), SighashType.DEFAULT)
    aux = os.urandom(32) if aux_rand is None else aux_rand
    signature = coincurve.PrivateKey(tweaked_secret).sign_schnorr(sighash, aux)
    return _encode_signed(proof_format, spend, (signature,))


# -- verification -------------------------------------------------------------------------------


def _check_ecdsa_signature_encoding(signature: bytes) -> None:
    """Bitcoin Core's STRICTENC + DERSIG + LOW_S checks of a non-empty signature with its hash-type byte."""
    n = len(signature)
    # IsValidSignatureEncoding (BIP-66), hash-type byte included.
    if n < 9 or n > 73 or signature[0] != 0x30 or signature[1] != n - 3:
        raise _invalid(Reason.MALFORMED_SIGNATURE, "signature is not strict DER")
    r_size = signature[3]
    if 5 + r_size >= n:
        raise _invalid(Reason.MALFORMED_SIGNATURE, "signature is not strict DER")
    s_size = signature[5 + r_size]
    if (
        r_size + s_size + 7 != n
        or signature[2] != 0x02
        or r_size == 0
        or signature[4] & 0x80
        or (r_size > 1 and signature[4] == 0 and not signature[5] & 0x80)
        or signature[r_size + 4] != 0x02
        or s_size == 0
        or signature[r_size + 6] & 0x80
        or (s_size > 1 and signature[r_size + 6] == 0 and not signature[r_size + 7] & 0x80)
    ):
        raise _invalid(Reason.MALFORMED_SIGNATURE, "signature is not strict DER")
    hash_type = signature[-1]
    if hash_type not in _DEFINED_HASH_TYPES:
        raise _invalid(Reason.HASH_TYPE, f"undefined hash type 0x{hash_type:02x}")
    if int.from_bytes(signature[r_size + 6 : r_size + 6 + s_size], "big") > SECP256K1_HALF_ORDER:
        raise _invalid(Reason.HIGH_S, "ECDSA signature has a high S value (BIP-146 LOW_S)")
    if hash_type != SighashType.ALL:
        raise _invalid(Reason.HASH_TYPE, f"hash type 0x{hash_type:02x}; BIP-322 requires SIGHASH_ALL")


def _check_public_key_encoding(public_key: bytes) -> None:
    # STRICTENC. Uncompressed keys are allowed in segwit v0: BIP-322's required rules do not
    # include WITNESS_PUBKEYTYPE.
    size = len(public_key)
    if not ((size == 33 and public_key[0] in (2, 3)) or (size == 65 and public_key[0] == 4)):
        raise _invalid(Reason.MALFORMED_SIGNATURE, "public key is neither compressed nor uncompressed SEC1")


def _ecdsa_verifies(signature: bytes, public_key: bytes, sighash: bytes) -> bool:
    try:
        return coincurve.PublicKey(public_key).verify(signature[:-1], sighash, hasher=None)
    except ValueError:  # not a point on the curve, or r/s out of range
        return False


def _verify_checksig(signature: bytes, public_key: bytes, sighash: bytes) -> None:
    if not signature:
        raise _invalid(Reason.BAD_SIGNATURE, "empty signature")
    _check_ecdsa_signature_encoding(signature)
    _check_public_key_encoding(public_key)
    if not _ecdsa_verifies(signature, public_key, sighash):
        raise _invalid(Reason.BAD_SIGNATURE, "ECDSA signature does not verify for this message and key")


def _verify_p2wpkh(program: bytes, witness: Sequence[bytes], txid: bytes, tx_fields: tuple[int, int, int]) -> None:
    if len(witness) != 2:
        raise _invalid(Reason.WITNESS_MISMATCH, f"P2WPKH needs 2 witness items, got {len(witness)}")
    signature, public_key = witness
    if hash160(public_key) != program:
        raise _invalid(Reason.WRONG_KEY, "the public key does not hash to this address")
    script_code = b"\x76\xa9\x14" + program + b"\x88\xac"
    _verify_checksig(signature, public_key, _segwit_v0_sighash_all(txid, script_code, *tx_fields))


def _verify_multisig(
    required: int,
    public_keys: tuple[bytes, ...],
    witness: Sequence[bytes],
    witness_script: bytes,
    txid: bytes,
    tx_fields: tuple[int, int, int],
) -> None:
    # The stack must hold exactly the dummy and k signatures: fewer underflow, more break the
    # clean-stack rule of witness v0.
    if len(witness) != required + 2:
        raise _invalid(Reason.WITNESS_MISMATCH, f"{required}-of-{len(public_keys)} needs {required + 2} witness items")
    signatures = witness[1:-1]
    sighash = None
    # OP_CHECKMULTISIG as Bitcoin Core runs it: from the last signature and key backwards, each
    # signature tried against keys until one verifies; encodings are checked only where reached.
    sig_index, key_index = required - 1, len(public_keys) - 1
    while sig_index >= 0:
        signature, public_key = signatures[sig_index], public_keys[key_index]
        if signature:
            _check_ecdsa_signature_encoding(signature)
        _check_public_key_encoding(public_key)
        if signature:
            if sighash is None:
                sighash = _segwit_v0_sighash_all(txid, witness_script, *tx_fields)
            if _ecdsa_verifies(signature, public_key, sighash):
                sig_index -= 1
        key_index -= 1
        if sig_index > key_index:
            raise _invalid(Reason.BAD_SIGNATURE, "the signatures do not verify against the script's keys in order")
    if witness[0]:
        raise _invalid(Reason.SCRIPT_FAILED, "OP_CHECKMULTISIG dummy element is not empty (NULLDUMMY)")


def _verify_p2wsh(program: bytes, witness: Sequence[bytes], txid: bytes, tx_fields: tuple[int, int, int]) -> None:
    if not witness:
        raise _invalid(Reason.WITNESS_MISMATCH, "P2WSH needs a witness script, the witness is empty")
    witness_script = witness[-1]
    if hashlib.sha256(witness_script).digest() != program:
        raise _invalid(Reason.WRONG_KEY, "the witness script does not hash to this address")
    template = _multisig_template(witness_script)
    if template is None:
        raise _inconclusive(Reason.UNSUPPORTED_SCRIPT, "witness script is not a k-of-n multisig this verifier runs")
    _verify_multisig(*template, witness, witness_script, txid, tx_fields)


def _check_taproot_commitment(output_key: bytes, leaf_script: bytes, control_block: bytes) -> None:
    """BIP-341's script-path check that `control_block` and `leaf_script` commit to `output_key`."""
    nodes, remainder = divmod(len(control_block) - _TAPROOT_CONTROL_BASE_SIZE, _TAPROOT_CONTROL_NODE_SIZE)
    if len(control_block) < _TAPROOT_CONTROL_BASE_SIZE or remainder or nodes > _TAPROOT_CONTROL_MAX_NODES:
        raise _invalid(Reason.WITNESS_MISMATCH, f"taproot control block of {len(control_block)} bytes")
    leaf_version = control_block[0] & 0xFE
    node = tagged_hash("TapLeaf", bytes((leaf_version,)) + encode_compact_size(len(leaf_script)) + leaf_script)
    for start in range(_TAPROOT_CONTROL_BASE_SIZE, len(control_block), _TAPROOT_CONTROL_NODE_SIZE):
        sibling = control_block[start : start + _TAPROOT_CONTROL_NODE_SIZE]
        node = tagged_hash("TapBranch", min(node, sibling) + max(node, sibling))
    tweak = tagged_hash("TapTweak", control_block[1:33] + node)
    try:
        if int.from_bytes(tweak, "big") >= taproot.SECP256K1_ORDER:
            raise ValueError("tweak out of range")
        tweaked = coincurve.PublicKey(b"\x02" + control_block[1:33]).add(tweak).format()
        commits = tweaked[1:] == output_key and tweaked[0] & 1 == control_block[0] & 1
    except ValueError:  # the internal key is not on the curve, or the tweak is out of range
        commits = False
    if not commits:
        raise _invalid(Reason.WRONG_KEY, "the taproot control block does not commit to this output key")


def _verify_p2tr(
    script_pubkey: bytes, witness: Sequence[bytes], txid: bytes, tx_fields: tuple[int, int, int]
) -> None:
    annex = witness[-1] if len(witness) >= 2 and witness[-1][:1] == b"\x50" else None
    stack = witness[:-1] if annex is not None else witness
    if not stack:
        raise _invalid(Reason.WITNESS_MISMATCH, "taproot spend with an empty witness")
    if len(stack) > 1:
        _check_taproot_commitment(script_pubkey[2:], stack[-2], stack[-1])
        raise _inconclusive(Reason.UNSUPPORTED_SCRIPT, "taproot script-path spends are not interpreted here")
    signature = stack[0]
    if len(signature) == 64:
        hash_type = SighashType.DEFAULT
    elif len(signature) == 65:
        hash_type = signature[64]
        if hash_type == SighashType.DEFAULT:
            raise _invalid(Reason.HASH_TYPE, "65-byte taproot signature with hash type 0x00 (BIP-341 forbids it)")
        if hash_type not in _DEFINED_HASH_TYPES:
            raise _invalid(Reason.HASH_TYPE, f"undefined taproot hash type 0x{hash_type:02x}")
        if hash_type != SighashType.ALL:
            raise _invalid(Reason.HASH_TYPE, f"hash type 0x{hash_type:02x}; BIP-322 requires SIGHASH_ALL")
    else:
        raise _invalid(Reason.MALFORMED_SIGNATURE, f"a Schnorr signature is 64 or 65 bytes, not {len(signature)}")
    sighash = _taproot_sighash(txid, script_pubkey, hash_type, *tx_fields, annex)
    try:
        verified = coincurve.PublicKeyXOnly(script_pubkey[2:]).verify(signature[:64], sighash)
    except ValueError:  # the output key is not on the curve
        verified = False
    if not verified:
        raise _invalid(Reason.BAD_SIGNATURE, "Schnorr signature does not verify for this message and key")


def _verify_witness_program(
    version: int,
    program: bytes,
    script_pubkey: bytes,
    witness: Sequence[bytes],
    txid: bytes,
    tx_fields: tuple[int, int, int],
    *,
    nested: bool,
) -> None:
    if version == 0:
        for item in witness[:-1] if len(program) == 32 else witness:
            if len(item) > 520:
                raise _invalid(Reason.SCRIPT_FAILED, "witness item larger than 520 bytes")
        if len(program) == 20:
            return _verify_p2wpkh(program, witness, txid, tx_fields)
        if len(program) == 32:
            return _verify_p2wsh(program, witness, txid, tx_fields)
        raise _invalid(Reason.SCRIPT_FAILED, f"version 0 witness program of {len(program)} bytes")
    if version == 1 and len(program) == 32 and not nested:
        return _verify_p2tr(script_pubkey, witness, txid, tx_fields)
    raise _inconclusive(Reason.UPGRADEABLE_RULE, f"witness version {version} program: no rules to check it by")


def _minimal_push_opcode(data: bytes) -> int:
    """The opcode MINIMALDATA demands for pushing `data` (Bitcoin Core's CheckMinimalPush)."""
    if not data:
        return script.OP_0
    if len(data) == 1 and 1 <= data[0] <= 16:
        return script.OP_1 + data[0] - 1
    if data == b"\x81":
        return _OP_1NEGATE
    if len(data) < script.OP_PUSHDATA1:
        return len(data)
    if len(data) <= 0xFF:
        return script.OP_PUSHDATA1
    return script.OP_PUSHDATA2 if len(data) <= 0xFFFF else script.OP_PUSHDATA4


def _script_sig_stack(script_sig: bytes) -> list[bytes]:
    """The stack a push-only scriptSig leaves; refuses other operations and non-minimal pushes.

    Bitcoin Core's standard flags demand both (SIGPUSHONLY, MINIMALDATA); a signer never needs more.
    """
    stack = []
    try:
        for op, data in script.iter_ops(script_sig):
            if data is None:
                if op == _OP_1NEGATE:
                    data = b"\x81"
                elif script.OP_1 <= op <= script.OP_16:
                    data = bytes((op - script.OP_1 + 1,))
                else:
                    raise _invalid(Reason.SCRIPT_FAILED, f"scriptSig holds operation 0x{op:02x}; it may only push")
            elif _minimal_push_opcode(data) != op:
                raise _invalid(Reason.SCRIPT_FAILED, "scriptSig push is not minimal (MINIMALDATA)")
            stack.append(data)
    except ValueError:
        raise _invalid(Reason.SCRIPT_FAILED, "scriptSig ends inside a push") from None
    return stack


def _verify_p2sh(
    script_pubkey: bytes, script_sig: bytes, witness: Sequence[bytes], txid: bytes, tx_fields: tuple[int, int, int]
) -> None:
    stack = _script_sig_stack(script_sig)
    if not stack:
        raise _invalid(Reason.SCRIPT_FAILED, "a P2SH spend needs its redeem script in the scriptSig")
    redeem_script = stack[-1]
    if hash160(redeem_script) != script_pubkey[2:22]:
        raise _invalid(Reason.WRONG_KEY, "the redeem script does not hash to this address")
    nested = script.witness_program(redeem_script)
    if nested is not None:
        if len(stack) != 1:  # BIP-141: exactly one push, of the redeem script
            raise _invalid(Reason.WITNESS_MISMATCH, "P2SH-wrapped segwit scriptSig must push only the redeem script")
        return _verify_witness_program(*nested, script_pubkey, witness, txid, tx_fields, nested=True)
    if witness:
        raise _invalid(Reason.WITNESS_MISMATCH, "witness data on a P2SH spend that is not segwit")
    raise _inconclusive(Reason.UNSUPPORTED_SCRIPT, "P2SH redeem scripts other than segwit are not interpreted here")


def _verify_p2pkh(script_pubkey: bytes, script_sig: bytes, txid: bytes, tx_fields: tuple[int, int, int]) -> None:
    stack = _script_sig_stack(script_sig)
    # Fewer items underflow; more break the clean-stack rule.
    if len(stack) != 2:
        raise _invalid(Reason.SCRIPT_FAILED, f"a P2PKH spend pushes a signature and a key, not {len(stack)} items")
    signature, public_key = stack
    if hash160(public_key) != script_pubkey[3:23]:
        raise _invalid(Reason.WRONG_KEY, "the public key does not hash to this address")
    _verify_checksig(signature, public_key, _legacy_sighash_all(txid, script_pubkey, *tx_fields))


def _verify_spend(
    script_pubkey: bytes, script_sig: bytes, witness: Sequence[bytes], txid: bytes, tx_fields: tuple[int, int, int]
) -> None:
    """Raises _Refusal unless to_sign's input 0 spends `script_pubkey` under BIP-322's rules.

    `tx_fields` are to_sign's (version, locktime, input 0 sequence).
    """
    program = script.witness_program(script_pubkey)
    if program is not None:
        if script_sig:
            raise _invalid(Reason.WITNESS_MISMATCH, "a native segwit spend must have an empty scriptSig")
        return _verify_witness_program(*program, script_pubkey, witness, txid, tx_fields, nested=False)
    kind = script.classify(script_pubkey)
    if kind is script.ScriptType.P2SH:
        return _verify_p2sh(script_pubkey, script_sig, witness, txid, tx_fields)
    if witness:
        raise _invalid(Reason.WITNESS_MISMATCH, f"witness data on a {kind.value} spend, which is not segwit")
    if kind is script.ScriptType.P2PKH:
        return _verify_p2pkh(script_pubkey, script_sig, txid, tx_fields)
    raise _inconclusive(Reason.UNSUPPORTED_SCRIPT, f"{kind.value} scripts are not interpreted here")


def _verify_legacy(script_pubkey: bytes, message: bytes, signature: bytes) -> Verification:
    public_key = message_signing.recover_message_key(message, signature)
    if public_key is None:
        raise _invalid(Reason.BAD_SIGNATURE, "no public key recovers from this compact signature")
    if hash160(public_key) != script_pubkey[3:23]:
        raise _invalid(Reason.WRONG_KEY, "the signing key is not this address's key (other message or address)")
    return _VALID_LEGACY


def _decode_full(payload: bytes) -> Transaction:
    try:
        return Transaction.parse(payload)
    except CodecError as error:
        raise _invalid(Reason.UNDECODABLE, f"not a transaction (full format): {error}") from None


def _decode_proof(script_pubkey: bytes, proof: str) -> tuple[ProofFormat, bytes | tuple[bytes, ...] | Transaction]:
    """The format of `proof` and what it holds: a compact signature, a witness stack or a to_sign."""
    prefix, body = _split_prefix(proof)
    payload = _decode_base64(body)
    if prefix == "full":
        return ProofFormat.FULL, _decode_full(payload)
    if prefix == "proof_of_funds":
        raise _inconclusive(Reason.PROOF_OF_FUNDS, "proofs of funds need the UTXO set; not supported")
    if prefix is None and len(payload) == message_signing.COMPACT_SIGNATURE_SIZE:
        if script.classify(script_pubkey) is script.ScriptType.P2PKH:
            return ProofFormat.LEGACY, payload
    try:
        return ProofFormat.SIMPLE, decode_witness(payload)
    except CodecError as error:
        if prefix == "simple":
            raise _invalid(Reason.UNDECODABLE, f"not a witness stack (simple format): {error}") from None
    try:
        return ProofFormat.FULL, Transaction.parse(payload)
    except CodecError:
        raise _invalid(Reason.UNDECODABLE, "neither a witness stack nor a transaction") from None


def _verify_full(script_pubkey: bytes, txid: bytes, tx: Transaction) -> Verification:
    if not tx.inputs:
        raise _invalid(Reason.NOT_A_TO_SIGN, "to_sign has no input")
    first = tx.inputs[0]
    if first.prevout.vout != 0:
        raise _invalid(Reason.NOT_A_TO_SIGN, "to_sign's first input does not spend output 0 of to_spend")
    if first.prevout.txid != txid:
        raise _invalid(Reason.OTHER_MESSAGE_OR_ADDRESS, "to_sign spends the to_spend of another message or address")
    if len(tx.outputs) != 1 or tx.outputs[0] != TxOut(0, TO_SIGN_SCRIPT_PUBKEY):
        raise _invalid(Reason.NOT_A_TO_SIGN, "to_sign must have exactly one output: 0 sat to OP_RETURN")
    if len(tx.inputs) > 1:
        raise _inconclusive(Reason.PROOF_OF_FUNDS, "proofs of funds (extra to_sign inputs) need the UTXO set")
    _verify_spend(script_pubkey, first.script_sig, first.witness, txid, (tx.version, tx.locktime, first.sequence))
    if tx.version not in (0, 2):
        raise _inconclusive(Reason.UPGRADEABLE_RULE, f"to_sign version {tx.version}; BIP-322 knows 0 and 2")
    return Verification(Verdict.VALID, Reason.OK, "", ProofFormat.FULL, tx.locktime, first.sequence)


_VALID_SIMPLE = Verification(Verdict.VALID, Reason.OK, "", ProofFormat.SIMPLE)
_VALID_LEGACY = Verification(Verdict.VALID, Reason.OK, "", ProofFormat.LEGACY)
_SIMPLE_FIELDS = (0, 0, 0)


def verify(script_pubkey: bytes, message: str | bytes, proof: str) -> Verification:
    """Checks BIP-322 `proof` (simple, full, or legacy for P2PKH) that `message` was signed for `script_pubkey`.

    `message` is text (signed as UTF-8) or bytes. A proof may carry BIP-322's "smp"/"ful" type
    prefix; without one, a witness stack is tried first, then a transaction. Never raises for a
    bad proof: the result says why it is not valid.
    """
    message_bytes = _message_bytes(message)
    proof_format = None
    try:
        proof_format, content = _decode_proof(script_pubkey, proof)
        if proof_format is ProofFormat.LEGACY:
            return _verify_legacy(script_pubkey, message_bytes, content)
        txid = _to_spend_txid(_message_hash(message_bytes), script_pubkey)
        if proof_format is ProofFormat.FULL:
            return _verify_full(script_pubkey, txid, content)
        _verify_spend(script_pubkey, b"", content, txid, _SIMPLE_FIELDS)
        return _VALID_SIMPLE
    except _Refusal as refusal:
        return Verification(refusal.verdict, refusal.reason, refusal.detail, proof_format)


def verify_address(address: str, message: str | bytes, proof: str, network: Network) -> Verification:
    """`verify` for an address string; CodecError when `address` is not an address of `network`."""
    return verify(address_to_script(address, network), message, proof)
