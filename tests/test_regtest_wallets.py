"""Software wallets: BIP-84/86 vectors, descriptors checked by embit, and spends the kernel accepts."""

import dataclasses

import coincurve
import pytest
from embit import bip32, bip39
from embit.descriptor import Descriptor
from embit.descriptor.checksum import checksum
from embit.networks import NETWORKS

from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.network import Network
from boveda.bitcoin.sighash import TxDigests, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.script import p2pkh
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import (
    SECP256K1_ORDER,
    Branch,
    KeyPath,
    SoftwareWallet,
    WalletKind,
    _BranchKey,
    seed_from_label,
)
from boveda.errors import BuilderError

ABANDON_ABOUT = bip39.mnemonic_to_seed("abandon " * 11 + "about")


def _wallets() -> list[SoftwareWallet]:
    return [
        SoftwareWallet.wpkh(seed_from_label("w")),
        SoftwareWallet.wsh_sortedmulti(2, [seed_from_label(f"m{i}") for i in range(3)]),
        SoftwareWallet.tr(seed_from_label("t")),
    ]


def _mainnet_address(wallet: SoftwareWallet):
    return lambda branch, index: script_to_address(wallet.script_pubkey(branch, index), Network.MAIN)


def test_bip84_vector_addresses():
    wallet = SoftwareWallet.wpkh(ABANDON_ABOUT, network=Network.MAIN)
    address = _mainnet_address(wallet)
    assert address(Branch.RECEIVE, 0) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert address(Branch.RECEIVE, 1) == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert address(Branch.CHANGE, 0) == "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


def test_bip86_vector_addresses_and_account_key():
    wallet = SoftwareWallet.tr(ABANDON_ABOUT, network=Network.MAIN)
    address = _mainnet_address(wallet)
    assert address(Branch.RECEIVE, 0) == "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    assert address(Branch.RECEIVE, 1) == "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh"
    assert address(Branch.CHANGE, 0) == "bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7"
    account_xpub = (
        "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2af"
        "YWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ"
    )
    assert wallet.descriptor(Branch.RECEIVE).startswith(f"tr([73c5da0a/86h/0h/0h]{account_xpub}/0/*)#")


def test_fast_child_derivation_matches_embit():
    branch = bip32.HDKey.from_seed(seed_from_label("ckd"), version=NETWORKS["test"]["xprv"]).derive("m/84h/1h/0h/1")
    fast = _BranchKey(branch)
    for index in (0, 1, 2, 1000, 2**31 - 1):
        assert fast.child(index).secret == branch.derive([index]).key.secret
    with pytest.raises(ValueError):
        fast.child(2**31)


@pytest.mark.parametrize("wallet", _wallets(), ids=lambda w: w.kind.value)
def test_descriptors_parse_in_embit_and_derive_the_wallet_scripts(wallet):
    descriptors = {branch: wallet.descriptor(branch) for branch in Branch}
    multipath = wallet.multipath_descriptor()
    for text in (*descriptors.values(), multipath):
        body, _, given_checksum = text.partition("#")
        assert given_checksum == checksum(body)
        assert str(Descriptor.from_string(text)) == body  # round trip through embit's parser
        assert body.startswith(f"{wallet.kind.value}(")
        for key in wallet.account_keys:
            assert f"[{key.fingerprint_hex}/{key.account_path}]{key.account_xpub}" in body
            assert key.account_xpub.startswith("tpub")
    assert "/<0;1>/*" in multipath
    parsed_multipath = Descriptor.from_string(multipath)
    for branch, text in descriptors.items():
        assert f"/{int(branch)}/*" in text
        parsed = Descriptor.from_string(text)
        for index in (0, 1, 7):
            expected = wallet.script_pubkey(branch, index)
            assert parsed.derive(index).script_pubkey().data == expected
            assert parsed_multipath.derive(index, branch_index=int(branch)).script_pubkey().data == expected
            assert wallet.key_path(expected) == KeyPath(branch, index)


def test_descriptor_paths_follow_bips_84_48_86():
    wpkh, wsh, tr = _wallets()
    assert wpkh.account_keys[0].account_path == "84h/1h/0h"
    assert [c.account_path for c in wsh.account_keys] == ["48h/1h/0h/2h"] * 3
    assert len({c.fingerprint_hex for c in wsh.account_keys}) == 3  # one seed per cosigner
    assert wsh.descriptor(Branch.CHANGE).startswith("wsh(sortedmulti(2,[")
    assert tr.account_keys[0].account_path == "86h/1h/0h"


def test_next_script_hands_out_each_index_once():
    wallet = SoftwareWallet.wpkh(seed_from_label("n"))
    first, second = wallet.next_script_pubkey(Branch.RECEIVE), wallet.next_script_pubkey(Branch.RECEIVE)
    assert first == wallet.script_pubkey(Branch.RECEIVE, 0) and second == wallet.script_pubkey(Branch.RECEIVE, 1)
    assert wallet.next_script_pubkey(Branch.CHANGE) == wallet.script_pubkey(Branch.CHANGE, 0)
    assert wallet.key_path(second).index == 1 and wallet.key_path(b"\x00\x14" + bytes(20)) is None


def _der_s(signature: bytes) -> int:
    r_len = signature[3]
    s_len = signature[5 + r_len]
    return int.from_bytes(signature[6 + r_len : 6 + r_len + s_len], "big")


