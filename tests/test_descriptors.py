"""Descriptors and BIP-32 public derivation, against the BIPs' vectors and embit as the reference."""

from __future__ import annotations

import hashlib
import json
import pathlib
import re

import pytest
from embit import base58, ec
from embit import bip32 as embit_bip32
from embit.networks import NETWORKS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.errors import BovedaError, CodecError, WalletError
from boveda.wallets import (
    Branch,
    DerivedScript,
    DescriptorError,
    ScriptForm,
    WalletDescriptor,
    address_of,
    derive_with_embit,
    descriptor_checksum,
    parse_descriptor,
)
from boveda.wallets.bip32 import HARDENED_INDEX, ExtendedPublicKey

DATA = pathlib.Path(__file__).parent / "data" / "descriptors"
BIP380_389 = json.loads((DATA / "bip380_389.json").read_text())
BIP32 = json.loads((DATA / "bip32.json").read_text())
WALLETS = json.loads((DATA / "bip49_84_86_wallets.json").read_text())

# BIP-32 test vectors 1-3, chain m, re-encoded as tpubs by embit: keys for test-network cases.
TPUB_1 = "tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4FyWuejifB9jusQ46QzG87VKp"
TPUB_2 = "tpubD6NzVbkrYhZ4XJDrzRvuxHEyQaPd1mwwdDofEJwekX18tAdsqeKfxss79AJzg1431FybXg5rfpTrJF4iAhyR7RubberdzEQXiRmXGADH2eA"
TPUB_3 = "tpubD6NzVbkrYhZ4WMg2WpRiAGW1HDiime7DLZaDdbyD2D5vrQs9VnZdv96dd9qyVbdgBLjTMfxs4VHhjYhd1R1rXmZjitkrinrNW9HDndbLQPW"
TPRV_1 = "tprv8ZgxMBicQKsPeDgjzdC36fs6bMjGApWDNLR9erAXMs5skhMv36j9MV5ecvfavji5khqjWaWSFhN3YcCUUdiKH6isR4Pwy3U5y5egddBr16m"
XPUB_1 = "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8"
KEY_03 = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
KEY_04 = (
    "04a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
    "5b8dec5235a0fa8722476c7709c02559e3aa73aa03918ba2d492eea75abea235"
)


# --- BIP-380's reference checksum, copied from the BIP: an oracle independent of embit's ---

_INPUT_CHARSET = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = [0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD]


