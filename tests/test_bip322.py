"""BIP-322: the BIP's vectors (tests/data/bip322_vectors.json, sources noted inside), round trips,
one-bit mutations, and agreement with Bitcoin Core's script interpreter (py-bitcoinkernel).

Core's interpreter is reachable with consensus flags only (libbitcoinkernel asserts on any other
flag), so the cross-checks state BIP-322's required rules that go beyond consensus (SIGHASH_ALL,
low S) separately, in `meets_required_rules`, written here without the module's code.
"""

from __future__ import annotations

import base64
import itertools
import json
import string
from pathlib import Path

import coincurve
import pbk
import pytest
from embit import base58
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin import bip322, message_signing, script
from boveda.bitcoin.address import address_to_script, script_to_address
from boveda.bitcoin.bip322 import ProofFormat, Reason, Verdict
from boveda.bitcoin.codec import Reader
from boveda.bitcoin.hashes import hash160, tagged_hash
from boveda.bitcoin.network import Network
from boveda.bitcoin.sighash import SighashType, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.taproot import SECP256K1_ORDER, output_key, tweak_secret
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.errors import CodecError

VECTORS = json.loads((Path(__file__).parent / "data" / "bip322_vectors.json").read_text(encoding="utf-8"))
MAIN = Network.MAIN
OP_RETURN = b"\x6a"
BASE64_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"


def wif_secret(wif: str) -> bytes:
    return base58.decode_check(wif)[1:33]


def all_signed_vectors(kind: str) -> list[tuple[dict, str]]:
    groups = (VECTORS["basic"], VECTORS["generated"])
    return [(v, s) for group in groups for v in group.get(kind, ()) for s in v["bip322_signatures"]]


def vector_ids(kind: str) -> list[str]:
    return [f"{v['type']}-{i}" for i, (v, _) in enumerate(all_signed_vectors(kind))]


# -- an independent reading of the spec, and Bitcoin Core's interpreter ----------------------------


def spec_to_spend(message: bytes, script_pubkey: bytes) -> Transaction:
    digest = tagged_hash("BIP0322-signed-message", message)
    return Transaction(0, (TxIn(OutPoint(bytes(32), 0xFFFFFFFF), b"\x00\x20" + digest, 0),), (TxOut(0, script_pubkey),))


def spec_to_sign(to_spend_txid: bytes, witness=(), *, script_sig=b"", version=0, locktime=0, sequence=0) -> Transaction:
    txin = TxIn(OutPoint(to_spend_txid, 0), script_sig, sequence, tuple(witness))
    return Transaction(version, (txin,), (TxOut(0, OP_RETURN),), locktime)


def core_accepts(script_pubkey: bytes, to_sign_tx: Transaction) -> bool:
    """Bitcoin Core's interpreter, consensus flags: does to_sign's input 0 spend (script_pubkey, 0 sat)?"""
    kernel_tx = pbk.Transaction(to_sign_tx.serialize())
    spent = [pbk.TransactionOutput(pbk.ScriptPubkey(script_pubkey), 0)]
    precomputed = pbk.script.PrecomputedTransactionData(kernel_tx, spent)
    flags = pbk.ScriptVerificationFlags.ALL
    return bool(pbk.ScriptPubkey(script_pubkey).verify(0, kernel_tx, precomputed, 0, flags))


def decode_proof_as_to_sign(script_pubkey: bytes, message: bytes, proof: str) -> Transaction | None:
    """The to_sign transaction a proof stands for, or None if it is not a well-formed one."""
    try:
        raw = base64.b64decode(proof, validate=True)
    except ValueError:
        return None
    if base64.b64encode(raw).decode() != proof:
        return None
    txid = spec_to_spend(message, script_pubkey).txid
    try:
        reader = Reader(raw)
        witness = tuple(reader.var_bytes() for _ in range(reader.compact_size()))
        reader.expect_end("witness")
        return spec_to_sign(txid, witness)
    except CodecError:
        pass
    try:
        tx = Transaction.parse(raw)
    except CodecError:
        return None
    shape_ok = (
        len(tx.inputs) == 1 and tx.inputs[0].prevout == OutPoint(txid, 0) and tx.outputs == (TxOut(0, OP_RETURN),)
    )
    return tx if shape_ok else None


