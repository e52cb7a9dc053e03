"""Output script kinds and builders, checked against the scripts of the BIP-143 examples."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boveda.bitcoin import script
from boveda.bitcoin.hashes import hash160
from boveda.bitcoin.script import ScriptType, classify
from boveda.errors import CodecError

DATA = Path(__file__).parent / "data"
BIP143 = json.loads((DATA / "bip143_vectors.json").read_text())
G_COMPRESSED = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
G_UNCOMPRESSED = bytes.fromhex(
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)


def _script(name: str) -> dict:
    return next(s for s in BIP143["scripts"] if s["name"] == name)


def test_builders_reproduce_the_bip143_example_scripts():
    wpkh = _script("P2SH-P2WPKH example")
    assert script.p2wpkh(bytes.fromhex(wpkh["pubkey"])).hex() == wpkh["p2wpkh"]
    assert script.p2sh(bytes.fromhex(wpkh["p2wpkh"])).hex() == wpkh["p2sh_p2wpkh"]
    native = _script("P2WPKH of the native P2WPKH example")
    assert script.p2wpkh(bytes.fromhex(native["pubkey"])).hex() == native["p2wpkh"]
    wsh = _script("native P2WSH example")
    assert script.p2wsh(bytes.fromhex(wsh["witness_script"])).hex() == wsh["p2wsh"]
    nested = _script("P2SH-P2WSH 6-of-6 example")
    assert script.p2wsh(bytes.fromhex(nested["witness_script"])).hex() == nested["p2wsh"]
    assert script.p2sh(bytes.fromhex(nested["p2wsh"])).hex() == nested["p2sh_p2wsh"]


def test_multisig_builder_writes_the_6_of_6_witness_script():
    witness_script = bytes.fromhex(_script("P2SH-P2WSH 6-of-6 example")["witness_script"])
    pubkeys = [data for _, data in script.iter_ops(witness_script) if data is not None]
    assert len(pubkeys) == 6
    assert script.multisig(6, pubkeys) == witness_script
    assert classify(witness_script) == ScriptType.MULTISIG


def test_p2pkh_of_the_generator_is_the_well_known_hash():
    assert script.p2pkh(G_COMPRESSED).hex() == "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac"


@pytest.mark.parametrize(
    ("script_hex", "kind"),
    [
        ("76a914751e76e8199196d454941c45d1b3a323f1433bd688ac", ScriptType.P2PKH),
        ("a9149993a429037b5d912407a71c252019287b8d27a587", ScriptType.P2SH),
        ("00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1", ScriptType.P2WPKH),
        ("00205d1b56b63d714eebe542309525f484b7e9d6f686b3781b6f61ef925d66d6f6a0", ScriptType.P2WSH),
        ("512053a1f6e454df1aa2776a2814a721372d6258050de330b3c6d10ee8f4e0dda343", ScriptType.P2TR),
        ("5210751e76e8199196d454941c45d1b3a323", ScriptType.WITNESS_UNKNOWN),  # v2, 16 bytes
        ("6002751e", ScriptType.WITNESS_UNKNOWN),  # v16, 2 bytes
        ("51024e73", ScriptType.WITNESS_UNKNOWN),  # v1 2-byte program (pay-to-anchor)
        ("0010751e76e8199196d454941c45d1b3a323", ScriptType.NONSTANDARD),  # v0 must be 20 or 32 bytes
        ("6a", ScriptType.NULL_DATA),
        ("6a0b68656c6c6f20776f726c64", ScriptType.NULL_DATA),
        ("6a24aa21a9ed" + "00" * 32, ScriptType.NULL_DATA),  # witness commitment
        ("6aac", ScriptType.NONSTANDARD),  # OP_RETURN followed by a non-push
        ("6a05aabb", ScriptType.NONSTANDARD),  # truncated push
        ("", ScriptType.NONSTANDARD),
        ("51", ScriptType.NONSTANDARD),  # OP_TRUE
        ("ac", ScriptType.NONSTANDARD),
    ],
)
def test_classify(script_hex, kind):
    assert classify(bytes.fromhex(script_hex)) == kind


def test_classify_p2pk_and_bare_multisig():
    assert classify(script.p2pk(G_COMPRESSED)) == ScriptType.P2PK
    assert classify(script.p2pk(G_UNCOMPRESSED)) == ScriptType.P2PK
    assert classify(script.p2pk(b"\x05" + G_COMPRESSED[1:])) == ScriptType.NONSTANDARD  # not a key prefix
    assert classify(script.multisig(1, [G_COMPRESSED, G_UNCOMPRESSED])) == ScriptType.MULTISIG
    two_of_one = b"\x52\x21" + G_COMPRESSED + b"\x51\xae"
    assert classify(two_of_one) == ScriptType.NONSTANDARD


def test_builders_refuse_impossible_scripts():
    with pytest.raises(CodecError, match="3-of-2 multisig is not possible"):
        script.multisig(3, [G_COMPRESSED, G_COMPRESSED])
    with pytest.raises(CodecError):
        script.multisig(0, [G_COMPRESSED])
    with pytest.raises(CodecError, match="1 <= k <= n <= 20"):
        script.multisig(1, [G_COMPRESSED] * 21)
    with pytest.raises(CodecError, match="not 65 bytes"):
        script.p2wpkh(G_UNCOMPRESSED)
    with pytest.raises(CodecError, match="not 33"):
        script.p2tr(G_COMPRESSED)
    with pytest.raises(CodecError, match="17 has no small-integer opcode"):
        script.small_int_opcode(17)


@pytest.mark.parametrize(
    ("n", "pushed"),
    # CScriptNum's encoding: little-endian magnitude, sign in the top bit, no more bytes than needed.
    [(0, "00"), (1, "51"), (16, "60"), (-1, "4f"), (17, "0111"), (20, "0114"), (127, "017f"), (128, "028000"),
     (255, "02ff00"), (256, "020001"), (-2, "0182"), (-128, "028080"), (-255, "02ff80"), (2**31 - 1, "04ffffff7f")],
)
def test_push_int_writes_numbers_as_cscript_does(n, pushed):
    assert script.push_int(n).hex() == pushed


def test_multisig_over_16_keys_pushes_its_counts_as_numbers_as_core_does():
    built = script.multisig(17, [G_COMPRESSED] * 20)
    assert built[:2] == b"\x01\x11" and built[-3:] == b"\x01\x14\xae"
    assert script.parse_multisig(built) is None  # beyond OP_16: not a template BIP-322 verification runs


def test_parse_multisig_reads_only_what_multisig_builds():
    keys = (G_COMPRESSED, G_UNCOMPRESSED, b"\x02" + bytes(32))
    built = script.multisig(2, keys)
    assert script.parse_multisig(built) == (2, keys)
    non_minimal = b"\x52" + b"".join(b"\x4c" + bytes((len(k),)) + k for k in keys) + b"\x53\xae"
    assert script.parse_multisig(non_minimal) is None
    assert script.parse_multisig(built[:-1] + b"\xac") is None
    assert script.parse_multisig(b"\x54" + built[1:]) is None  # 4-of-3
    assert script.parse_multisig(script.p2wpkh(G_COMPRESSED)) is None


@pytest.mark.parametrize(
    ("data", "opcode"),
    [(b"", 0x00), (b"\x01", 0x51), (b"\x10", 0x60), (b"\x11", 0x01), (b"\x81", 0x4F), (b"\x00", 0x01),
     (b"\x01" * 75, 75), (b"\x01" * 76, 0x4C), (b"\x01" * 256, 0x4D)],
)
def test_minimal_push_opcode_follows_core(data, opcode):
    assert script.minimal_push_opcode(data) == opcode


def test_hash_templates_are_the_scripts_of_the_hashed_keys():
    assert script.p2pkh(G_COMPRESSED) == script.p2pkh_of_hash(hash160(G_COMPRESSED))
    assert script.p2sh(b"\x51") == script.p2sh_of_hash(hash160(b"\x51"))
    assert classify(script.p2pkh_of_hash(bytes(20))) == ScriptType.P2PKH
    assert classify(script.p2sh_of_hash(bytes(20))) == ScriptType.P2SH


def test_truncated_pushes_are_codec_errors():
    with pytest.raises(CodecError, match="the push length at offset 1"):
        list(script.iter_ops(b"\x4d\x01"))
    with pytest.raises(CodecError, match="a push of 5 bytes at offset 1"):
        list(script.iter_ops(b"\x05\x01"))


def test_push_data_uses_the_minimal_opcode():
    assert script.push_data(b"\x01" * 75)[:1] == b"\x4b"
    assert script.push_data(b"\x01" * 76)[:2] == b"\x4c\x4c"
    assert script.push_data(b"\x01" * 256)[:3] == b"\x4d\x00\x01"
    for size in (0, 1, 75, 76, 255, 256, 520):
        data = bytes(range(256)) * 3
        assert list(script.iter_ops(script.push_data(data[:size]))) == [(script.push_data(data[:size])[0], data[:size])]


@given(st.binary(max_size=100))
def test_classify_accepts_any_bytes(raw):
    assert isinstance(classify(raw), ScriptType)


@given(st.integers(0, 16), st.binary(min_size=2, max_size=40))
def test_witness_programs_round_trip(version, program):
    spk = bytes((script.small_int_opcode(version), len(program))) + program
    assert script.witness_program(spk) == (version, program)
