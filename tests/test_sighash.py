"""Signature hashes: BIP-143 and BIP-341 against the vectors of the BIPs (tests/data), and legacy,
BIP-143 and BIP-341 against Bitcoin Core's interpreter (py-bitcoinkernel) on random transactions."""

import json
from pathlib import Path

import coincurve
import pbk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.bitcoin import script
from boveda.bitcoin.sighash import (
    SighashType,
    TxDigests,
    legacy_sighash,
    segwit_v0_sighash,
    taproot_sighash,
    taproot_sigmsg,
)
from boveda.bitcoin.taproot import SECP256K1_ORDER
from boveda.bitcoin.taproot import tweak_secret as taproot_tweak_secret
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.errors import CodecError

DATA = Path(__file__).parent / "data"
BIP143 = json.loads((DATA / "bip143_vectors.json").read_text())["vectors"]
BIP341 = json.loads((DATA / "bip341_keypath_vectors.json").read_text())["keyPathSpending"][0]


def _bip341_tx() -> tuple[Transaction, list[TxOut]]:
    tx = Transaction.from_hex(BIP341["given"]["rawUnsignedTx"])
    spent = [TxOut(u["amountSats"], bytes.fromhex(u["scriptPubKey"])) for u in BIP341["given"]["utxosSpent"]]
    return tx, spent


@pytest.mark.parametrize("vector", BIP143, ids=[v["name"] for v in BIP143])
def test_bip143_sighash(vector):
    tx = Transaction.from_hex(vector["unsigned_tx"])
    sighash = segwit_v0_sighash(
        tx, vector["input_index"], bytes.fromhex(vector["script_code"]), vector["amount_sat"], vector["hash_type"]
    )
    assert sighash.hex() == vector["sighash"]
    if "private_key" in vector:
        key = coincurve.PrivateKey(bytes.fromhex(vector["private_key"]))
        # RFC-6979 nonces: libsecp256k1 reproduces the BIP's signatures byte for byte.
        assert key.sign(sighash, hasher=None).hex() == vector["signature"]


def test_bip143_digests_shared_between_inputs_give_the_same_hashes():
    vector = BIP143[0]
    tx = Transaction.from_hex(vector["unsigned_tx"])
    digests = TxDigests.compute(tx)
    args = (tx, 1, bytes.fromhex(vector["script_code"]), vector["amount_sat"])
    for hash_type in (1, 2, 3, 0x81, 0x82, 0x83):
        assert segwit_v0_sighash(*args, hash_type, digests) == segwit_v0_sighash(*args, hash_type)


def test_bip143_refuses_taproot_only_and_unknown_hash_types():
    tx = Transaction.from_hex(BIP143[0]["unsigned_tx"])
    with pytest.raises(CodecError, match="only for taproot"):
        segwit_v0_sighash(tx, 0, b"", 0, SighashType.DEFAULT)
    with pytest.raises(CodecError, match="hash type 0x04 is not defined"):
        segwit_v0_sighash(tx, 0, b"", 0, 0x04)
    with pytest.raises(CodecError, match="input 2 of a transaction with 2 inputs"):
        segwit_v0_sighash(tx, 2, b"", 0)


def test_bip341_transaction_digests():
    tx, spent = _bip341_tx()
    digests = TxDigests.compute(tx, spent)
    expected = BIP341["intermediary"]
    assert digests.sha_prevouts.hex() == expected["hashPrevouts"]
    assert digests.sha_amounts.hex() == expected["hashAmounts"]
    assert digests.sha_scriptpubkeys.hex() == expected["hashScriptPubkeys"]
    assert digests.sha_sequences.hex() == expected["hashSequences"]
    assert digests.sha_outputs.hex() == expected["hashOutputs"]


@pytest.mark.parametrize(
    "spending", BIP341["inputSpending"], ids=[f"input{s['given']['txinIndex']}" for s in BIP341["inputSpending"]]
)
def test_bip341_keypath_sighash_tweak_and_signature(spending):
    tx, spent = _bip341_tx()
    given, expected = spending["given"], spending["intermediary"]
    index, hash_type = given["txinIndex"], given["hashType"]
    digests = TxDigests.compute(tx, spent)
    assert taproot_sigmsg(tx, index, spent, hash_type, digests).hex() == expected["sigMsg"]
    sighash = taproot_sighash(tx, index, spent, hash_type, digests)
    assert sighash.hex() == expected["sigHash"]
    assert taproot_sighash(tx, index, spent, hash_type) == sighash  # digests computed on demand

    merkle_root = bytes.fromhex(given["merkleRoot"]) if given["merkleRoot"] else b""
    tweaked, output_key = taproot_tweak_secret(bytes.fromhex(given["internalPrivkey"]), merkle_root)
    assert tweaked.hex() == expected["tweakedPrivkey"]
    assert spent[index].script_pubkey == b"\x51\x20" + output_key
    signature = coincurve.PrivateKey(tweaked).sign_schnorr(sighash, bytes(32))
    if hash_type != SighashType.DEFAULT:
        signature += bytes((hash_type,))
    assert [signature.hex()] == spending["expected"]["witness"]


