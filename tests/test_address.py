"""Addresses against the BIP-173 / BIP-350 vectors and Bitcoin Core's key_io vectors (tests/data)."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boveda.bitcoin.address import Bech32Variant, address_to_script, decode_bech32, script_to_address
from boveda.bitcoin.network import Network
from boveda.bitcoin.script import p2pk, small_int_opcode
from boveda.errors import CodecError

VECTORS = json.loads((Path(__file__).parent / "data" / "address_vectors.json").read_text())


@pytest.mark.parametrize("text", VECTORS["bech32_valid"])
def test_bech32_valid(text):
    assert decode_bech32(text)[2] == Bech32Variant.BECH32


@pytest.mark.parametrize("text", VECTORS["bech32m_valid"])
def test_bech32m_valid(text):
    assert decode_bech32(text)[2] == Bech32Variant.BECH32M


@pytest.mark.parametrize(("text", "reason"), VECTORS["bech32_invalid"] + VECTORS["bech32m_invalid"])
def test_bech32_invalid(text, reason):
    with pytest.raises(CodecError):
        decode_bech32(text)


@pytest.mark.parametrize(("address", "script_hex", "network"), VECTORS["segwit_valid"] + VECTORS["by_network_valid"])
def test_valid_addresses_decode_and_encode(address, script_hex, network):
    network = Network(network)
    assert address_to_script(address, network).hex() == script_hex
    is_bech32 = address.lower().startswith(network.hrp + "1")
    assert script_to_address(bytes.fromhex(script_hex), network) == (address.lower() if is_bech32 else address)
    if is_bech32:  # bech32 is case-insensitive as a whole
        assert address_to_script(address.swapcase(), network).hex() == script_hex


@pytest.mark.parametrize(("address", "reason"), VECTORS["segwit_invalid"])
def test_invalid_segwit_addresses_are_refused_on_every_network(address, reason):
    for network in Network:
        with pytest.raises(CodecError):
            address_to_script(address, network)


@pytest.mark.parametrize(
    ("address", "network", "message"),
    [
        # The wrong network is named:
        ("bc1qvyq0cc6rahyvsazfdje0twl7ez82ndmuac2lhv", Network.REGTEST, "is for main, not regtest"),
        ("bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9", Network.MAIN, "is for regtest, not main"),
        ("tb1qcrh3yqn4nlleplcez2yndq2ry8h9ncg3qh7n54", Network.REGTEST, "is for testnet4/signet, not regtest"),
        ("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mo", Network.REGTEST, "is for main, not regtest"),
        ("mzK2FFDEhxqHcmrJw1ysqFkVyhUULo45hZ", Network.MAIN, "testnet4/signet/regtest, not main"),
        # What else is wrong:
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", Network.MAIN, "bad checksum"),
        ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", Network.MAIN, "needs bech32m"),
        ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", Network.TESTNET4, "mixes upper and lower case"),
        ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", Network.MAIN, "human-readable part 'tc'"),
        # The last character of a valid address changed:
        ("1FsSia9rv4NeEwvJ2GvXrX7LyxYspbN2mp", Network.MAIN, "neither valid bech32 nor valid base58check"),
    ],
)
def test_refusals_say_what_is_wrong(address, network, message):
    with pytest.raises(CodecError, match=message):
        address_to_script(address, network)


def test_scripts_without_an_address_are_refused():
    generator = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
    for spk in (p2pk(generator), b"\x6a", b"\x00\x10" + bytes(16), b""):
        with pytest.raises(CodecError, match="has no address"):
            script_to_address(spk, Network.REGTEST)


@given(
    st.sampled_from(list(Network)),
    st.one_of(
        st.tuples(st.just(0), st.sampled_from([20, 32])),
        st.tuples(st.integers(1, 16), st.integers(2, 40)),
    ).flatmap(lambda vl: st.tuples(st.just(vl[0]), st.binary(min_size=vl[1], max_size=vl[1]))),
)
def test_witness_program_round_trip(network, version_program):
    version, program = version_program
    spk = bytes((small_int_opcode(version), len(program))) + program
    assert address_to_script(script_to_address(spk, network), network) == spk


@given(st.sampled_from(list(Network)), st.booleans(), st.binary(min_size=20, max_size=20))
def test_base58_round_trip(network, is_p2sh, digest):
    spk = b"\xa9\x14" + digest + b"\x87" if is_p2sh else b"\x76\xa9\x14" + digest + b"\x88\xac"
    assert address_to_script(script_to_address(spk, network), network) == spk