def meets_required_rules(to_sign_tx: Transaction) -> bool:
    """BIP-322's required rules beyond consensus, for a key-path/multisig/P2WPKH witness that Core accepted."""
    witness = to_sign_tx.inputs[0].witness
    if len(witness) == 1 and len(witness[0]) in (64, 65):  # taproot key path
        return len(witness[0]) == 64 or witness[0][64] == SighashType.ALL
    signatures = [witness[0]] if len(witness) == 2 and len(witness[1]) in (33, 65) else list(witness[1:-1])
    for signature in filter(None, signatures):
        r_size = signature[3]
        s = int.from_bytes(signature[6 + r_size : 6 + r_size + signature[5 + r_size]], "big")
        if signature[-1] != SighashType.ALL or s > SECP256K1_ORDER // 2:
            return False
    return True


# -- signers written here, for hash types and key forms the module does not produce -------------


def der(r: int, s: int) -> bytes:
    def integer(value: int) -> bytes:
        body = value.to_bytes(33, "big").lstrip(b"\x00") or b"\x00"
        body = b"\x00" + body if body[0] & 0x80 else body
        return b"\x02" + bytes((len(body),)) + body

    body = integer(r) + integer(s)
    return b"\x30" + bytes((len(body),)) + body


def ecdsa(secret: bytes, sighash: bytes, hash_type: int = SighashType.ALL, *, high_s: bool = False) -> bytes:
    compact = coincurve.PrivateKey(secret).sign_recoverable(sighash, hasher=None)
    r, s = int.from_bytes(compact[:32], "big"), int.from_bytes(compact[32:64], "big")
    return der(r, SECP256K1_ORDER - s if high_s else s) + bytes((hash_type,))


def compressed(secret: bytes) -> bytes:
    return coincurve.PrivateKey(secret).public_key.format()


# -- vectors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["bip_text"]["messages"] + VECTORS["basic"]["tx_hashes"])
def test_message_hash_and_the_two_transactions(vector):
    address = vector.get("address", VECTORS["bip_text"]["address"])
    script_pubkey = address_to_script(address, MAIN)
    spend = bip322.to_spend(vector["message"], script_pubkey)
    assert bip322.message_hash(vector["message"]).hex() == vector["message_hash"]
    assert spend.txid_hex == vector.get("to_spend_txid", vector.get("to_spend_tx_hash"))
    assert bip322.to_sign(spend).txid_hex == vector.get("to_sign_txid", vector.get("to_sign_tx_hash"))
    assert spend == spec_to_spend(vector["message"].encode(), script_pubkey)


@pytest.mark.parametrize("vector", VECTORS["bip_text"]["messages"], ids=["empty", "hello"])
def test_the_bips_p2wpkh_signatures_are_reproduced_byte_for_byte(vector):
    secret = wif_secret(VECTORS["bip_text"]["private_key"])
    # Both spellings the BIP lists: Bitcoin Core's low-R grinding, and plain RFC-6979.
    assert bip322.sign_p2wpkh(vector["message"], secret) == vector["signature_low_r"]
    assert bip322.sign_p2wpkh(vector["message"], secret, low_r=False) == vector["signature_rfc6979"]
    for proof in (vector["signature_low_r"], vector["signature_rfc6979"]):
        result = bip322.verify_address(VECTORS["bip_text"]["address"], vector["message"], proof, MAIN)
        assert result == bip322.Verification(Verdict.VALID, Reason.OK, "", ProofFormat.SIMPLE)


@pytest.mark.parametrize("vector,proof", all_signed_vectors("simple"), ids=vector_ids("simple"))
def test_simple_vectors_verify_and_ecdsa_ones_are_reproduced(vector, proof):
    assert bip322.verify_address(vector["address"], vector["message"], proof, MAIN).is_valid
    secrets = [wif_secret(k) for k in vector["private_keys"]]
    bare = proof.removeprefix("smp")
    if vector["type"] == "p2wpkh":
        ours = {bip322.sign_p2wpkh(vector["message"], secrets[0], low_r=low_r) for low_r in (True, False)}
    elif vector["type"].startswith("p2wsh-multisig"):
        witness_script = bytes.fromhex(vector["witness_script"])
        ours = {bip322.sign_p2wsh_multisig(vector["message"], witness_script, secrets, low_r=r) for r in (True, False)}
    else:  # BIP-340 signatures depend on auxiliary randomness the vectors do not give
        ours = {bip322.sign_p2tr(vector["message"], secrets[0])}
        assert all(bip322.verify_address(vector["address"], vector["message"], p, MAIN).is_valid for p in ours)
        return
    assert bare in ours