def test_bip341_fully_signed_transaction_carries_the_expected_witnesses():
    signed = Transaction.from_hex(BIP341["auxiliary"]["fullySignedTx"])
    for spending in BIP341["inputSpending"]:
        witness = signed.inputs[spending["given"]["txinIndex"]].witness
        assert [item.hex() for item in witness] == spending["expected"]["witness"]


def test_bip341_refuses_single_without_output_and_unknown_hash_types():
    tx, spent = _bip341_tx()  # two outputs, nine inputs
    with pytest.raises(CodecError, match="SIGHASH_SINGLE"):
        taproot_sighash(tx, 5, spent, SighashType.SINGLE)
    with pytest.raises(CodecError, match="not defined"):
        taproot_sighash(tx, 0, spent, 0x04)
    with pytest.raises(CodecError, match="3 spent outputs given for 9 inputs"):
        TxDigests.compute(tx, spent[:3])


def test_bip341_annex_changes_the_message():
    tx, spent = _bip341_tx()
    plain = taproot_sigmsg(tx, 0, spent)
    with_annex = taproot_sigmsg(tx, 0, spent, annex=b"\x50\x01")
    assert with_annex[: len(plain) - 5] == plain[:-5]
    assert plain[-5] == 0 and with_annex[len(plain) - 5] == 1  # spend_type's annex bit
    assert len(with_annex) == len(plain) + 32


# -- against Bitcoin Core's interpreter -----------------------------------------------------------
# Each case builds a random transaction, signs one input with the hash computed here, and asks
# Core's script interpreter (consensus flags) whether the input's spend is valid.

DEFINED_HASH_TYPES = [t for t in SighashType if t != SighashType.DEFAULT]
secrets = st.integers(1, SECP256K1_ORDER - 1).map(lambda n: n.to_bytes(32, "big"))
outpoints = st.builds(OutPoint, st.binary(min_size=32, max_size=32), st.integers(0, 2**32 - 1))
outputs = st.builds(TxOut, st.integers(0, 2**40), st.binary(max_size=40))


@st.composite
def transactions(draw) -> tuple[Transaction, int]:
    """(an unsigned transaction of 1..3 inputs and 1..3 outputs, the index of the input to sign)."""
    inputs = draw(st.lists(st.builds(TxIn, outpoints, st.just(b""), st.integers(0, 2**32 - 1)), min_size=1, max_size=3))
    tx = Transaction(
        draw(st.sampled_from([1, 2, -1, 0x7FFFFFFF])),
        tuple(inputs),
        tuple(draw(st.lists(outputs, min_size=1, max_size=3))),
        draw(st.integers(0, 2**32 - 1)),
    )
    return tx, draw(st.integers(0, len(inputs) - 1))


def core_accepts(tx: Transaction, spent: list[TxOut], input_index: int) -> bool:
    kernel_tx = pbk.Transaction(tx.serialize())
    kernel_spent = [pbk.TransactionOutput(pbk.ScriptPubkey(o.script_pubkey), o.value_sat) for o in spent]
    precomputed = pbk.script.PrecomputedTransactionData(kernel_tx, kernel_spent)
    script_pubkey = pbk.ScriptPubkey(spent[input_index].script_pubkey)
    flags = pbk.ScriptVerificationFlags.ALL
    return bool(script_pubkey.verify(spent[input_index].value_sat, kernel_tx, precomputed, input_index, flags))


def with_input(tx: Transaction, index: int, *, script_sig: bytes = b"", witness: tuple[bytes, ...] = ()) -> Transaction:
    old = tx.inputs[index]
    inputs = tx.inputs[:index] + (TxIn(old.prevout, script_sig, old.sequence, witness),) + tx.inputs[index + 1 :]
    return Transaction(tx.version, inputs, tx.outputs, tx.locktime)


