"""How to_sign's input must spend each kind of script under BIP-322's rules; Refusal when it does not.

Known here: P2WPKH, P2WSH k-of-n multisig, P2TR key path, P2SH-wrapped P2WPKH/P2WSH and P2PKH.
Any other script is *inconclusive*, as the BIP tells a validator without a full interpreter to
answer. Signature hashes come from `boveda.bitcoin.sighash`, over to_sign itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from boveda.bitcoin import script, taproot
from boveda.bitcoin.bip322.signatures import (
    DEFINED_HASH_TYPES,
    verify_checkmultisig,
    verify_checksig,
    verify_schnorr,
)
from boveda.bitcoin.bip322.verdict import Reason, inconclusive, invalid
from boveda.bitcoin.hashes import hash160, sha256
from boveda.bitcoin.sighash import SighashType, legacy_sighash, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.errors import CodecError

_MAX_WITNESS_ITEM_SIZE = 520
_TAPROOT_ANNEX_TAG = 0x50
_TAPROOT_CONTROL_BASE_SIZE = 33
_TAPROOT_CONTROL_NODE_SIZE = 32
_TAPROOT_CONTROL_MAX_NODES = 128


def _verify_p2wpkh(program: bytes, witness: Sequence[bytes], to_sign_tx: Transaction) -> None:
    if len(witness) != 2:
        raise invalid(Reason.WITNESS_MISMATCH, f"P2WPKH needs 2 witness items, got {len(witness)}")
    signature, public_key = witness
    if hash160(public_key) != program:
        raise invalid(Reason.WRONG_KEY, "the public key does not hash to this address")
    script_code = script.p2pkh_of_hash(program)  # BIP-143's scriptCode of a P2WPKH input
    verify_checksig(signature, public_key, segwit_v0_sighash(to_sign_tx, 0, script_code, 0, SighashType.ALL))


def _verify_p2wsh(program: bytes, witness: Sequence[bytes], to_sign_tx: Transaction) -> None:
    if not witness:
        raise invalid(Reason.WITNESS_MISMATCH, "P2WSH needs a witness script, the witness is empty")
    witness_script = witness[-1]
    if sha256(witness_script) != program:
        raise invalid(Reason.WRONG_KEY, "the witness script does not hash to this address")
    template = script.parse_multisig(witness_script)
    if template is None:
        raise inconclusive(Reason.UNSUPPORTED_SCRIPT, "witness script is not a k-of-n multisig this verifier runs")
    sighash = segwit_v0_sighash(to_sign_tx, 0, witness_script, 0, SighashType.ALL)
    verify_checkmultisig(*template, witness, sighash)


def _check_taproot_commitment(output_key: bytes, leaf_script: bytes, control_block: bytes) -> None:
    """BIP-341's script-path check that `control_block` and `leaf_script` commit to `output_key`."""
    nodes, remainder = divmod(len(control_block) - _TAPROOT_CONTROL_BASE_SIZE, _TAPROOT_CONTROL_NODE_SIZE)
    if len(control_block) < _TAPROOT_CONTROL_BASE_SIZE or remainder or nodes > _TAPROOT_CONTROL_MAX_NODES:
        raise invalid(Reason.WITNESS_MISMATCH, f"taproot control block of {len(control_block)} bytes")
    node = taproot.leaf_hash(control_block[0] & 0xFE, leaf_script)
    for start in range(_TAPROOT_CONTROL_BASE_SIZE, len(control_block), _TAPROOT_CONTROL_NODE_SIZE):
        node = taproot.branch_hash(node, control_block[start : start + _TAPROOT_CONTROL_NODE_SIZE])
    try:
        tweaked = taproot.tweak_public_key(control_block[1:33], node)
        commits = tweaked[1:] == output_key and tweaked[0] & 1 == control_block[0] & 1
    except CodecError:  # the internal key is not on the curve, or the tweak is out of range
        commits = False
    if not commits:
        raise invalid(Reason.WRONG_KEY, "the taproot control block does not commit to this output key")


def _verify_p2tr(script_pubkey: bytes, witness: Sequence[bytes], to_sign_tx: Transaction) -> None:
    has_annex = len(witness) >= 2 and witness[-1][:1] == bytes((_TAPROOT_ANNEX_TAG,))
    annex = witness[-1] if has_annex else None
    stack = witness[:-1] if has_annex else witness
    if not stack:
        raise invalid(Reason.WITNESS_MISMATCH, "taproot spend with an empty witness")
    if len(stack) > 1:
        _check_taproot_commitment(script_pubkey[2:], stack[-2], stack[-1])
        raise inconclusive(Reason.UNSUPPORTED_SCRIPT, "taproot script-path spends are not interpreted here")
    signature = stack[0]
    if len(signature) == 64:
        hash_type = SighashType.DEFAULT
    elif len(signature) == 65:
        hash_type = signature[64]
        if hash_type == SighashType.DEFAULT:
            raise invalid(Reason.HASH_TYPE, "65-byte taproot signature with hash type 0x00 (BIP-341 forbids it)")
        if hash_type not in DEFINED_HASH_TYPES:
            raise invalid(Reason.HASH_TYPE, f"undefined taproot hash type 0x{hash_type:02x}")
        if hash_type != SighashType.ALL:
            raise invalid(Reason.HASH_TYPE, f"hash type 0x{hash_type:02x}; BIP-322 requires SIGHASH_ALL")
    else:
        raise invalid(Reason.MALFORMED_SIGNATURE, f"a Schnorr signature is 64 or 65 bytes, not {len(signature)}")
    sighash = taproot_sighash(to_sign_tx, 0, (TxOut(0, script_pubkey),), hash_type, annex=annex)
    verify_schnorr(signature, script_pubkey[2:], sighash)