@pytest.mark.parametrize("vector,proof", all_signed_vectors("full"), ids=vector_ids("full"))
def test_full_vectors_verify_with_their_time_and_age(vector, proof):
    result = bip322.verify_address(vector["address"], vector["message"], proof, MAIN)
    script_pubkey = address_to_script(vector["address"], MAIN)
    tx = Transaction.parse(base64.b64decode(proof))
    assert core_accepts(script_pubkey, tx)
    if vector["type"].endswith("time-lock"):
        # A CLTV/CSV script (taproot script path, P2WSH): Core accepts it, we do not interpret it.
        assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, Reason.UNSUPPORTED_SCRIPT)
        return
    assert result == bip322.Verification(
        Verdict.VALID, Reason.OK, "", ProofFormat.FULL, vector["lock_time"], vector["sequence"]
    )


@pytest.mark.parametrize(
    "vector",
    VECTORS["basic"]["error"] + VECTORS["generated"]["error"],
    ids=lambda v: v["description"],
)
def test_error_vectors_are_invalid(vector):
    result = bip322.verify_address(vector["address"], vector["message"], vector["signature"], MAIN)
    assert result.verdict is Verdict.INVALID
    if "base64" in vector["error_substr"] or "too short" in vector["error_substr"] or "full" in vector["error_substr"]:
        assert result.reason is Reason.UNDECODABLE


@pytest.mark.parametrize("vector", VECTORS["legacy"])
def test_legacy_message_signature_vector(vector):
    network = Network.parse(vector["network"])
    secret = wif_secret(vector["private_key"])
    assert message_signing.sign_message(vector["message"].encode(), secret) == vector["signature"]
    result = bip322.verify_address(vector["address"], vector["message"], vector["signature"], network)
    assert result == bip322.Verification(Verdict.VALID, Reason.OK, "", ProofFormat.LEGACY)
    assert not bip322.verify_address(vector["address"], vector["message"] + ".", vector["signature"], network).is_valid
    # Legacy signatures are for P2PKH only: the same key's segwit addresses refuse them (as Core's verifymessage).
    for other in (script.p2wpkh(compressed(secret)), script.p2sh(script.p2wpkh(compressed(secret)))):
        assert bip322.verify(other, vector["message"], vector["signature"]).verdict is Verdict.INVALID


# -- round trips -------------------------------------------------------------------------------------

SECRETS = [bytes.fromhex(f"{i:064x}") for i in (0xB0BE_DA01, 0xB0BE_DA02, 0xB0BE_DA03, 0xB0BE_DA04)]
CHALLENGE = "boveda:SV:main:840000:00000000000000000001a2b3c4:nonce=6f1c"


def sortedmulti_2_of_3() -> bytes:
    return script.multisig(2, sorted(compressed(s) for s in SECRETS[:3]))


@pytest.mark.parametrize("proof_format", [ProofFormat.SIMPLE, ProofFormat.FULL])
def test_p2wpkh_round_trip(proof_format):
    script_pubkey = script.p2wpkh(compressed(SECRETS[0]))
    proof = bip322.sign_p2wpkh(CHALLENGE, SECRETS[0], proof_format=proof_format)
    assert bip322.verify(script_pubkey, CHALLENGE, proof) == bip322.Verification(
        Verdict.VALID, Reason.OK, "", proof_format
    )
    assert bip322.verify(script_pubkey, CHALLENGE + "x", proof).verdict is Verdict.INVALID
    address = script_to_address(script_pubkey, Network.REGTEST)
    assert bip322.verify_address(address, CHALLENGE, proof, Network.REGTEST).is_valid
    with pytest.raises(CodecError):
        bip322.verify_address(address, CHALLENGE, proof, MAIN)


@pytest.mark.parametrize("signers", list(itertools.combinations(range(3), 2)) + [(0, 1, 2)])
@pytest.mark.parametrize("proof_format", [ProofFormat.SIMPLE, ProofFormat.FULL])
def test_p2wsh_2_of_3_round_trip(signers, proof_format):
    witness_script = sortedmulti_2_of_3()
    keys = [SECRETS[i] for i in reversed(signers)]  # any order: the script's order decides
    proof = bip322.sign_p2wsh_multisig(CHALLENGE, witness_script, keys, proof_format=proof_format)
    script_pubkey = script.p2wsh(witness_script)
    assert bip322.verify(script_pubkey, CHALLENGE, proof).is_valid
    other_message = bip322.verify(script_pubkey, CHALLENGE.upper(), proof)
    assert other_message.reason in (Reason.BAD_SIGNATURE, Reason.OTHER_MESSAGE_OR_ADDRESS)
    if proof_format is ProofFormat.SIMPLE:
        txid = spec_to_spend(CHALLENGE.encode(), script_pubkey).txid
        assert core_accepts(script_pubkey, spec_to_sign(txid, base64_witness(proof)))