def _descsum_polymod(symbols: list[int]) -> int:
    chk = 1
    for value in symbols:
        top = chk >> 35
        chk = (chk & 0x7FFFFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= _GENERATOR[i] if ((top >> i) & 1) else 0
    return chk


def _descsum_expand(s: str) -> list[int]:
    groups: list[int] = []
    symbols: list[int] = []
    for c in s:
        v = _INPUT_CHARSET.find(c)
        symbols.append(v & 31)
        groups.append(v >> 5)
        if len(groups) == 3:
            symbols.append(groups[0] * 9 + groups[1] * 3 + groups[2])
            groups = []
    if len(groups) == 1:
        symbols.append(groups[0])
    elif len(groups) == 2:
        symbols.append(groups[0] * 3 + groups[1])
    return symbols


def descsum_create(s: str) -> str:
    symbols = _descsum_expand(s) + [0] * 8
    checksum = _descsum_polymod(symbols) ^ 1
    return s + "#" + "".join(_CHECKSUM_CHARSET[(checksum >> (5 * (7 - i))) & 31] for i in range(8))


# --- helpers -----------------------------------------------------------------------------


def refuse(text: str, network: Network = Network.MAIN) -> str:
    """Parse text expecting a refusal; return the one-line reason."""
    with pytest.raises(DescriptorError) as caught:
        parse_descriptor(text, network)
    assert isinstance(caught.value, BovedaError)  # what the CLI turns into a one-line message
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def scripts_hex(derived: tuple[DerivedScript, ...]) -> list[str]:
    return [item.script_pubkey.hex() for item in derived]


def publicize_with_embit(text: str) -> str:
    """Replace every private key of a BIP vector by its public key, the way the vector file was made."""
    out = []
    for token in _tokens(text):
        if token[1:4] == "prv" and len(token) > 100:
            out.append(embit_bip32.HDKey.from_base58(token).to_public().to_base58())
        elif token[:1] in ("5", "K", "L") and len(token) in (51, 52):
            out.append(ec.PrivateKey.from_wif(token).get_public_key().sec().hex())
        else:
            out.append(token)
    return "".join(out)


def _tokens(text: str) -> list[str]:
    """Split text into base58-ish runs and everything else, keeping every character."""
    return re.findall(r"[1-9A-HJ-NP-Za-km-z]+|[^1-9A-HJ-NP-Za-km-z]+", text)


# Version bytes from BIP-32 and SLIP-132.
_VERSIONS = {"xpub": "0488b21e", "tpub": "043587cf", "vpub": "045f1cf6"}


def reencode(key: str, version_name: str) -> str:
    """The same extended key under other version bytes (how SLIP-132 keys become BIP-32 ones)."""
    return base58.encode_check(bytes.fromhex(_VERSIONS[version_name]) + base58.decode_check(key)[4:])


def sh_of(script: bytes) -> bytes:
    return b"\xa9\x14" + hashlib.new("ripemd160", hashlib.sha256(script).digest()).digest() + b"\x87"


def wsh_of(script: bytes) -> bytes:
    return b"\x00\x20" + hashlib.sha256(script).digest()


# --- BIP-380: checksum --------------------------------------------------------------------


def test_bip380_valid_checksum() -> None:
    [vector] = BIP380_389["checksum"]["valid"]
    descriptor = parse_descriptor(vector["text"], Network.MAIN)
    assert scripts_hex(descriptor.derive(Branch.RECEIVE, 0, 1)) == vector["scripts"]
    assert descriptor.text == vector["text"]


def test_missing_checksum_is_refused_with_the_checksum_to_append() -> None:
    [vector] = BIP380_389["checksum"]["missing"]
    message = refuse(vector["text"])
    assert f"append #{vector['checksum_to_append']}" in message
    parse_descriptor(vector["text"] + "#" + vector["checksum_to_append"], Network.MAIN)


def test_missing_checksum_of_a_broken_descriptor_reports_the_breakage_first() -> None:
    message = refuse(f"wpkh({XPUB_1}/0h/*)")
    assert "hardened step 0h" in message and "append" not in message


@pytest.mark.parametrize("vector", BIP380_389["checksum"]["invalid"], ids=lambda v: v["case"])
def test_bip380_invalid_checksums_are_refused(vector: dict) -> None:
    refuse(vector["text"])


def test_bad_checksum_names_the_checksum_and_does_not_offer_a_replacement() -> None:
    good = descsum_create(f"wpkh({TPUB_1}/0/*)")
    bad = good[:-1] + ("q" if good[-1] != "q" else "p")
    message = refuse(bad, Network.REGTEST)
    assert f"checksum #{bad[-8:]} does not match" in message
    assert good[-8:] not in message


def test_our_checksum_agrees_with_the_bip380_reference_code() -> None:
    for vector in BIP380_389["valid"]:
        text = vector.get("public_text", vector["text"])
        assert descriptor_checksum(text) == descsum_create(text)[-8:]


# --- BIP-380: key expressions, inside pkh() ---------------------------------------------------


@pytest.mark.parametrize("key", BIP380_389["keys"]["accepted"])
def test_bip380_key_expressions_accepted(key: str) -> None:
    descriptor = parse_descriptor(descsum_create(f"pkh({key})"), Network.MAIN)
    assert scripts_hex(descriptor.derive(Branch.RECEIVE, 0, 3)) == scripts_hex(
        derive_with_embit(descriptor, Branch.RECEIVE, 0, 3)
    )


@pytest.mark.parametrize("key", BIP380_389["keys"]["hardened_after_xpub"])
def test_bip380_hardened_steps_after_an_xpub_are_refused(key: str) -> None:
    assert "hardened step" in refuse(descsum_create(f"pkh({key})"))


@pytest.mark.parametrize("key", BIP380_389["keys"]["private"])
def test_bip380_private_keys_are_refused_without_echoing_them(key: str) -> None:
    message = refuse(descsum_create(f"pkh({key})"))
    assert "Bóveda is watch-only" in message
    bare_key = key.split("]")[-1].split("/")[0]
    assert bare_key[4:20] not in message


@pytest.mark.parametrize("vector", BIP380_389["keys"]["invalid"], ids=lambda v: v["case"])
def test_bip380_invalid_key_expressions_are_refused(vector: dict) -> None:
    refuse(descsum_create(f"pkh({vector['text']})"))


# --- BIP-381..386: descriptors and their scripts ------------------------------------------


@pytest.mark.parametrize("vector", BIP380_389["valid"], ids=lambda v: f"bip{v['bip']}-{v['text'][:40]}")
def test_bip_valid_descriptors_give_the_bip_scripts(vector: dict) -> None:
    text = vector["text"]
    if "public_text" in vector:
        assert publicize_with_embit(text) == vector["public_text"]
        assert "watch-only" in refuse(descsum_create(text))
        text = vector["public_text"]
    descriptor = parse_descriptor(descsum_create(text), Network.MAIN)
    derived = descriptor.derive(Branch.RECEIVE, 0, len(vector["scripts"]))
    assert scripts_hex(derived) == vector["scripts"]
    assert [item.index for item in derived] == list(range(len(vector["scripts"])))
    assert scripts_hex(derive_with_embit(descriptor, Branch.RECEIVE, 0, 3)) == scripts_hex(
        descriptor.derive(Branch.RECEIVE, 0, 3)
    )


@pytest.mark.parametrize("vector", BIP380_389["bare_multisig"], ids=lambda v: v["text"][:40])
def test_bip383_multisig_scripts_wrapped_in_sh_or_wsh(vector: dict) -> None:
    descriptor = parse_descriptor(descsum_create(f"{vector['wrap']}({vector['text']})"), Network.MAIN)
    wrap = sh_of if vector["wrap"] == "sh" else wsh_of
    expected = [wrap(bytes.fromhex(script)).hex() for script in vector["bare_scripts"]]
    assert scripts_hex(descriptor.derive(Branch.RECEIVE, 0, len(expected))) == expected


@pytest.mark.parametrize("vector", BIP380_389["watch_only"], ids=lambda v: v["text"][:40])
def test_bip_descriptors_with_irreplaceable_private_keys_are_refused(vector: dict) -> None:
    assert "watch-only" in refuse(descsum_create(vector["text"]))


@pytest.mark.parametrize("vector", BIP380_389["unsupported"], ids=lambda v: v["text"][:40])
def test_bip_descriptors_of_unsupported_forms_are_refused(vector: dict) -> None:
    refuse(descsum_create(vector["text"]))


@pytest.mark.parametrize("vector", BIP380_389["invalid"], ids=lambda v: f"bip{v['bip']}-{v['case']}")
def test_bip_invalid_descriptors_are_refused(vector: dict) -> None:
    refuse(descsum_create(vector["text"]))


# --- BIP-389: multipath ----------------------------------------------------------------------


@pytest.mark.parametrize("vector", BIP380_389["multipath"], ids=lambda v: v["text"][:40])
def test_bip389_multipath_expands_into_the_bip_descriptors(vector: dict) -> None:
    wrap = vector.get("wrap")
    wrapped = (lambda text: f"{wrap}({text})") if wrap else (lambda text: text)
    descriptor = parse_descriptor(descsum_create(wrapped(vector["text"])), Network.MAIN)
    assert descriptor.branches == (Branch.RECEIVE, Branch.CHANGE)
    for branch, expansion in zip(Branch, vector["expansions"], strict=True):
        expected_text = descsum_create(wrapped(expansion))
        assert descriptor.branch_text(branch) == expected_text
        single = parse_descriptor(expected_text, Network.MAIN)
        assert single.branches == (Branch.RECEIVE,)
        assert scripts_hex(descriptor.derive(branch, 0, 5)) == scripts_hex(single.derive(Branch.RECEIVE, 0, 5))


def test_bip389_receive_branch_gives_the_bip382_scripts() -> None:
    [ranged_wpkh] = [v for v in BIP380_389["valid"] if v["text"].endswith("/1/2/*)")]
    descriptor = parse_descriptor(descsum_create(BIP380_389["multipath"][0]["text"]), Network.MAIN)
    assert scripts_hex(descriptor.derive(Branch.RECEIVE, 0, 3)) == ranged_wpkh["scripts"]
    assert all(item.branch is Branch.CHANGE for item in descriptor.derive(Branch.CHANGE, 0, 3))
    assert scripts_hex(descriptor.derive(Branch.CHANGE, 0, 3)) != ranged_wpkh["scripts"]


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("<0;1>/<2;3>/*", "only one multipath step"),
        ("<0;1;2>/*", "Bóveda reads two"),
        ("<0;0>/*", "repeats an index"),
        ("<0h;1>/*", "hardened step 0h"),
        ("<>/*", "empty index"),
        ("<0;>/*", "empty index"),
        ("<0>/*", "at least two"),
        ("0>/*", "malformed multipath"),
        ("<0/*", "malformed multipath"),
    ],
)
def test_malformed_multipath_steps_are_refused_by_name(path: str, fragment: str) -> None:
    assert fragment in refuse(descsum_create(f"wpkh({TPUB_1}/{path})"), Network.REGTEST)


