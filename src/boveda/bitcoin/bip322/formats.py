"""BIP-322's proof encodings: simple (a witness stack), full (a to_sign transaction) and legacy, in base64."""

from __future__ import annotations

import binascii
from collections.abc import Sequence

from boveda.bitcoin import message_signing, script
from boveda.bitcoin.bip322.verdict import ProofFormat, Reason, inconclusive, invalid
from boveda.bitcoin.tx import Transaction, decode_witness, encode_witness
from boveda.errors import CodecError

_PREFIXES = {"smp": "simple", "ful": "full", "pof": "proof_of_funds"}


def base64_text(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def encode_simple(witness: Sequence[bytes]) -> str:
    """A simple proof: base64 of the to_sign witness stack (no format prefix, as most signers write it)."""
    return base64_text(encode_witness(witness))


def encode_full(to_sign_tx: Transaction) -> str:
    """A full proof: base64 of the signed to_sign transaction."""
    return base64_text(to_sign_tx.serialize())


def decode_base64(text: str) -> bytes:
    """Canonical base64 only: the padding bits of the last character must be zero, so that every
    proof has one spelling and any one-character change alters the bytes or is refused."""
    if not text:
        raise invalid(Reason.UNDECODABLE, "empty proof (signature too short)")
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise invalid(Reason.UNDECODABLE, "not valid base64") from None
    if base64_text(raw) != text:
        raise invalid(Reason.UNDECODABLE, "not canonical base64")
    return raw


def _split_prefix(proof: str) -> tuple[str | None, str]:
    # BIP-322's vectors may start a proof with a three-letter type; base64 text is a multiple of
    # four characters long, so a prefixed proof is never also valid unprefixed base64.
    if len(proof) % 4 == 3 and proof[:3] in _PREFIXES:
        return _PREFIXES[proof[:3]], proof[3:]
    return None, proof


def _decode_full(payload: bytes) -> Transaction:
    try:
        return Transaction.parse(payload)
    except CodecError as error:
        raise invalid(Reason.UNDECODABLE, f"not a transaction (full format): {error}") from None


def decode_proof(script_pubkey: bytes, proof: str) -> tuple[ProofFormat, bytes | tuple[bytes, ...] | Transaction]:
    """The format of `proof` and what it holds: a compact signature, a witness stack or a to_sign.

    Raises Refusal when it is none of them.
    """
    prefix, body = _split_prefix(proof)
    payload = decode_base64(body)
    if prefix == "full":
        return ProofFormat.FULL, _decode_full(payload)
    if prefix == "proof_of_funds":
        raise inconclusive(Reason.PROOF_OF_FUNDS, "proofs of funds need the UTXO set; not supported")
    if prefix is None and len(payload) == message_signing.COMPACT_SIGNATURE_SIZE:
        if script.classify(script_pubkey) is script.ScriptType.P2PKH:
            return ProofFormat.LEGACY, payload
    try:
        return ProofFormat.SIMPLE, decode_witness(payload)
    except CodecError as error:
        if prefix == "simple":
            raise invalid(Reason.UNDECODABLE, f"not a witness stack (simple format): {error}") from None
    try:
        return ProofFormat.FULL, Transaction.parse(payload)
    except CodecError:
        raise invalid(Reason.UNDECODABLE, "neither a witness stack nor a transaction") from None