def base64_witness(proof: str) -> tuple[bytes, ...]:
    return bip322.decode_witness(base64.b64decode(proof))


def test_multisig_signing_needs_k_keys_of_the_script():
    witness_script = sortedmulti_2_of_3()
    with pytest.raises(ValueError, match="needs 2 keys"):
        bip322.sign_p2wsh_multisig(CHALLENGE, witness_script, [SECRETS[0]])
    with pytest.raises(ValueError, match="not in the witness script"):
        bip322.sign_p2wsh_multisig(CHALLENGE, witness_script, [SECRETS[0], SECRETS[3]])
    with pytest.raises(ValueError, match="OP_CHECKMULTISIG"):
        bip322.sign_p2wsh_multisig(CHALLENGE, script.p2wpkh(compressed(SECRETS[0])), SECRETS[:2])


@pytest.mark.parametrize("proof_format", [ProofFormat.SIMPLE, ProofFormat.FULL])
def test_p2tr_key_path_round_trip_uses_sighash_default(proof_format):
    tweaked, key = tweak_secret(SECRETS[0])
    assert key == output_key(compressed(SECRETS[0])[1:])
    script_pubkey = script.p2tr(key)
    proof = bip322.sign_p2tr(CHALLENGE, SECRETS[0], proof_format=proof_format, aux_rand=bytes(32))
    assert bip322.verify(script_pubkey, CHALLENGE, proof).is_valid
    assert not bip322.verify(script_pubkey, CHALLENGE[:-1], proof).is_valid
    if proof_format is ProofFormat.SIMPLE:
        (signature,) = base64_witness(proof)
        assert len(signature) == 64  # SIGHASH_DEFAULT: no hash-type byte


def test_type_prefixes_and_unsupported_forms():
    script_pubkey = script.p2wpkh(compressed(SECRETS[1]))
    simple = bip322.sign_p2wpkh(CHALLENGE, SECRETS[1])
    full = bip322.sign_p2wpkh(CHALLENGE, SECRETS[1], proof_format=ProofFormat.FULL)
    assert bip322.verify(script_pubkey, CHALLENGE, "smp" + simple).proof_format is ProofFormat.SIMPLE
    assert bip322.verify(script_pubkey, CHALLENGE, "ful" + full).proof_format is ProofFormat.FULL
    assert bip322.verify(script_pubkey, CHALLENGE, "ful" + simple).reason is Reason.UNDECODABLE
    assert bip322.verify(script_pubkey, CHALLENGE, "smp" + full).reason is Reason.UNDECODABLE
    assert bip322.verify(script_pubkey, CHALLENGE, "pof" + full).verdict is Verdict.INCONCLUSIVE
    with pytest.raises(ValueError):
        bip322.sign_p2wpkh(CHALLENGE, SECRETS[1], proof_format=ProofFormat.LEGACY)


def test_trailing_bytes_and_non_canonical_base64_are_refused():
    script_pubkey = script.p2wpkh(compressed(SECRETS[1]))
    for proof_format in ProofFormat.SIMPLE, ProofFormat.FULL:
        raw = base64.b64decode(bip322.sign_p2wpkh(CHALLENGE, SECRETS[1], proof_format=proof_format))
        padded = base64.b64encode(raw + b"\x00").decode()
        assert bip322.verify(script_pubkey, CHALLENGE, padded).reason is Reason.UNDECODABLE
    proof = bip322.sign_p2wpkh(CHALLENGE, SECRETS[1])  # 107 bytes: one '=', and 2 unused bits before it
    assert proof.endswith("=") and not proof.endswith("==")
    tweaked = proof[:-2] + BASE64_ALPHABET[BASE64_ALPHABET.index(proof[-2]) ^ 1] + "="
    assert base64.b64decode(tweaked) == base64.b64decode(proof)
    assert bip322.verify(script_pubkey, CHALLENGE, tweaked).reason is Reason.UNDECODABLE
    assert bip322.verify(script_pubkey, CHALLENGE, proof + "\n").reason is Reason.UNDECODABLE