def test_multipath_in_a_key_origin_is_refused() -> None:
    refuse(descsum_create(f"wpkh([deadbeef/<0;1>]{TPUB_1}/0/*)"), Network.REGTEST)


def test_keys_without_multipath_are_shared_by_both_branches() -> None:
    text = descsum_create(f"wsh(sortedmulti(2,{TPUB_1}/<0;1>/*,{TPUB_2}/7/*,{TPUB_3}/9,{KEY_03}))")
    descriptor = parse_descriptor(text, Network.REGTEST)
    assert descriptor.branches == (Branch.RECEIVE, Branch.CHANGE)
    assert descriptor.branch_text(Branch.CHANGE) == descsum_create(
        f"wsh(sortedmulti(2,{TPUB_1}/1/*,{TPUB_2}/7/*,{TPUB_3}/9,{KEY_03}))"
    )
    for branch in Branch:
        assert descriptor.derive(branch, 0, 20) == derive_with_embit(descriptor, branch, 0, 20)


@pytest.mark.parametrize("threshold", [1, 16, 17, 20])
def test_wsh_multisig_of_more_than_16_keys_matches_embit(threshold: int) -> None:
    # Counts above 16 have no OP_n: they are pushed as script numbers, as Core's GetScriptForMultisig does.
    keys = [ec.PrivateKey(hashlib.sha256(b"key %d" % i).digest()).get_public_key().sec().hex() for i in range(20)]
    for name in ("multi", "sortedmulti"):
        descriptor = parse_descriptor(descsum_create(f"wsh({name}({threshold},{','.join(keys)}))"), Network.MAIN)
        assert descriptor.derive(Branch.RECEIVE, 0, 1) == derive_with_embit(descriptor, Branch.RECEIVE, 0, 1)


