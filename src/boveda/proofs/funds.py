"""BIP-322 "proof of funds" (full format with further inputs): one to_sign per wallet, checked input by input.

The to_sign's first input spends the to_spend of the message for one address, as in a full proof;
every further input spends a real coin, signed "as though these outputs were actually being spent"
(BIP-322). A verifier therefore needs each coin's script and value from its own chain: they come in
as `prevouts`, never from the proof. Every input is run through Bitcoin Core's own script
interpreter (libbitcoinkernel, the engine that validated the chain) with all consensus rules, and
the signatures are held to BIP-322's required rules on top (SIGHASH_ALL, strict DER, low S, key
encodings). Scripts beyond P2WPKH, P2WSH k-of-n multisig and P2TR key path are *inconclusive*.
The proof is all or nothing: one input that fails makes it invalid and proves no coin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pbk

from boveda.bitcoin import bip322, script
from boveda.bitcoin.bip322.formats import decode_base64
from boveda.bitcoin.bip322.signatures import check_ecdsa_signature_encoding, check_public_key_encoding
from boveda.bitcoin.bip322.transactions import TO_SIGN_OUTPUT
from boveda.bitcoin.bip322.verdict import Reason, Refusal, Verdict, inconclusive, invalid
from boveda.bitcoin.tx import OutPoint, Transaction, TxOut
from boveda.errors import CodecError

Coin = tuple[str, int]  # (txid hex as explorers show it, vout)

_FLAGS = pbk.ScriptVerificationFlags.ALL


@dataclass(frozen=True, slots=True)
class FundsVerification:
    """What one proof of funds proves: the coins its further inputs spend, when the whole proof is valid."""

    verdict: Verdict
    reason: Reason
    detail: str
    coins: tuple[Coin, ...]  # every further input's coin, in input order (proved only when valid)

    @property
    def is_valid(self) -> bool:
        return self.verdict is Verdict.VALID

    @property
    def proved(self) -> frozenset[Coin]:
        return frozenset(self.coins) if self.is_valid else frozenset()


def coin_of(outpoint: OutPoint) -> Coin:
    return outpoint.txid[::-1].hex(), outpoint.vout


def decode_to_sign(proof: str) -> Transaction:
    """The to_sign transaction a proof of funds holds; Refusal when it is not canonical base64 of one."""
    body = proof[3:] if len(proof) % 4 == 3 and proof[:3] in ("ful", "pof") else proof
    try:
        return Transaction.parse(decode_base64(body))
    except CodecError as error:
        raise invalid(Reason.UNDECODABLE, f"not a transaction (proof of funds): {error}") from None


def spent_coins(proof: str) -> tuple[Coin, ...]:
    """The coins a proof of funds claims (its further inputs), valid or not; () when it cannot be decoded."""
    try:
        return tuple(coin_of(txin.prevout) for txin in decode_to_sign(proof).inputs[1:])
    except Refusal:
        return ()


def verify_funds(script_pubkey: bytes, message: str | bytes, proof: str, prevouts: Mapping[Coin, TxOut]
                 ) -> FundsVerification:
    """Checks a proof of funds of `message` for `script_pubkey` whose further inputs spend coins of `prevouts`
    (the verifier's own chain: coin -> its output). Never raises for a bad proof."""
    coins: tuple[Coin, ...] = ()
    try:
        tx = decode_to_sign(proof)
        coins = tuple(coin_of(txin.prevout) for txin in tx.inputs[1:])
        spent = _spent_outputs(script_pubkey, message, tx, prevouts)
        kernel_tx = pbk.Transaction(tx.serialize())
        kernel_spent = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value_sat) for o in spent]
        kernel = (kernel_tx, pbk.script.PrecomputedTransactionData(kernel_tx, kernel_spent))
        for index, output in enumerate(spent):
            _check_input(tx, index, output, kernel)
        if tx.version not in (0, 2):
            raise inconclusive(Reason.UPGRADEABLE_RULE, f"to_sign version {tx.version}; BIP-322 knows 0 and 2")
    except Refusal as refusal:
        return FundsVerification(refusal.verdict, refusal.reason, refusal.detail, coins)
    return FundsVerification(Verdict.VALID, Reason.OK, "", coins)