def _full_proof(script_pubkey: bytes, message: str, witness, **fields) -> str:
    tx = spec_to_sign(spec_to_spend(message.encode(), script_pubkey).txid, witness, **fields)
    return base64.b64encode(tx.serialize()).decode()


def _signed_p2wpkh_to_sign(secret: bytes, message: str, **fields) -> tuple[bytes, Transaction]:
    public_key = compressed(secret)
    script_pubkey = script.p2wpkh(public_key)
    unsigned = spec_to_sign(spec_to_spend(message.encode(), script_pubkey).txid, **fields)
    signature = ecdsa(secret, segwit_v0_sighash(unsigned, 0, script.p2pkh(public_key), 0))
    return script_pubkey, spec_to_sign(unsigned.inputs[0].prevout.txid, (signature, public_key), **fields)


def test_full_proof_reports_time_and_age_and_unknown_versions_are_inconclusive():
    script_pubkey, tx = _signed_p2wpkh_to_sign(SECRETS[2], CHALLENGE, version=2, locktime=840_000, sequence=144)
    result = bip322.verify(script_pubkey, CHALLENGE, bip322.encode_full(tx))
    assert (result.verdict, result.locktime, result.sequence) == (Verdict.VALID, 840_000, 144)
    script_pubkey, tx = _signed_p2wpkh_to_sign(SECRETS[2], CHALLENGE, version=1)
    assert core_accepts(script_pubkey, tx)
    result = bip322.verify(script_pubkey, CHALLENGE, bip322.encode_full(tx))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, Reason.UPGRADEABLE_RULE)


def test_proofs_of_funds_and_unknown_witness_versions_are_inconclusive():
    script_pubkey, tx = _signed_p2wpkh_to_sign(SECRETS[2], CHALLENGE)
    extra = TxIn(OutPoint(bytes(range(32)), 1), b"", 0, (b"\x01",))
    with_funds = Transaction(tx.version, (*tx.inputs, extra), tx.outputs, tx.locktime)
    result = bip322.verify(script_pubkey, CHALLENGE, bip322.encode_full(with_funds))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, Reason.PROOF_OF_FUNDS)
    witness_v2 = b"\x52\x20" + bytes(32)
    result = bip322.verify(witness_v2, CHALLENGE, bip322.encode_simple((b"\x01",)))
    assert (result.verdict, result.reason) == (Verdict.INCONCLUSIVE, Reason.UPGRADEABLE_RULE)


def test_full_proof_must_have_the_bips_shape():
    script_pubkey, tx = _signed_p2wpkh_to_sign(SECRETS[2], CHALLENGE)
    two_outputs = Transaction(tx.version, tx.inputs, (*tx.outputs, TxOut(0, OP_RETURN)), tx.locktime)
    other_output = Transaction(tx.version, tx.inputs, (TxOut(1, OP_RETURN),), tx.locktime)
    for bad in (two_outputs, other_output):
        assert bip322.verify(script_pubkey, CHALLENGE, bip322.encode_full(bad)).reason is Reason.NOT_A_TO_SIGN


def test_uncompressed_key_p2wpkh_is_valid_as_the_bip_allows():
    secret = SECRETS[3]
    public_key = coincurve.PrivateKey(secret).public_key.format(compressed=False)
    script_pubkey = b"\x00\x14" + hash160(public_key)
    unsigned = spec_to_sign(spec_to_spend(CHALLENGE.encode(), script_pubkey).txid)
    signature = ecdsa(secret, segwit_v0_sighash(unsigned, 0, script.p2pkh(public_key), 0))
    proof = bip322.encode_simple((signature, public_key))
    assert core_accepts(script_pubkey, spec_to_sign(unsigned.inputs[0].prevout.txid, (signature, public_key)))
    assert bip322.verify(script_pubkey, CHALLENGE, proof).is_valid
    hybrid = bytes((6 + (public_key[-1] & 1),)) + public_key[1:]  # STRICTENC refuses hybrid keys
    hybrid_script = b"\x00\x14" + hash160(hybrid)
    unsigned = spec_to_sign(spec_to_spend(CHALLENGE.encode(), hybrid_script).txid)
    signature = ecdsa(secret, segwit_v0_sighash(unsigned, 0, script.p2pkh(hybrid), 0))
    assert bip322.verify(hybrid_script, CHALLENGE, bip322.encode_simple((signature, hybrid))).reason is (
        Reason.MALFORMED_SIGNATURE
    )


