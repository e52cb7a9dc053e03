"""BIP-322 verification: a proof, a message and a script (or address) in; a Verification out, never an exception."""

from __future__ import annotations

from boveda.bitcoin import message_signing
from boveda.bitcoin.address import address_to_script
from boveda.bitcoin.bip322.formats import decode_proof
from boveda.bitcoin.bip322.spends import verify_spend
from boveda.bitcoin.bip322.transactions import TO_SIGN_OUTPUT, message_bytes, to_sign_spending, to_spend
from boveda.bitcoin.bip322.verdict import (
    ProofFormat,
    Reason,
    Refusal,
    Verdict,
    Verification,
    inconclusive,
    invalid,
)
from boveda.bitcoin.hashes import hash160
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import Transaction

_VALID_SIMPLE = Verification(Verdict.VALID, Reason.OK, "", ProofFormat.SIMPLE)
_VALID_LEGACY = Verification(Verdict.VALID, Reason.OK, "", ProofFormat.LEGACY)


def _verify_legacy(script_pubkey: bytes, message: bytes, signature: bytes) -> Verification:
    public_key = message_signing.recover_message_key(message, signature)
    if public_key is None:
        raise invalid(Reason.BAD_SIGNATURE, "no public key recovers from this compact signature")
    if hash160(public_key) != script_pubkey[3:23]:
        raise invalid(Reason.WRONG_KEY, "the signing key is not this address's key (other message or address)")
    return _VALID_LEGACY


def _verify_full(script_pubkey: bytes, to_spend_txid: bytes, tx: Transaction) -> Verification:
    if not tx.inputs:
        raise invalid(Reason.NOT_A_TO_SIGN, "to_sign has no input")
    first = tx.inputs[0]
    if first.prevout.vout != 0:
        raise invalid(Reason.NOT_A_TO_SIGN, "to_sign's first input does not spend output 0 of to_spend")
    if first.prevout.txid != to_spend_txid:
        raise invalid(Reason.OTHER_MESSAGE_OR_ADDRESS, "to_sign spends the to_spend of another message or address")
    if tx.outputs != (TO_SIGN_OUTPUT,):
        raise invalid(Reason.NOT_A_TO_SIGN, "to_sign must have exactly one output: 0 sat to OP_RETURN")
    if len(tx.inputs) > 1:
        raise inconclusive(Reason.PROOF_OF_FUNDS, "proofs of funds (extra to_sign inputs) need the UTXO set")
    verify_spend(script_pubkey, tx)
    if tx.version not in (0, 2):
        raise inconclusive(Reason.UPGRADEABLE_RULE, f"to_sign version {tx.version}; BIP-322 knows 0 and 2")
    return Verification(Verdict.VALID, Reason.OK, "", ProofFormat.FULL, tx.locktime, first.sequence)


def verify(script_pubkey: bytes, message: str | bytes, proof: str) -> Verification:
    """Checks BIP-322 `proof` (simple, full, or legacy for P2PKH) that `message` was signed for `script_pubkey`.

    `message` is text (signed as UTF-8) or bytes. A proof may carry BIP-322's "smp"/"ful" type
    prefix; without one, a witness stack is tried first, then a transaction. Never raises for a
    bad proof: the result says why it is not valid.
    """
    message = message_bytes(message)
    proof_format = None
    try:
        proof_format, content = decode_proof(script_pubkey, proof)
        if proof_format is ProofFormat.LEGACY:
            return _verify_legacy(script_pubkey, message, content)
        to_spend_txid = to_spend(message, script_pubkey).txid
        if proof_format is ProofFormat.FULL:
            return _verify_full(script_pubkey, to_spend_txid, content)
        verify_spend(script_pubkey, to_sign_spending(to_spend_txid, content))
        return _VALID_SIMPLE
    except Refusal as refusal:
        return Verification(refusal.verdict, refusal.reason, refusal.detail, proof_format)


def verify_address(address: str, message: str | bytes, proof: str, network: Network) -> Verification:
    """`verify` for an address string; CodecError when `address` is not an address of `network`."""
    return verify(address_to_script(address, network), message, proof)