@pytest.mark.parametrize("wallet", _wallets(), ids=lambda w: w.kind.value)
def test_signatures_verify_and_are_low_s(wallet):
    scripts = [wallet.script_pubkey(Branch.RECEIVE, i) for i in range(4)]
    spent = [TxOut(100_000 + i, s) for i, s in enumerate(scripts)]
    inputs = tuple(TxIn(_outpoint(i)) for i in range(4))
    tx = Transaction(2, inputs, (TxOut(350_000, scripts[0]),), 0)
    digests = TxDigests.compute(tx, spent)
    for index in range(4):
        witness = wallet.sign_input(tx, index, spent, digests)
        if wallet.kind == WalletKind.TR:
            (signature,) = witness
            sighash = taproot_sighash(tx, index, spent)
            assert coincurve.PublicKeyXOnly(scripts[index][2:]).verify(signature, sighash)
            continue
        if wallet.kind == WalletKind.WPKH:
            signatures, pubkeys = [witness[0]], [witness[1]]
            script_code = b"\x76\xa9\x14" + scripts[index][2:] + b"\x88\xac"
            assert script_code == p2pkh(pubkeys[0])
        else:
            assert witness[0] == b"" and len(witness) == 2 + wallet.threshold
            signatures, witness_script = list(witness[1:-1]), witness[-1]
            pubkeys = [witness_script[2 + 34 * k : 35 + 34 * k] for k in range(3)]
            assert pubkeys == sorted(pubkeys)
            script_code = witness_script
        sighash = segwit_v0_sighash(tx, index, script_code, spent[index].value_sat)
        for signature, pubkey in zip(signatures, pubkeys):
            assert signature[-1] == 1  # SIGHASH_ALL
            assert coincurve.PublicKey(pubkey).verify(signature[:-1], sighash, hasher=None)
            assert _der_s(signature[:-1]) <= SECP256K1_ORDER // 2


def _outpoint(i: int) -> OutPoint:
    return OutPoint(bytes([i + 1]) * 32, i)


def test_signing_a_foreign_script_is_refused():
    wallet = SoftwareWallet.wpkh(seed_from_label("x"))
    tx = Transaction(2, (TxIn(_outpoint(0)),), (TxOut(1, b"\x51"),), 0)
    with pytest.raises(BuilderError, match="did not derive"):
        wallet.sign_input(tx, 0, [TxOut(5, b"\x00\x14" + bytes(20))])


def test_impossible_wallets_are_refused():
    with pytest.raises(BuilderError):
        SoftwareWallet.wsh_sortedmulti(3, [seed_from_label("a"), seed_from_label("b")])
    with pytest.raises(BuilderError):
        SoftwareWallet(WalletKind.WPKH, [seed_from_label("a"), seed_from_label("b")])


# -- spends through Bitcoin Core's engine ----------------------------------------------


@pytest.fixture
def funded(tmp_path):
    sim = Simulation(tmp_path)
    sim.add_wallet("wpkh", WalletKind.WPKH)
    sim.add_wallet("wsh", WalletKind.WSH_SORTEDMULTI, threshold=2, cosigners=3)
    sim.add_wallet("tr", WalletKind.TR)
    sim.mine_blocks(101)
    sim.pay("miner", [(sim.receive_script(name), 10 * 100_000_000) for name in ("wpkh", "wsh", "tr")])
    sim.mine()
    yield sim
    sim.close()


@pytest.mark.parametrize("kind", ["wpkh", "wsh", "tr"])
def test_kernel_accepts_a_spend(funded, kind):
    before = funded.builder.tip
    tx = funded.pay(kind, [(funded.receive_script("miner"), 100_000_000)])
    fee_sat = funded.pending_fees_sat
    assert len(tx.inputs) == 1 and len(tx.inputs[0].witness) == {"wpkh": 2, "wsh": 4, "tr": 1}[kind]
    block = funded.mine()
    tip = funded.builder.tip
    assert tip.height == before.height + 1 and tip.hash == block.hash
    assert tx in block.transactions
    assert funded.balance_sat(kind) == 10 * 100_000_000 - 100_000_000 - fee_sat
    assert 0 < fee_sat < 1_000


def _flip(witness_item: bytes, position: int) -> bytes:
    return witness_item[:position] + bytes((witness_item[position] ^ 0x01,)) + witness_item[position + 1 :]


@pytest.mark.parametrize("kind", ["wpkh", "wsh", "tr"])
def test_kernel_rejects_a_block_with_one_flipped_signature_byte(funded, kind):
    tx = funded.pay(kind, [(funded.receive_script("miner"), 100_000_000)])
    fee_sat = funded.pending_fees_sat
    funded.discard_pending()
    witness = tx.inputs[0].witness
    signature_at = 1 if kind == "wsh" else 0  # wsh witnesses start with the empty CHECKMULTISIG dummy
    bad_witness = list(witness)
    bad_witness[signature_at] = _flip(witness[signature_at], 10)
    bad_tx = dataclasses.replace(tx, inputs=(dataclasses.replace(tx.inputs[0], witness=tuple(bad_witness)),))
    assert bad_tx.txid == tx.txid  # the witness is not part of the txid

    builder = funded.builder
    before = builder.tip
    coinbase_script = funded.receive_script("miner")
    block = builder.assemble([bad_tx], coinbase_script=coinbase_script, fees_sat=fee_sat, time=funded.tip_time + 600)
    with pytest.raises(BuilderError, match="script-verify"):
        builder.submit(block)
    assert builder.tip == before

    # The same transaction with its real signature goes through.
    good = builder.assemble([tx], coinbase_script=coinbase_script, fees_sat=fee_sat, time=funded.tip_time + 600)
    builder.submit(good)
    assert builder.tip.hash == good.hash