def _verify_witness_program(
    version: int,
    program: bytes,
    script_pubkey: bytes,
    witness: Sequence[bytes],
    to_sign_tx: Transaction,
    *,
    nested: bool,
) -> None:
    if version == 0:
        for item in witness[:-1] if len(program) == 32 else witness:
            if len(item) > _MAX_WITNESS_ITEM_SIZE:
                raise invalid(Reason.SCRIPT_FAILED, "witness item larger than 520 bytes")
        if len(program) == 20:
            return _verify_p2wpkh(program, witness, to_sign_tx)
        if len(program) == 32:
            return _verify_p2wsh(program, witness, to_sign_tx)
        raise invalid(Reason.SCRIPT_FAILED, f"version 0 witness program of {len(program)} bytes")
    if version == 1 and len(program) == 32 and not nested:
        return _verify_p2tr(script_pubkey, witness, to_sign_tx)
    raise inconclusive(Reason.UPGRADEABLE_RULE, f"witness version {version} program: no rules to check it by")


def _script_sig_stack(script_sig: bytes) -> list[bytes]:
    """The stack a push-only scriptSig leaves; refuses other operations and non-minimal pushes.

    Bitcoin Core's standard flags demand both (SIGPUSHONLY, MINIMALDATA); a signer never needs more.
    """
    stack = []
    try:
        for op, data in script.iter_ops(script_sig):
            if data is None:
                if op == script.OP_1NEGATE:
                    data = b"\x81"
                elif script.OP_1 <= op <= script.OP_16:
                    data = bytes((op - script.OP_1 + 1,))
                else:
                    raise invalid(Reason.SCRIPT_FAILED, f"scriptSig holds operation 0x{op:02x}; it may only push")
            elif script.minimal_push_opcode(data) != op:
                raise invalid(Reason.SCRIPT_FAILED, "scriptSig push is not minimal (MINIMALDATA)")
            stack.append(data)
    except CodecError:
        raise invalid(Reason.SCRIPT_FAILED, "scriptSig ends inside a push") from None
    return stack


def _verify_p2sh(script_pubkey: bytes, script_sig: bytes, witness: Sequence[bytes], to_sign_tx: Transaction) -> None:
    stack = _script_sig_stack(script_sig)
    if not stack:
        raise invalid(Reason.SCRIPT_FAILED, "a P2SH spend needs its redeem script in the scriptSig")
    redeem_script = stack[-1]
    if hash160(redeem_script) != script_pubkey[2:22]:
        raise invalid(Reason.WRONG_KEY, "the redeem script does not hash to this address")
    nested = script.witness_program(redeem_script)
    if nested is not None:
        if len(stack) != 1:  # BIP-141: exactly one push, of the redeem script
            raise invalid(Reason.WITNESS_MISMATCH, "P2SH-wrapped segwit scriptSig must push only the redeem script")
        return _verify_witness_program(*nested, script_pubkey, witness, to_sign_tx, nested=True)
    if witness:
        raise invalid(Reason.WITNESS_MISMATCH, "witness data on a P2SH spend that is not segwit")
    raise inconclusive(Reason.UNSUPPORTED_SCRIPT, "P2SH redeem scripts other than segwit are not interpreted here")


def _verify_p2pkh(script_pubkey: bytes, script_sig: bytes, to_sign_tx: Transaction) -> None:
    stack = _script_sig_stack(script_sig)
    # Fewer items underflow; more break the clean-stack rule.
    if len(stack) != 2:
        raise invalid(Reason.SCRIPT_FAILED, f"a P2PKH spend pushes a signature and a key, not {len(stack)} items")
    signature, public_key = stack
    if hash160(public_key) != script_pubkey[3:23]:
        raise invalid(Reason.WRONG_KEY, "the public key does not hash to this address")
    verify_checksig(signature, public_key, legacy_sighash(to_sign_tx, 0, script_pubkey, SighashType.ALL))


def verify_spend(script_pubkey: bytes, to_sign_tx: Transaction) -> None:
    """Raises Refusal unless input 0 of `to_sign_tx` spends `script_pubkey` (0 sat) under BIP-322's rules."""
    script_sig, witness = to_sign_tx.inputs[0].script_sig, to_sign_tx.inputs[0].witness
    program = script.witness_program(script_pubkey)
    if program is not None:
        if script_sig:
            raise invalid(Reason.WITNESS_MISMATCH, "a native segwit spend must have an empty scriptSig")
        return _verify_witness_program(*program, script_pubkey, witness, to_sign_tx, nested=False)
    kind = script.classify(script_pubkey)
    if kind is script.ScriptType.P2SH:
        return _verify_p2sh(script_pubkey, script_sig, witness, to_sign_tx)
    if witness:
        raise invalid(Reason.WITNESS_MISMATCH, f"witness data on a {kind.value} spend, which is not segwit")
    if kind is script.ScriptType.P2PKH:
        return _verify_p2pkh(script_pubkey, script_sig, to_sign_tx)
    raise inconclusive(Reason.UNSUPPORTED_SCRIPT, f"{kind.value} scripts are not interpreted here")
