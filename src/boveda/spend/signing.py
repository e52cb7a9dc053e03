"""Combining cosigners' signed PSBTs into the approved transaction (pure).

A signed PSBT must carry exactly the proposal's unsigned transaction — same inputs in the same
order, same outputs, same version, locktime and sequences — so a signer or a device cannot change
the destination or the fee. Every signature found (partial or already finalized) is checked with
the bitcoin layer's sighashes and libsecp256k1, SIGHASH_ALL (taproot: DEFAULT or ALL) only, and
attributed to its key's BIP-32 fingerprint from the proposal's own derivations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from embit.psbt import PSBT

from boveda.bitcoin import script
from boveda.bitcoin.bip322.signatures import verify_checksig, verify_schnorr
from boveda.bitcoin.bip322.verdict import Reason, Refusal, invalid
from boveda.bitcoin.hashes import hash160
from boveda.bitcoin.sighash import SighashType, TxDigests, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.money import format_btc
from boveda.spend.errors import PolicyRefusal, SpendError
from boveda.spend.psbt_build import unsigned_transaction

_TAP_KEY_SIG = b"\x13"  # PSBT_IN_TAP_KEY_SIG, which embit 0.8.0 leaves among the unknown fields
RULE = "unchanged-transaction"


@dataclass(frozen=True, slots=True)
class Finalized:
    tx: Transaction
    signers: tuple[tuple[int, tuple[str, ...]], ...]  # (input index, fingerprints hex of the keys that signed)


def compare(expected: Transaction, signed: Transaction, where: str) -> None:
    """PolicyRefusal naming how ``signed`` differs from the approved transaction."""
    if signed == expected:
        return
    want = [str(i.prevout) for i in expected.inputs]
    got = [str(i.prevout) for i in signed.inputs]
    added = [o for o in got if o not in want]
    if added:
        raise PolicyRefusal(RULE, f"{where} adds input {added[0]} to the approved transaction")
    dropped = [o for o in want if o not in got]
    if dropped:
        raise PolicyRefusal(RULE, f"{where} drops input {dropped[0]} of the approved transaction")
    if got != want:
        raise PolicyRefusal(RULE, f"{where} reorders the approved transaction's inputs")
    if len(signed.outputs) != len(expected.outputs):
        raise PolicyRefusal(RULE, f"{where} has {len(signed.outputs)} outputs; the approved transaction has "
                                  f"{len(expected.outputs)}")
    for n, (e, s) in enumerate(zip(expected.outputs, signed.outputs)):
        if e.script_pubkey != s.script_pubkey:
            raise PolicyRefusal(RULE, f"{where} alters output {n}: it pays another script than the approved one")
    paid_expected = sum(o.value_sat for o in expected.outputs)
    paid_signed = sum(o.value_sat for o in signed.outputs)
    if paid_signed < paid_expected:
        raise PolicyRefusal(RULE, f"{where} raises the fee by {format_btc(paid_expected - paid_signed)} BTC over the "
                                  "approved transaction's")
    for n, (e, s) in enumerate(zip(expected.outputs, signed.outputs)):
        if e.value_sat != s.value_sat:
            raise PolicyRefusal(RULE, f"{where} alters output {n}'s amount from {format_btc(e.value_sat)} to "
                                      f"{format_btc(s.value_sat)} BTC")
    raise PolicyRefusal(RULE, f"{where} changes the approved transaction's version, locktime or sequences")


def _found_signatures(psbt: PSBT, index: int, kind: script.ScriptType, ws: bytes | None
                      ) -> list[tuple[bytes | None, bytes]]:
    """(public key or None, signature) pairs one PSBT holds for input ``index``."""
    scope = psbt.inputs[index]
    found: list[tuple[bytes | None, bytes]] = [(pub.sec(), bytes(sig)) for pub, sig in scope.partial_sigs.items()]
    tap = scope.unknown.get(_TAP_KEY_SIG)
    if tap:
        found.append((None, bytes(tap)))
    witness = scope.final_scriptwitness
    items = [bytes(x) for x in witness.items] if witness is not None and witness.items else []
    if items and kind is script.ScriptType.P2WPKH and len(items) == 2:
        found.append((items[1], items[0]))
    elif items and kind is script.ScriptType.P2TR and len(items) == 1:
        found.append((None, items[0]))
    elif items and kind is script.ScriptType.P2WSH and ws is not None and items[-1] == ws:
        found += [(None, sig) for sig in items[1:-1] if sig]  # keys found by trying each
    return found


def _fingerprints(proposal: PSBT, index: int) -> dict[bytes, str]:
    scope = proposal.inputs[index]
    found = {pub.sec(): d.fingerprint.hex() for pub, d in scope.bip32_derivations.items()}
    for pub, (_, d) in scope.taproot_bip32_derivations.items():
        found[pub.xonly()] = d.fingerprint.hex()
    return found


def finalize(proposal: PSBT, signed: Sequence[tuple[str, PSBT]]) -> Finalized:
    """The approved transaction with every input's witness assembled from the signed PSBTs."""
    expected = unsigned_transaction(proposal)
    for where, psbt in signed:
        compare(expected, unsigned_transaction(psbt), where)
    spent = []
    for n, scope in enumerate(proposal.inputs):
        if scope.witness_utxo is None:
            raise SpendError(f"the proposal's PSBT lacks input {n}'s witness UTXO")
        spent.append(TxOut(scope.witness_utxo.value, scope.witness_utxo.script_pubkey.data))
    digests = TxDigests.compute(expected, spent)
    inputs, signers = [], []
    for n, prevout in enumerate(spent):
        witness, keys = _input_witness(proposal, signed, expected, spent, digests, n, prevout)
        fingerprints = _fingerprints(proposal, n)
        signers.append((n, tuple(sorted({fingerprints.get(k, "unknown") for k in keys}))))
        inputs.append(replace(expected.inputs[n], witness=witness))
    return Finalized(replace(expected, inputs=tuple(inputs)), tuple(signers))


