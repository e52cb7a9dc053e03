"""BIP-322 signing with keys held in memory: P2WPKH, P2WSH k-of-n multisig and P2TR key path (BIP-86)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import coincurve
from coincurve._libsecp256k1 import ffi  # only for ffi.NULL: the default nonce function, given extra entropy

from boveda.bitcoin import script, taproot
from boveda.bitcoin.bip322.formats import encode_full, encode_simple
from boveda.bitcoin.bip322.transactions import to_sign, to_spend
from boveda.bitcoin.bip322.verdict import ProofFormat
from boveda.bitcoin.sighash import SighashType, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.errors import CodecError


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
    raise CodecError(f"BIP-322 signing writes simple or full proofs, not {proof_format.value}")


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
    template = script.parse_multisig(witness_script)
    if template is None:
        raise CodecError("not a k-of-n OP_CHECKMULTISIG witness script")
    required, public_keys = template
    positions: dict[int, coincurve.PrivateKey] = {}
    for secret in private_keys:
        key = coincurve.PrivateKey(secret)
        forms = (key.public_key.format(compressed=True), key.public_key.format(compressed=False))
        matches = [i for i, public_key in enumerate(public_keys) if public_key in forms]
        if not matches:
            raise CodecError(f"private key of {forms[0].hex()} is not in the witness script")
        for position in matches:
            positions[position] = key
    if len(positions) < required:
        raise CodecError(
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