def test_descriptor_errors_are_the_wallet_layers_errors() -> None:
    assert issubclass(DescriptorError, WalletError) and issubclass(WalletError, BovedaError)


# --- BIP-32 ----------------------------------------------------------------------------------


def _path_steps(chain: str) -> list[int]:
    return [int(step[:-1]) + HARDENED_INDEX if step.endswith("H") else int(step) for step in chain.split("/")[1:]]


@pytest.mark.parametrize("vector", BIP32["vectors"], ids=lambda v: v["name"])
def test_bip32_public_derivation_matches_the_vectors(vector: dict) -> None:
    chains = vector["chains"]
    master = embit_bip32.HDKey.from_seed(bytes.fromhex(vector["seed_hex"]))
    assert master.to_public().to_base58() == chains[0][1]
    for (_, parent_xpub), (chain, child_xpub) in zip(chains, chains[1:]):
        step = _path_steps(chain)[-1]
        parent = ExtendedPublicKey.parse(parent_xpub)
        child = ExtendedPublicKey.parse(child_xpub)
        assert child.serialize() == child_xpub
        assert child.depth == len(_path_steps(chain)) and child.parent_fingerprint == parent.fingerprint
        if step >= HARDENED_INDEX:
            # No public derivation exists: embit derives the private key, and the vector's
            # xpub is what we derive onward from.
            assert master.derive(_path_steps(chain)).to_public().to_base58() == child_xpub
            with pytest.raises(ValueError):
                parent.child(step)
        else:
            assert parent.child(step) == child
            assert parent.child_public_keys(step, step + 1) == (child.public_key,)


