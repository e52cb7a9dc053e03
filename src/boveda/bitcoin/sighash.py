"""Signature hashes over boveda transactions: legacy (pre-segwit), segwit v0 (BIP-143) and taproot key path (BIP-341).

The one implementation of each: the regtest simulation signs hundreds of thousands of inputs
with it and BIP-322 verifies every proof with it. The per-transaction digests are computed
once (`TxDigests`) and shared by every input.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from boveda.bitcoin.codec import encode_compact_size
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.errors import CodecError

_ZERO32 = bytes(32)
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_ANYONECANPAY = 0x80
_TAPSIGHASH_TAG = hashlib.sha256(b"TapSighash").digest() * 2  # BIP-340 tagged-hash prefix, computed once
# What legacy SIGHASH_SINGLE signs for an input without a matching output: uint256 1, little-endian.
_SIGHASH_SINGLE_BUG = b"\x01" + bytes(31)
_NO_OUTPUT = TxOut(-1, b"")  # CTxOut(): how legacy SIGHASH_SINGLE blanks the outputs before the signed one


class SighashType(enum.IntEnum):
    DEFAULT = 0x00  # taproot only: as ALL, with a 64-byte signature
    ALL = 0x01
    NONE = 0x02
    SINGLE = 0x03
    ALL_ANYONECANPAY = 0x81
    NONE_ANYONECANPAY = 0x82
    SINGLE_ANYONECANPAY = 0x83

    @property
    def anyone_can_pay(self) -> bool:
        return bool(self & _ANYONECANPAY)

    @property
    def output_mode(self) -> int:
        """ALL (1), NONE (2) or SINGLE (3); DEFAULT counts as ALL."""
        return (self & 0x03) or SighashType.ALL

    @classmethod
    def of(cls, value: int) -> SighashType:
        """The hash type `value` names; CodecError for the values BIP-143 and BIP-341 leave undefined."""
        try:
            return cls(value)
        except ValueError:
            raise CodecError(f"hash type 0x{value:02x} is not defined") from None


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@dataclass(frozen=True, slots=True)
class TxDigests:
    """The single-SHA256 digests BIP-341 defines over a whole transaction.

    BIP-143's hashPrevouts/hashSequence/hashOutputs are these hashed once more. The amounts
    and scripts digests need the spent outputs and are None without them.
    """

    sha_prevouts: bytes
    sha_sequences: bytes
    sha_outputs: bytes
    sha_amounts: bytes | None = None
    sha_scriptpubkeys: bytes | None = None

    @classmethod
    def compute(cls, tx: Transaction, prevouts: Sequence[TxOut] | None = None) -> TxDigests:
        sha_amounts = sha_scripts = None
        if prevouts is not None:
            if len(prevouts) != len(tx.inputs):
                raise CodecError(f"{len(prevouts)} spent outputs given for {len(tx.inputs)} inputs")
            sha_amounts = _sha256(b"".join(_U64.pack(p.value_sat) for p in prevouts))
            sha_scripts = _sha256(
                b"".join(encode_compact_size(len(p.script_pubkey)) + p.script_pubkey for p in prevouts)
            )
        return cls(
            sha_prevouts=_sha256(b"".join([txin.prevout.serialize() for txin in tx.inputs])),
            sha_sequences=_sha256(b"".join([_U32.pack(txin.sequence) for txin in tx.inputs])),
            sha_outputs=_sha256(b"".join([txout.serialize() for txout in tx.outputs])),
            sha_amounts=sha_amounts,
            sha_scriptpubkeys=sha_scripts,
        )


def _check_input_index(tx: Transaction, input_index: int) -> None:
    if not 0 <= input_index < len(tx.inputs):
        raise CodecError(f"input {input_index} of a transaction with {len(tx.inputs)} inputs")


def legacy_sighash(tx: Transaction, input_index: int, script_code: bytes, hash_type: int = SighashType.ALL) -> bytes:
    """The message a pre-segwit ECDSA signature of input `input_index` commits to (Core's SignatureHash, BASE).

    `script_code` is serialised as given: the executed script from its last OP_CODESEPARATOR
    on, without OP_CODESEPARATORs or the signature, as the interpreter hands it over.
    `hash_type` is the signature's last byte; as in consensus, only its ANYONECANPAY bit and
    low five bits count, so undefined types sign as ALL. SIGHASH_SINGLE without a matching
    output signs the constant 1 (Core keeps that bug for compatibility).
    """
    _check_input_index(tx, input_index)
    mode, anyone_can_pay = hash_type & 0x1F, hash_type & _ANYONECANPAY
    if mode == SighashType.SINGLE and input_index >= len(tx.outputs):
        return _SIGHASH_SINGLE_BUG
    parts = [_I32.pack(tx.version), encode_compact_size(1 if anyone_can_pay else len(tx.inputs))]
    for index in (input_index,) if anyone_can_pay else range(len(tx.inputs)):
        txin = tx.inputs[index]
        signed = index == input_index
        sequence = txin.sequence if signed or mode not in (SighashType.NONE, SighashType.SINGLE) else 0
        script = script_code if signed else b""
        parts += (txin.prevout.serialize(), encode_compact_size(len(script)), script, _U32.pack(sequence))
    if mode == SighashType.NONE:
        outputs: Sequence[TxOut] = ()
    elif mode == SighashType.SINGLE:
        outputs = (_NO_OUTPUT,) * input_index + (tx.outputs[input_index],)
    else:
        outputs = tx.outputs
    parts.append(encode_compact_size(len(outputs)))
    parts += (txout.serialize() for txout in outputs)
    parts += (_U32.pack(tx.locktime), _U32.pack(hash_type))
    return _sha256d(b"".join(parts))


def segwit_v0_sighash(
    tx: Transaction,
    input_index: int,
    script_code: bytes,
    value_sat: int,
    hash_type: int = SighashType.ALL,
    digests: TxDigests | None = None,
) -> bytes:
    """The BIP-143 message an ECDSA signature of input `input_index` commits to.

    `script_code` is the script without its length prefix: for P2WPKH the P2PKH script of the
    key, for P2WSH the witness script (from its last executed OP_CODESEPARATOR on).
    """
    hash_type = SighashType.of(hash_type)
    if hash_type == SighashType.DEFAULT:
        raise CodecError("SIGHASH_DEFAULT (0x00) exists only for taproot")
    _check_input_index(tx, input_index)
    if digests is None:
        digests = TxDigests.compute(tx)
    txin = tx.inputs[input_index]
    mode = hash_type.output_mode
    hash_prevouts = hash_sequence = hash_outputs = _ZERO32
    if not hash_type.anyone_can_pay:
        hash_prevouts = _sha256(digests.sha_prevouts)
        if mode == SighashType.ALL:
            hash_sequence = _sha256(digests.sha_sequences)
    if mode == SighashType.ALL:
        hash_outputs = _sha256(digests.sha_outputs)
    elif mode == SighashType.SINGLE and input_index < len(tx.outputs):
        hash_outputs = _sha256d(tx.outputs[input_index].serialize())
    preimage = b"".join(
        (
            _I32.pack(tx.version),
            hash_prevouts,
            hash_sequence,
            txin.prevout.txid,
            _U32.pack(txin.prevout.vout),
            encode_compact_size(len(script_code)),
            script_code,
            _U64.pack(value_sat),
            _U32.pack(txin.sequence),
            hash_outputs,
            _U32.pack(tx.locktime),
            _U32.pack(hash_type),
        )
    )
    return _sha256d(preimage)


def taproot_sigmsg(
    tx: Transaction,
    input_index: int,
    prevouts: Sequence[TxOut],
    hash_type: int = SighashType.DEFAULT,
    digests: TxDigests | None = None,
    *,
    annex: bytes | None = None,
) -> bytes:
    """Epoch byte 0x00 followed by BIP-341's SigMsg for a key-path spend of input `input_index`."""
    hash_type = SighashType.of(hash_type)
    _check_input_index(tx, input_index)
    if digests is None or digests.sha_amounts is None:
        digests = TxDigests.compute(tx, prevouts)
    mode = hash_type.output_mode
    parts = [b"\x00", bytes((hash_type,)), _I32.pack(tx.version), _U32.pack(tx.locktime)]
    if not hash_type.anyone_can_pay:
        parts += (digests.sha_prevouts, digests.sha_amounts, digests.sha_scriptpubkeys, digests.sha_sequences)
    if mode == SighashType.ALL:
        parts.append(digests.sha_outputs)
    parts.append(bytes((1 if annex is not None else 0,)))  # spend_type: key path, annex flag
    if hash_type.anyone_can_pay:
        txin, spent = tx.inputs[input_index], prevouts[input_index]
        parts += (
            txin.prevout.txid,
            _U32.pack(txin.prevout.vout),
            _U64.pack(spent.value_sat),
            encode_compact_size(len(spent.script_pubkey)),
            spent.script_pubkey,
            _U32.pack(txin.sequence),
        )
    else:
        parts.append(_U32.pack(input_index))
    if annex is not None:
        parts.append(_sha256(encode_compact_size(len(annex)) + annex))
    if mode == SighashType.SINGLE:
        if input_index >= len(tx.outputs):
            raise CodecError(f"SIGHASH_SINGLE for input {input_index} without a matching output")
        parts.append(_sha256(tx.outputs[input_index].serialize()))
    return b"".join(parts)


def taproot_sighash(
    tx: Transaction,
    input_index: int,
    prevouts: Sequence[TxOut],
    hash_type: int = SighashType.DEFAULT,
    digests: TxDigests | None = None,
    *,
    annex: bytes | None = None,
) -> bytes:
    """The BIP-341 message a BIP-340 signature of a key-path input commits to.

    `prevouts` are the outputs spent by every input of `tx`, in input order.
    """
    return _sha256(_TAPSIGHASH_TAG + taproot_sigmsg(tx, input_index, prevouts, hash_type, digests, annex=annex))