def _spent_outputs(script_pubkey: bytes, message: str | bytes, tx: Transaction, prevouts: Mapping[Coin, TxOut]
                   ) -> tuple[TxOut, ...]:
    """BIP-322's layout checks, and the output each input spends (to_spend's, then the coins')."""
    if not tx.inputs:
        raise invalid(Reason.NOT_A_TO_SIGN, "to_sign has no input")
    first = tx.inputs[0].prevout
    if first != OutPoint(bip322.to_spend(message, script_pubkey).txid, 0):
        raise invalid(Reason.OTHER_MESSAGE_OR_ADDRESS,
                      "to_sign's first input does not spend the to_spend of this message and address")
    if tx.outputs != (TO_SIGN_OUTPUT,):
        raise invalid(Reason.NOT_A_TO_SIGN, "to_sign must have exactly one output: 0 sat to OP_RETURN")
    outpoints = [txin.prevout for txin in tx.inputs]
    if len(set(outpoints)) != len(outpoints):
        raise invalid(Reason.NOT_A_TO_SIGN, "to_sign spends one output twice")
    spent = [TxOut(0, script_pubkey)]
    for outpoint in outpoints[1:]:
        coin = coin_of(outpoint)
        if coin not in prevouts:
            raise invalid(Reason.NOT_A_TO_SIGN, f"input spends {coin[0]}:{coin[1]}, which is not an unspent coin "
                                                "listed in the bundle at its height")
        spent.append(prevouts[coin])
    return tuple(spent)


def _check_input(tx: Transaction, index: int, output: TxOut, kernel: tuple) -> None:
    """BIP-322's required rules on input `index`'s signatures, then Core's interpreter on the whole spend."""
    txin = tx.inputs[index]
    where = "the message input" if index == 0 else f"input {index} ({coin_of(txin.prevout)[0]}:{txin.prevout.vout})"
    witness = txin.witness
    kind = script.classify(output.script_pubkey)
    if txin.script_sig:
        raise inconclusive(Reason.UNSUPPORTED_SCRIPT, f"{where} has a scriptSig: only native segwit is checked here")
    if kind is script.ScriptType.P2WPKH and len(witness) == 2:
        check_ecdsa_signature_encoding(witness[0])
        check_public_key_encoding(witness[1])
    elif kind is script.ScriptType.P2WSH and witness and script.parse_multisig(witness[-1]) is not None:
        for signature in witness[1:-1]:
            if signature:
                check_ecdsa_signature_encoding(signature)
        for public_key in script.parse_multisig(witness[-1])[1]:
            check_public_key_encoding(public_key)
    elif kind is script.ScriptType.P2TR and len(witness) == 1:
        if len(witness[0]) == 65 and witness[0][64] != 0x01:
            raise invalid(Reason.HASH_TYPE, f"{where}: taproot hash type 0x{witness[0][64]:02x}; BIP-322 requires "
                                            "SIGHASH_ALL")
    elif kind in (script.ScriptType.P2WPKH, script.ScriptType.P2WSH, script.ScriptType.P2TR) and not witness:
        raise invalid(Reason.WITNESS_MISMATCH, f"{where} is not signed (empty witness)")
    else:
        raise inconclusive(Reason.UNSUPPORTED_SCRIPT, f"{where} spends a {kind.value} output in a way not "
                                                      "interpreted here")
    kernel_tx, precomputed = kernel
    try:
        ok = pbk.ScriptPubkey(output.script_pubkey).verify(output.value_sat, kernel_tx, precomputed, index, _FLAGS)
    except pbk.ScriptVerifyException as exc:
        raise invalid(Reason.SCRIPT_FAILED, f"{where}: Bitcoin Core's interpreter refuses it ({exc})") from None
    if not ok:
        raise invalid(Reason.BAD_SIGNATURE, f"{where}: the signature does not verify")