def test_bip32_vector1_multi_step_public_path() -> None:
    chains = dict(BIP32["vectors"][0]["chains"])
    parent = ExtendedPublicKey.parse(chains["m/0H/1/2H"])
    assert parent.derive_path((2, 1000000000)).serialize() == chains["m/0H/1/2H/2/1000000000"]


@pytest.mark.parametrize("case", BIP32["invalid"]["keys"], ids=lambda c: c[1])
def test_bip32_vector5_invalid_keys_are_refused(case: list[str]) -> None:
    key, _reason = case
    with pytest.raises(CodecError):
        ExtendedPublicKey.parse(key)
    refuse(descsum_create(f"wpkh({key}/0/*)"))


# --- BIP-49, 84, 86: account keys as descriptors ------------------------------------------


@pytest.mark.parametrize("wallet", WALLETS["wallets"], ids=lambda w: f"bip{w['bip']}")
def test_bip_account_vectors_as_descriptors(wallet: dict) -> None:
    network = Network.parse(wallet["network"])
    key = wallet["account_key"]
    slip132_name = key[:4]
    if slip132_name not in ("xpub", "tpub"):
        bip32_name = "xpub" if network is Network.MAIN else "tpub"
        slip132_text = descsum_create(wallet["descriptor_template"].format(key=key))
        assert f"SLIP-132 {slip132_name}" in refuse(slip132_text, network)
        key = reencode(key, bip32_name)
    if "account_private_key" in wallet:
        private = embit_bip32.HDKey.from_base58(wallet["account_private_key"])
        assert private.to_public().to_base58(NETWORKS["main"]["xpub"]) == key
    descriptor = parse_descriptor(descsum_create(wallet["descriptor_template"].format(key=key)), network)
    assert descriptor.form is ScriptForm(wallet["form"])
    account = ExtendedPublicKey.parse(key)
    for expected in wallet["derived"]:
        branch = Branch[expected["branch"].upper()]
        [derived] = descriptor.derive(branch, expected["index"], expected["index"] + 1)
        assert address_of(derived.script_pubkey, network) == expected["address"]
        if "script_pubkey" in expected:
            assert derived.script_pubkey.hex() == expected["script_pubkey"]
        child_key = account.derive_path((branch.value, expected["index"])).public_key
        assert child_key.hex()[-64:] == expected.get("public_key", expected.get("internal_key"))[-64:]