def _input_witness(proposal: PSBT, signed: Sequence[tuple[str, PSBT]], tx: Transaction, spent: Sequence[TxOut],
                   digests: TxDigests, n: int, prevout: TxOut) -> tuple[tuple[bytes, ...], list[bytes]]:
    """(witness, keys that signed) of input ``n``; SpendError for a bad signature or too few."""
    kind = script.classify(prevout.script_pubkey)
    ws = proposal.inputs[n].witness_script.data if proposal.inputs[n].witness_script is not None else None
    valid: dict[bytes, bytes] = {}  # key -> signature
    for where, psbt in signed:
        for public_key, signature in _found_signatures(psbt, n, kind, ws):
            try:
                key = _verified_key(kind, prevout, ws, public_key, signature, tx, spent, digests, n)
            except Refusal as refusal:
                raise SpendError(f"{where}: the signature on input {n} does not verify ({refusal.detail})") from None
            valid[key] = signature
    if kind is script.ScriptType.P2WPKH:
        if not valid:
            raise SpendError(f"input {n} is not signed in any of the PSBTs given")
        key, signature = next(iter(valid.items()))
        return (signature, key), [key]
    if kind is script.ScriptType.P2TR:
        if not valid:
            raise SpendError(f"input {n} is not signed in any of the PSBTs given")
        return (next(iter(valid.values())),), list(valid)
    assert ws is not None
    required, keys = script.parse_multisig(ws) or (0, ())
    chosen = [k for k in keys if k in valid][:required]
    if len(chosen) < required:
        raise SpendError(f"input {n} has {len(chosen)} of the {required} cosigner signatures it needs: collect more "
                         "signed PSBTs")
    return (b"", *(valid[k] for k in chosen), ws), chosen


def _verified_key(kind: script.ScriptType, prevout: TxOut, ws: bytes | None, public_key: bytes | None,
                  signature: bytes, tx: Transaction, spent: Sequence[TxOut], digests: TxDigests, n: int) -> bytes:
    """The key whose valid signature this is (Refusal when none is), SIGHASH_ALL/DEFAULT only."""
    if kind is script.ScriptType.P2TR:
        if len(signature) == 64:
            hash_type = SighashType.DEFAULT
        elif len(signature) == 65 and signature[64] == SighashType.ALL:
            hash_type = SighashType.ALL
        else:
            raise invalid(Reason.HASH_TYPE, "a taproot signature here is SIGHASH_DEFAULT or ALL")
        output_key = prevout.script_pubkey[2:]
        verify_schnorr(signature, output_key, taproot_sighash(tx, n, spent, hash_type, digests))
        return output_key
    if kind is script.ScriptType.P2WPKH:
        if public_key is None or hash160(public_key) != prevout.script_pubkey[2:]:
            raise invalid(Reason.WRONG_KEY, "the key does not hash to the input's script")
        sighash = segwit_v0_sighash(tx, n, script.p2pkh(public_key), prevout.value_sat, SighashType.ALL, digests)
        verify_checksig(signature, public_key, sighash)
        return public_key
    if kind is script.ScriptType.P2WSH and ws is not None:
        template = script.parse_multisig(ws)
        if template is None:
            raise invalid(Reason.UNSUPPORTED_SCRIPT, "the witness script is not a k-of-n multisig")
        sighash = segwit_v0_sighash(tx, n, ws, prevout.value_sat, SighashType.ALL, digests)
        candidates = [public_key] if public_key is not None else list(template[1])
        if public_key is not None and public_key not in template[1]:
            raise invalid(Reason.WRONG_KEY, "the key is not one of the multisig's keys")
        last: Refusal | None = None
        for key in candidates:
            try:
                verify_checksig(signature, key, sighash)
                return key
            except Refusal as refusal:
                last = refusal
        assert last is not None
        raise last
    raise invalid(Reason.UNSUPPORTED_SCRIPT, f"input scripts of type {kind.name} are not signed here")