def test_p2sh_wrapped_segwit_needs_the_full_format():
    public_key = compressed(SECRETS[2])
    redeem_script = script.p2wpkh(public_key)
    script_pubkey = script.p2sh(redeem_script)
    script_sig = bytes((len(redeem_script),)) + redeem_script
    txid = spec_to_spend(CHALLENGE.encode(), script_pubkey).txid
    signature = ecdsa(SECRETS[2], segwit_v0_sighash(spec_to_sign(txid), 0, script.p2pkh(public_key), 0))
    full = spec_to_sign(txid, (signature, public_key), script_sig=script_sig)
    assert core_accepts(script_pubkey, full)
    assert bip322.verify(script_pubkey, CHALLENGE, bip322.encode_full(full)).is_valid
    # The simple format leaves the scriptSig empty, so the P2SH hash has nothing to match.
    assert not core_accepts(script_pubkey, spec_to_sign(txid, (signature, public_key)))
    result = bip322.verify(script_pubkey, CHALLENGE, bip322.encode_simple((signature, public_key)))
    assert result.verdict is Verdict.INVALID


def test_taproot_hash_type_zero_is_invalid_for_both_engines():
    tweaked, key = tweak_secret(SECRETS[0])
    script_pubkey = script.p2tr(key)
    unsigned = spec_to_sign(spec_to_spend(CHALLENGE.encode(), script_pubkey).txid)
    signature = coincurve.PrivateKey(tweaked).sign_schnorr(
        taproot_sighash(unsigned, 0, (TxOut(0, script_pubkey),), SighashType.DEFAULT), bytes(32)
    )
    for witness, valid in (((signature,), True), ((signature + b"\x00",), False)):
        tx = spec_to_sign(unsigned.inputs[0].prevout.txid, witness)
        assert core_accepts(script_pubkey, tx) is valid
        result = bip322.verify(script_pubkey, CHALLENGE, bip322.encode_simple(witness))
        assert result.is_valid is valid
    assert result.reason is Reason.HASH_TYPE


def test_high_s_passes_consensus_but_not_bip322():
    secret = SECRETS[1]
    public_key = compressed(secret)
    script_pubkey = script.p2wpkh(public_key)
    unsigned = spec_to_sign(spec_to_spend(CHALLENGE.encode(), script_pubkey).txid)
    signature = ecdsa(secret, segwit_v0_sighash(unsigned, 0, script.p2pkh(public_key), 0), high_s=True)
    assert core_accepts(script_pubkey, spec_to_sign(unsigned.inputs[0].prevout.txid, (signature, public_key)))
    result = bip322.verify(script_pubkey, CHALLENGE, bip322.encode_simple((signature, public_key)))
    assert (result.verdict, result.reason) == (Verdict.INVALID, Reason.HIGH_S)


# -- mutations: no one-bit change of a proof is ever valid ----------------------------------------


def _proofs_to_mutate() -> list[tuple[str, bytes, str, str]]:
    """(name, script_pubkey, message, proof) for every kind and format we sign, plus the BIP's P2PKH full vector."""
    witness_script = sortedmulti_2_of_3()
    _, key = tweak_secret(SECRETS[0])
    wpkh, wsh = script.p2wpkh(compressed(SECRETS[0])), script.p2wsh(witness_script)
    cases = [
        ("p2wpkh", wpkh, bip322.sign_p2wpkh(CHALLENGE, SECRETS[0])),
        ("p2wpkh-full", wpkh, bip322.sign_p2wpkh(CHALLENGE, SECRETS[0], proof_format=ProofFormat.FULL)),
        ("p2wsh-2of3", wsh, bip322.sign_p2wsh_multisig(CHALLENGE, witness_script, [SECRETS[0], SECRETS[2]])),
        ("p2tr", script.p2tr(key), bip322.sign_p2tr(CHALLENGE, SECRETS[0], aux_rand=bytes(32))),
        ("p2tr-full", script.p2tr(key), bip322.sign_p2tr(CHALLENGE, SECRETS[0], proof_format=ProofFormat.FULL)),
        ("legacy", script.p2pkh(compressed(SECRETS[0])), message_signing.sign_message(CHALLENGE.encode(), SECRETS[0])),
    ]
    named = [(name, spk, CHALLENGE, proof) for name, spk, proof in cases]
    for vector in VECTORS["generated"]["full"]:
        if vector["type"] in ("p2pkh", "p2sh-p2wkh"):
            spk = address_to_script(vector["address"], MAIN)
            named.append((vector["type"] + "-vector", spk, vector["message"], vector["bip322_signatures"][0]))
    return named