# --- refusals the issue names ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "network", "fragment"),
    [
        (f"wpkh({TPUB_1}/0h/*)", Network.REGTEST, "hardened step 0h after an xpub"),
        (f"wpkh({TPUB_1}/0/*h)", Network.REGTEST, "hardened step *h"),
        (f"wpkh({TPUB_1}/0/*')", Network.REGTEST, "hardened step *'"),
        (f"tr({TPUB_1}/1H/*)", Network.REGTEST, "hardened step 1H"),
        (f"foo({TPUB_1}/0/*)", Network.REGTEST, "unknown function foo()"),
        (f"wsh(thresh(2,pk({KEY_03}),s:pk({KEY_03})))", Network.MAIN, "unknown function thresh()"),
        (f"combo({KEY_03})", Network.MAIN, "combo() descriptors are not supported"),
        (f"wpkh({XPUB_1}/0/*)", Network.REGTEST, "an xpub (main network keys) but the wallet is on regtest"),
        (f"wpkh({XPUB_1}/0/*)", Network.SIGNET, "it needs a tpub"),
        (f"wpkh({XPUB_1}/0/*)", Network.TESTNET4, "it needs a tpub"),
        (f"wpkh({TPUB_1}/0/*)", Network.MAIN, "a tpub (test network keys) but the wallet is on main"),
        (f"wsh(multi(1,{XPUB_1}/0/*,{TPUB_1}/0/*))", Network.MAIN, "key 2 of multi() is a tpub"),
        ("addr(bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu)", Network.REGTEST, "the address is for main"),
        ("addr(2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2)", Network.MAIN, "the address is for the test network"),
        ("addr(bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyx)", Network.MAIN, "not a valid bech32"),
        (f"wpkh({TPRV_1}/0/*)", Network.REGTEST, "extended private key (tprv); Bóveda is watch-only"),
        ("wpkh(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1)", Network.MAIN, "private key (WIF)"),
        (f"wpkh({KEY_04})", Network.MAIN, "uncompressed public keys are not allowed in segwit"),
        (f"wsh(multi(1,{KEY_03},{KEY_04}))", Network.MAIN, "key 2 of multi(): uncompressed"),
        (f"wsh(multi(0,{KEY_03}))", Network.MAIN, "threshold of multi() must be between 1 and its 1 keys, not 0"),
        (f"wsh(sortedmulti(3,{KEY_03},{KEY_03}))", Network.MAIN, "not 3"),
        (f"wsh(multi(a,{KEY_03}))", Network.MAIN, "threshold of multi() must be a number"),
        (f"wsh(multi(1,{','.join([KEY_03] * 21)}))", Network.MAIN, "at most 20 keys"),
        (f"sh(multi(1,{','.join([KEY_04] * 8)}))", Network.MAIN, "over the P2SH limit of 520"),
        (f"multi(1,{KEY_03})", Network.MAIN, "bare multi() outputs are not supported"),
        (f"tr({KEY_03},pk({KEY_03}))", Network.MAIN, "script tree is not supported"),
        (f"sh(tr({KEY_03}))", Network.MAIN, "tr() may only be used at the top level"),
        (f"wpkh({TPUB_1}/0/*/1)", Network.REGTEST, "'*' must be the last"),
        (f"wpkh({TPUB_1}//0)", Network.REGTEST, "empty derivation step"),
        (f"wpkh({TPUB_1}/2147483648/*)", Network.REGTEST, "out of range"),
        (f"wpkh({reencode(TPUB_1, 'vpub')}/0/*)", Network.REGTEST, "SLIP-132 vpub; descriptors take the same key"),
        (f"wpkh([deadbeef/0H]{TPUB_1}/0/*)", Network.REGTEST, "as 0h"),
        ("raw()", Network.MAIN, "raw() takes one argument, not 0"),
        ("raw(abc)", Network.MAIN, "raw() takes a non-empty script as an even number of hex digits"),
        ("wpkh()", Network.MAIN, "wpkh() takes one argument, not 0"),
        (f"wpkh({KEY_03})x", Network.MAIN, "not closed by ')'"),
        (f"wpkh({KEY_03}))(", Network.MAIN, "not closed"),
        (KEY_03, Network.MAIN, "must be a script"),
    ],
)
def test_bad_descriptors_are_refused_with_a_reason_naming_the_problem(
    text: str, network: Network, fragment: str
) -> None:
    assert fragment in refuse(descsum_create(text), network)


def test_test_network_keys_work_on_every_test_network() -> None:
    text = descsum_create(f"wpkh({TPUB_1}/<0;1>/*)")
    derived = [
        parse_descriptor(text, network).derive(Branch.RECEIVE, 0, 5)
        for network in (Network.TESTNET4, Network.SIGNET, Network.REGTEST)
    ]
    assert derived[0] == derived[1] == derived[2]


def test_addresses_render_per_network() -> None:
    descriptor = parse_descriptor(descsum_create(f"wpkh({TPUB_1}/0/*)"), Network.REGTEST)
    [derived] = descriptor.derive(Branch.RECEIVE, 0, 1)
    assert address_of(derived.script_pubkey, Network.REGTEST).startswith("bcrt1q")
    assert address_of(derived.script_pubkey, Network.SIGNET).startswith("tb1q")
    assert address_of(bytes.fromhex("deadbeef"), Network.MAIN) is None