def with_output_bumped(tx: Transaction, index: int) -> Transaction:
    """`tx` with output `index` paying one satoshi more."""
    old = tx.outputs[index]
    outputs = tx.outputs[:index] + (TxOut(old.value_sat + 1, old.script_pubkey),) + tx.outputs[index + 1 :]
    return Transaction(tx.version, tx.inputs, outputs, tx.locktime)


def der_signature(secret: bytes, sighash: bytes, hash_type: int) -> bytes:
    return coincurve.PrivateKey(secret).sign(sighash, hasher=None) + bytes((hash_type,))


@settings(max_examples=80, deadline=None)
@given(transactions(), secrets, st.sampled_from(DEFINED_HASH_TYPES + [0x00, 0x04, 0x41, 0xC3]), st.booleans())
def test_legacy_sighash_signs_what_cores_interpreter_checks(tx_and_index, secret, hash_type, compressed):
    tx, index = tx_and_index
    public_key = coincurve.PrivateKey(secret).public_key.format(compressed=compressed)
    spent = [TxOut(1_000 * (i + 1), script.p2pkh(public_key)) for i in range(len(tx.inputs))]
    # Consensus reads any hash type: undefined ones sign as ALL; SINGLE past the outputs signs 1.
    signature = der_signature(secret, legacy_sighash(tx, index, spent[index].script_pubkey, hash_type), hash_type)
    script_sig = script.push_data(signature) + script.push_data(public_key)
    signed = with_input(tx, index, script_sig=script_sig)
    assert core_accepts(signed, spent, index)
    mode = hash_type & 0x1F
    if mode != SighashType.NONE and not (mode == SighashType.SINGLE and index >= len(tx.outputs)):
        assert not core_accepts(with_output_bumped(signed, index if mode == SighashType.SINGLE else 0), spent, index)


@settings(max_examples=80, deadline=None)
@given(transactions(), secrets, st.sampled_from(DEFINED_HASH_TYPES), st.integers(0, 2**40))
def test_segwit_v0_sighash_signs_what_cores_interpreter_checks(tx_and_index, secret, hash_type, value_sat):
    tx, index = tx_and_index
    public_key = coincurve.PrivateKey(secret).public_key.format()
    spent = [TxOut(value_sat, script.p2wpkh(public_key)) for _ in tx.inputs]
    sighash = segwit_v0_sighash(tx, index, script.p2pkh(public_key), value_sat, hash_type)
    signature = der_signature(secret, sighash, hash_type)
    assert core_accepts(with_input(tx, index, witness=(signature, public_key)), spent, index)
    # The hash type is signed too: the same signature under the other ANYONECANPAY bit is refused.
    relabelled = der_signature(secret, sighash, hash_type ^ 0x80)
    assert not core_accepts(with_input(tx, index, witness=(relabelled, public_key)), spent, index)


@settings(max_examples=80, deadline=None)
@given(
    transactions(),
    st.lists(secrets, min_size=3, max_size=3, unique=True),
    st.sampled_from(list(SighashType)),
    st.none() | st.binary(max_size=40).map(lambda b: b"\x50" + b),
)
def test_taproot_sighash_signs_what_cores_interpreter_checks(tx_and_index, keys, hash_type, annex):
    tx, index = tx_and_index
    if hash_type.output_mode == SighashType.SINGLE and index >= len(tx.outputs):
        with pytest.raises(CodecError):
            taproot_sighash(tx, index, [TxOut(0, b"\x51\x20" + bytes(32))] * len(tx.inputs), hash_type)
        return
    tweaked, output_key = taproot_tweak_secret(keys[0])
    others = [script.p2tr(taproot_tweak_secret(k)[1]) for k in keys[1:]]
    spent = [TxOut(5_000 + i, script.p2tr(output_key) if i == index else others[i % 2]) for i in range(len(tx.inputs))]
    sighash = taproot_sighash(tx, index, spent, hash_type, annex=annex)
    signature = coincurve.PrivateKey(tweaked).sign_schnorr(sighash, bytes(32))
    if hash_type != SighashType.DEFAULT:
        signature += bytes((hash_type,))
    witness = (signature,) if annex is None else (signature, annex)
    assert core_accepts(with_input(tx, index, witness=witness), spent, index)
    if not hash_type.anyone_can_pay:  # every spent amount is signed: changing another input's breaks it
        other = (index + 1) % len(spent)
        if other != index:
            moved = spent[:other] + [TxOut(spent[other].value_sat + 1, spent[other].script_pubkey)] + spent[other + 1 :]
            assert not core_accepts(with_input(tx, index, witness=witness), moved, index)