MUTATION_CASES = _proofs_to_mutate()


@pytest.mark.parametrize("name,script_pubkey,message,proof", MUTATION_CASES, ids=[c[0] for c in MUTATION_CASES])
def test_every_one_bit_flip_of_the_encoded_proof_is_refused(name, script_pubkey, message, proof):
    assert bip322.verify(script_pubkey, message, proof).is_valid
    text = proof.encode("ascii")
    for position, bit in itertools.product(range(len(text)), range(8)):
        mutated = bytearray(text)
        mutated[position] ^= 1 << bit
        result = bip322.verify(script_pubkey, message, mutated.decode("latin-1"))
        assert result.verdict is Verdict.INVALID, (position, bit, result)


@pytest.mark.parametrize("name,script_pubkey,message,proof", MUTATION_CASES, ids=[c[0] for c in MUTATION_CASES])
def test_every_one_bit_flip_of_the_proof_bytes_is_refused_and_core_agrees(name, script_pubkey, message, proof):
    raw = base64.b64decode(proof)
    for position, bit in itertools.product(range(len(raw)), range(8)):
        mutated = bytearray(raw)
        mutated[position] ^= 1 << bit
        encoded = base64.b64encode(bytes(mutated)).decode()
        result = bip322.verify(script_pubkey, message, encoded)
        assert result.verdict is Verdict.INVALID, (position, bit, result)
        if name != "legacy":
            tx = decode_proof_as_to_sign(script_pubkey, message.encode(), encoded)
            assert tx is None or not core_accepts(script_pubkey, tx), (position, bit)


# -- agreement with Bitcoin Core's interpreter on random keys, messages and mutations -------------

MUTATIONS = (
    "none",
    "other_message",
    "other_key",
    "flip_bit",
    "high_s",
    "sighash_none",
    "sighash_all_anyonecanpay",
    "taproot_explicit_all",
    "taproot_hash_type_zero",
    "drop_item",
    "extra_item",
    "swap_signatures",
    "nonempty_dummy",
    "uncompressed_key",
)
secrets = st.integers(1, SECP256K1_ORDER - 1).map(lambda n: n.to_bytes(32, "big"))
messages = st.text(max_size=40) | st.binary(max_size=64)