def test_addr_descriptors_on_each_network() -> None:
    wallet = parse_descriptor(descsum_create(f"wpkh({TPUB_1}/0/*)"), Network.REGTEST)
    regtest_address = address_of(wallet.derive(Branch.RECEIVE, 3, 4)[0].script_pubkey, Network.REGTEST)
    assert regtest_address is not None
    descriptor = parse_descriptor(descsum_create(f"addr({regtest_address.upper()})"), Network.REGTEST)
    assert descriptor.text == descsum_create(f"addr({regtest_address})")
    assert descriptor.form is ScriptForm.ADDR and not descriptor.is_ranged
    [derived] = descriptor.derive(Branch.RECEIVE, 0, 100)
    assert address_of(derived.script_pubkey, Network.REGTEST) == regtest_address
    assert "regtest" in refuse(descsum_create(f"addr({regtest_address})"), Network.SIGNET)


# --- the value type ------------------------------------------------------------------------


def test_canonical_text_normalizes_and_round_trips() -> None:
    text = descsum_create(f"wpkh([DEADBEEF/84'/1'/0']{TPUB_1}/<0;1>/*)")
    descriptor = parse_descriptor(text, Network.REGTEST)
    assert descriptor.text == descsum_create(f"wpkh([deadbeef/84h/1h/0h]{TPUB_1}/<0;1>/*)")
    again = parse_descriptor(descriptor.text, Network.REGTEST)
    assert again == descriptor
    assert isinstance(hash(again), int)


@pytest.mark.parametrize("vector", BIP380_389["valid"], ids=lambda v: f"bip{v['bip']}-{v['text'][:40]}")
def test_canonical_text_of_every_valid_vector_round_trips(vector: dict) -> None:
    descriptor = parse_descriptor(descsum_create(vector.get("public_text", vector["text"])), Network.MAIN)
    assert parse_descriptor(descriptor.text, Network.MAIN) == descriptor


def test_non_ranged_descriptors_have_one_script_at_index_zero() -> None:
    descriptor = parse_descriptor(descsum_create(f"wpkh({TPUB_1}/0/5)"), Network.REGTEST)
    assert not descriptor.is_ranged and descriptor.branches == (Branch.RECEIVE,)
    [only] = descriptor.derive(Branch.RECEIVE, 0, 20)
    assert only.index == 0
    assert only.script_pubkey == descriptor.derive(Branch.RECEIVE, 0, 1)[0].script_pubkey
    assert descriptor.derive(Branch.RECEIVE, 1, 20) == ()


def test_non_ranged_multipath_descriptor_has_one_script_per_branch() -> None:
    descriptor = parse_descriptor(descsum_create(f"wpkh({TPUB_1}/<0;1>)"), Network.REGTEST)
    assert not descriptor.is_ranged and descriptor.branches == (Branch.RECEIVE, Branch.CHANGE)
    receive, change = (descriptor.derive(branch, 0, 5) for branch in Branch)
    assert len(receive) == len(change) == 1 and receive[0].script_pubkey != change[0].script_pubkey
    assert (receive, change) == tuple(derive_with_embit(descriptor, branch, 0, 5) for branch in Branch)


def test_ranged_derivation_indexes_and_errors() -> None:
    descriptor = parse_descriptor(descsum_create(f"wpkh({TPUB_1}/0/*)"), Network.REGTEST)
    derived = descriptor.derive(Branch.RECEIVE, 10, 13)
    assert [(item.branch, item.index) for item in derived] == [(Branch.RECEIVE, index) for index in (10, 11, 12)]
    assert derived[1] == descriptor.derive(Branch.RECEIVE, 11, 12)[0]
    assert "no change branch" in str(pytest.raises(DescriptorError, descriptor.derive, Branch.CHANGE, 0, 1).value)
    with pytest.raises(DescriptorError):
        descriptor.derive(Branch.RECEIVE, 5, 4)
    with pytest.raises(DescriptorError):
        descriptor.derive(Branch.RECEIVE, 0, HARDENED_INDEX + 1)
    assert len(descriptor.derive(Branch.RECEIVE, HARDENED_INDEX - 1, HARDENED_INDEX)) == 1


