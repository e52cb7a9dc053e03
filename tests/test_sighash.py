"""BIP-143 and BIP-341 signature hashes against the vectors of the BIPs (tests/data)."""

import json
from pathlib import Path

import coincurve
import pytest

from boveda.bitcoin.sighash import SighashType, TxDigests, segwit_v0_sighash, taproot_sighash, taproot_sigmsg
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.bitcoin.taproot import tweak_secret as taproot_tweak_secret

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
    with pytest.raises(ValueError):
        segwit_v0_sighash(tx, 0, b"", 0, SighashType.DEFAULT)
    with pytest.raises(ValueError):
        segwit_v0_sighash(tx, 0, b"", 0, 0x04)


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
    with pytest.raises(ValueError, match="SIGHASH_SINGLE"):
        taproot_sighash(tx, 5, spent, SighashType.SINGLE)
    with pytest.raises(ValueError):
        taproot_sighash(tx, 0, spent, 0x04)
    with pytest.raises(ValueError):
        TxDigests.compute(tx, spent[:3])


def test_bip341_annex_changes_the_message():
    tx, spent = _bip341_tx()
    plain = taproot_sigmsg(tx, 0, spent)
    with_annex = taproot_sigmsg(tx, 0, spent, annex=b"\x50\x01")
    assert with_annex[: len(plain) - 5] == plain[:-5]
    assert plain[-5] == 0 and with_annex[len(plain) - 5] == 1  # spend_type's annex bit
    assert len(with_annex) == len(plain) + 32