def _build(kind: str, keys: list[bytes], message: bytes, mutation: str, draw) -> tuple[bytes, tuple[bytes, ...]]:
    """(script_pubkey, witness) for `kind`, signed here with the hash type or key form `mutation` asks for."""
    hash_type = {"sighash_none": SighashType.NONE, "sighash_all_anyonecanpay": SighashType.ALL_ANYONECANPAY}.get(
        mutation, SighashType.ALL
    )
    high_s = mutation == "high_s"
    if kind == "p2tr":
        tweaked, key = tweak_secret(keys[0])
        script_pubkey = script.p2tr(key)
        unsigned = spec_to_sign(spec_to_spend(message, script_pubkey).txid)
        explicit = mutation in ("taproot_explicit_all", "sighash_none", "sighash_all_anyonecanpay")
        tap_type = hash_type if explicit else SighashType.DEFAULT
        sighash = taproot_sighash(unsigned, 0, (TxOut(0, script_pubkey),), tap_type)
        signature = coincurve.PrivateKey(tweaked).sign_schnorr(sighash, draw(st.binary(min_size=32, max_size=32)))
        if explicit:
            signature += bytes((tap_type,))
        elif mutation == "taproot_hash_type_zero":
            signature += b"\x00"
        return script_pubkey, (signature,)
    if kind == "p2wpkh":
        uncompressed = mutation == "uncompressed_key"
        public_key = coincurve.PrivateKey(keys[0]).public_key.format(compressed=not uncompressed)
        script_pubkey = b"\x00\x14" + hash160(public_key)
        unsigned = spec_to_sign(spec_to_spend(message, script_pubkey).txid)
        sighash = segwit_v0_sighash(unsigned, 0, script.p2pkh(public_key), 0, hash_type)
        return script_pubkey, (ecdsa(keys[0], sighash, hash_type, high_s=high_s), public_key)
    public_keys = [compressed(k) for k in keys[:3]]
    order = draw(st.permutations(range(3)))  # multi in any order, sortedmulti among them
    witness_script = script.multisig(2, [public_keys[i] for i in order])
    script_pubkey = script.p2wsh(witness_script)
    unsigned = spec_to_sign(spec_to_spend(message, script_pubkey).txid)
    sighash = segwit_v0_sighash(unsigned, 0, witness_script, 0, hash_type)
    signer_positions = sorted(draw(st.sampled_from(list(itertools.combinations(range(3), 2)))))
    signatures = [
        ecdsa(keys[order[p]], sighash, hash_type, high_s=high_s and n == 0) for n, p in enumerate(signer_positions)
    ]
    if mutation == "swap_signatures":
        signatures.reverse()
    dummy = b"\x01" if mutation == "nonempty_dummy" else b""
    return script_pubkey, (dummy, *signatures, witness_script)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["p2wpkh", "p2wsh", "p2tr"]),
    keys=st.lists(secrets, min_size=4, max_size=4, unique=True),
    message=messages,
    mutation=st.sampled_from(MUTATIONS),
    proof_format=st.sampled_from([ProofFormat.SIMPLE, ProofFormat.FULL]),
    data=st.data(),
)
def test_verdicts_agree_with_bitcoin_cores_interpreter(kind, keys, message, mutation, proof_format, data):
    message_bytes = message.encode() if isinstance(message, str) else message
    if mutation == "none":  # the module's own signers
        if kind == "p2wpkh":
            script_pubkey = script.p2wpkh(compressed(keys[0]))
            proof = bip322.sign_p2wpkh(message, keys[0], proof_format=proof_format)
        elif kind == "p2tr":
            script_pubkey = script.p2tr(tweak_secret(keys[0])[1])
            aux_rand = data.draw(st.binary(min_size=32, max_size=32))
            proof = bip322.sign_p2tr(message, keys[0], proof_format=proof_format, aux_rand=aux_rand)
        else:
            witness_script = script.multisig(2, sorted(compressed(k) for k in keys[:3]))
            script_pubkey = script.p2wsh(witness_script)
            proof = bip322.sign_p2wsh_multisig(message, witness_script, keys[:3], proof_format=proof_format)
    else:
        script_pubkey, witness = _build(kind, keys, message_bytes, mutation, data.draw)
        if mutation == "drop_item":
            index = data.draw(st.integers(0, len(witness) - 1))
            witness = witness[:index] + witness[index + 1 :]
        elif mutation == "extra_item":
            witness = (data.draw(st.binary(max_size=3)), *witness)
        txid = spec_to_spend(message_bytes, script_pubkey).txid
        if proof_format is ProofFormat.SIMPLE:
            proof = bip322.encode_simple(witness)
        else:
            proof = bip322.encode_full(spec_to_sign(txid, witness))
        if mutation == "flip_bit":
            raw = bytearray(base64.b64decode(proof))
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
            proof = base64.b64encode(bytes(raw)).decode()
        elif mutation == "other_message":
            message_bytes += b"."
        elif mutation == "other_key":
            other, _ = _build(kind, keys[1:] + keys[:1], message_bytes, "none", data.draw)
            script_pubkey = other
    result = bip322.verify(script_pubkey, message_bytes, proof)
    to_sign_tx = decode_proof_as_to_sign(script_pubkey, message_bytes, proof)
    consensus_valid = to_sign_tx is not None and core_accepts(script_pubkey, to_sign_tx)
    expected_valid = consensus_valid and meets_required_rules(to_sign_tx)
    assert result.is_valid is expected_valid, (mutation, result)
    if not expected_valid:
        assert result.verdict is Verdict.INVALID, result
    # The cases that tell the two rule sets apart came out as they must.
    if mutation in ("sighash_none", "sighash_all_anyonecanpay") or (mutation == "high_s" and kind != "p2tr"):
        assert consensus_valid and result.reason in (Reason.HIGH_S, Reason.HASH_TYPE)
    if mutation in ("none", "taproot_explicit_all", "uncompressed_key"):
        assert result.is_valid
    if mutation == "taproot_hash_type_zero" and kind == "p2tr":
        assert not consensus_valid and result.reason is Reason.HASH_TYPE