def test_descriptor_value_is_frozen() -> None:
    descriptor = parse_descriptor(descsum_create(f"wpkh({TPUB_1}/0/*)"), Network.REGTEST)
    with pytest.raises(AttributeError):
        descriptor.text = "x"  # type: ignore[misc]
    assert isinstance(descriptor, WalletDescriptor) and isinstance(descriptor.keys, tuple)


# --- fast derivation equals embit's -----------------------------------------------------------

REFERENCE_DESCRIPTORS = {
    "pkh": f"pkh([d34db33f/44h/1h/0h]{TPUB_1}/<0;1>/*)",
    "wpkh": f"wpkh({TPUB_1}/<0;1>/*)",
    "sh-wpkh": f"sh(wpkh({TPUB_2}/<0;1>/*))",
    "wsh-sortedmulti-2of3": f"wsh(sortedmulti(2,{TPUB_1}/<0;1>/*,{TPUB_2}/<0;1>/*,{TPUB_3}/<0;1>/*))",
    "wsh-multi-2of3": f"wsh(multi(2,{TPUB_1}/<0;1>/*,{TPUB_2}/<0;1>/*,{TPUB_3}/<0;1>/*))",
    "sh-wsh-sortedmulti": f"sh(wsh(sortedmulti(2,{TPUB_1}/3/<0;1>/*,{TPUB_2}/<0;1>/*,{KEY_03})))",
    "sh-multi": f"sh(multi(1,{TPUB_3}/<0;1>/*,{KEY_04}))",
    "tr": f"tr({TPUB_3}/<0;1>/*)",
}


@pytest.mark.parametrize(
    ("name", "count"), [("wpkh", 2000), ("wsh-sortedmulti-2of3", 1000), ("tr", 1000), ("sh-wpkh", 500)]
)
def test_fast_derivation_is_byte_identical_to_embit_on_thousands_of_indexes(name: str, count: int) -> None:
    descriptor = parse_descriptor(descsum_create(REFERENCE_DESCRIPTORS[name]), Network.REGTEST)
    for branch in descriptor.branches:
        assert descriptor.derive(branch, 0, count) == derive_with_embit(descriptor, branch, 0, count)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(REFERENCE_DESCRIPTORS)),
    branch=st.sampled_from(Branch),
    index=st.integers(min_value=0, max_value=HARDENED_INDEX - 1),
)
def test_fast_derivation_equals_embit_at_random_indexes(name: str, branch: Branch, index: int) -> None:
    descriptor = _reference(name)
    assert descriptor.derive(branch, index, index + 1) == derive_with_embit(descriptor, branch, index, index + 1)


_REFERENCE_CACHE: dict[str, WalletDescriptor] = {}


def _reference(name: str) -> WalletDescriptor:
    if name not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[name] = parse_descriptor(descsum_create(REFERENCE_DESCRIPTORS[name]), Network.REGTEST)
    return _REFERENCE_CACHE[name]


# --- properties of the parser ---------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_one_character_change_to_a_checksummed_descriptor_is_refused(data: st.DataObject) -> None:
    # BIP-380: a single substitution is at most two symbol errors, which the checksum always detects.
    text = _reference(data.draw(st.sampled_from(sorted(REFERENCE_DESCRIPTORS)))).text
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(st.sampled_from(_INPUT_CHARSET).filter(lambda c: c != text[position]))
    refuse(text[:position] + replacement + text[position + 1 :], Network.REGTEST)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_INPUT_CHARSET + "Üé\n", max_size=120))
def test_arbitrary_text_is_parsed_or_refused_never_crashes(text: str) -> None:
    for candidate in (text, descsum_create(text) if set(text) <= set(_INPUT_CHARSET) - {"#"} else text):
        try:
            parse_descriptor(candidate, Network.MAIN)
        except DescriptorError as error:
            assert "\n" not in str(error)
