"""docs/signers.md's Bitcoin Core steps, run against the real bitcoind: each wallet's private descriptor
imported into a Core descriptor wallet (`importdescriptors`), the wallet's proof-of-funds PSBT signed with
`walletprocesspsbt` (a 2-of-3 by two Core wallets, one key each), `boveda prove finalize`, and `boveda
verify` accepts the bundle from the datadir and from the node over RPC — on a test chain with a wpkh, a
2-of-3 wsh and a taproot wallet, and on `boveda demo`'s own chain and book (its reserves and a custody
holding, with the demo wallets' keys re-derived from the scenario's seed label)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _bitcoind import bitcoind_factory  # noqa: F401
from embit import bip32
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS
from test_proof_of_funds import (  # noqa: F401
    KINDS,
    LABEL,
    RESERVE_WALLETS,
    boveda,
    chain,
    prove_unsigned,
)

from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.cli.main import run
from boveda.keys.software_wallet import SoftwareWallet, WalletKind, seed_from_label
from boveda.proofs.bundle import FUNDS_FORMAT, load_bundle
from boveda.proofs.prove import ReserveWallet
from boveda.proofs.software_signer import software_wallet

REGTEST = Network.REGTEST
SCENARIO_SEED = "boveda article scenario v1"  # src/boveda/scenarios/article.toml's seed


def demo_wallet(name: str) -> tuple[SoftwareWallet, list[bytes]]:
    """The test chain's wallet `name`, re-derived from its seeds as the simulation made it."""
    kind = KINDS[name]
    seeds = [seed_from_label(f"{LABEL}/{name}/{i}") for i in range(3 if kind is WalletKind.WSH_SORTEDMULTI else 1)]
    if kind is WalletKind.WSH_SORTEDMULTI:
        return SoftwareWallet.wsh_sortedmulti(2, seeds), seeds
    return (SoftwareWallet.tr(seeds[0]) if kind is WalletKind.TR else SoftwareWallet.wpkh(seeds[0])), seeds


def private_descriptors(name: str, cosigner: int = 0) -> list[str]:
    return core_descriptors(*demo_wallet(name), cosigner)


def core_descriptors(wallet: SoftwareWallet, seeds: list[bytes], cosigner: int = 0) -> list[str]:
    """The wallet's receive and change descriptors with cosigner `cosigner`'s account key as a tprv: what a
    signer imports into Bitcoin Core (the other cosigners' keys stay public)."""
    account = wallet.account_keys[cosigner]
    root = bip32.HDKey.from_seed(seeds[cosigner], version=NETWORKS["test"]["xprv"])
    tprv = root.derive("m/" + account.account_path).to_string()
    descriptors = []
    for branch in Branch:
        public = wallet.descriptor(branch).split("#")[0]
        assert public.count(account.account_xpub) == 1
        descriptors.append(add_checksum(public.replace(account.account_xpub, tprv)))
    return descriptors


def core_signer(node, wallet_name: str, descriptors: list[str]) -> str:
    """A blank Core descriptor wallet holding `descriptors` (private); its name for -rpcwallet."""
    node.cli("-named", "createwallet", f"wallet_name={wallet_name}", "blank=true")
    imported = node.cli(f"-rpcwallet={wallet_name}", "importdescriptors", json.dumps(
        [{"desc": d, "timestamp": "now", "range": [0, 20]} for d in descriptors]))
    assert all(result["success"] for result in imported), imported
    return wallet_name


def core_sign(node, wallet_name: str, source: Path, target: Path) -> bool:
    """`walletprocesspsbt` of the PSBT in `source`, written to `target`; whether Core found it complete."""
    answer = node.cli(f"-rpcwallet={wallet_name}", "walletprocesspsbt", source.read_text().strip())
    target.write_text(answer["psbt"] + "\n")
    return answer["complete"]


def test_bitcoin_core_signs_one_psbt_per_wallet_and_verify_accepts_the_bundle(
        chain, tmp_path, capsys, bitcoind_factory):  # noqa: F811
    prove_unsigned(capsys, chain, tmp_path, challenge="signed by Bitcoin Core")
    psbts = tmp_path / "psbts"
    shutil.copytree(chain.datadir, tmp_path / "node")  # the node serves a copy of the chain the book synced
    node = bitcoind_factory(datadir=tmp_path / "node", zmq=False)
    assert node.cli("getblockcount") == chain.height

    for name in ("hot", "taproot"):
        signer = core_signer(node, f"{name}-signer", private_descriptors(name))
        assert core_sign(node, signer, psbts / f"{name}.psbt", psbts / f"{name}.signed.psbt")
    # 2-of-3: two officials, each with one key in a Core wallet of their own, sign copies apart
    for cosigner, label in ((0, "a"), (2, "c")):
        signer = core_signer(node, f"cold-signer-{label}", private_descriptors("cold", cosigner))
        assert not core_sign(node, signer, psbts / "cold.psbt", psbts / f"cold.signed-{label}.psbt")

    code, _, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", psbts,
                          "--out", tmp_path / "proof.json")
    assert code == 0, err
    bundle = load_bundle(tmp_path / "proof.json")
    assert bundle.is_signed and len(bundle.funds_proofs) == len(RESERVE_WALLETS)
    assert {a.proof_format for a in bundle.addresses} == {FUNDS_FORMAT}
    reserve_sat = sum(chain.balances[w] for w in RESERVE_WALLETS)

    code, out, err = boveda(capsys, "verify", tmp_path / "proof.json", "--datadir", chain.datadir, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], report["failures"]
    assert report["totals"]["chain_assets_sat"] == reserve_sat
    code, out, err = boveda(capsys, "verify", tmp_path / "proof.json", "--rpc-url", node.rpc_url)
    assert code == 0, out + err
    assert f"VERIFIED: reserve R controlled at least {reserve_sat} sat" in out


# -- boveda demo's own chain and book ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("funds-demo") / "demo"
    assert run(["demo", "--dir", str(folder)]) == 0
    return folder


def demo_signers(node, book_location: str, wallet_name: str, cosigners: tuple[int, ...]) -> list[str]:
    """Core wallets holding the demo wallet's private descriptors, one per cosigner, re-derived from the
    scenario's seed label and checked against the descriptor the demo's book registered."""
    with Book.open(book_location) as book:
        registered = next(w for w in book.wallets() if w.name == wallet_name)
    wallet = software_wallet(SCENARIO_SEED, ReserveWallet(registered.name, registered.descriptor, 0), REGTEST)
    assert wallet is not None, "the seed label no longer gives the demo's descriptor"
    seeds = [seed_from_label(f"{SCENARIO_SEED}/{wallet_name}/{i}") for i in range(len(wallet.account_keys))]
    return [core_signer(node, f"{wallet_name}-{c}", core_descriptors(wallet, seeds, c)) for c in cosigners]


@pytest.mark.parametrize("holding, at, wallets", [
    (("--reserve", "SV"), 420, {"sv-cold": (0, 2), "sv-hot": (0,)}),  # a 2-of-3 and a single key
    (("--reserve", "SV"), None, {"sv-vault": (0,)}),  # the tip: one PSBT for the 14-address split
    (("--custody", "1:22-cr-00096"), 420, {"usms-bitfinex": (1, 2)}),  # a custody holding, 2-of-3
])
def test_the_demo_proved_by_bitcoin_core_wallets_holding_its_private_descriptors(
        demo, holding, at, wallets, tmp_path, capsys, bitcoind_factory):  # noqa: F811
    book = str(demo / "boveda.db")
    code, out, err = boveda(capsys, "--book", book, "prove", *holding, *(("--at", at) if at else ()),
                            "--challenge", "demo signed by Core", "--psbt-dir", tmp_path / "psbts",
                            "--out", tmp_path / "unsigned.json", "--json")
    assert code == 0, err
    written = json.loads(out)
    assert [p["wallet"] for p in written["psbts"]] == sorted(wallets)  # one PSBT per wallet, not per address
    node = bitcoind_factory(zmq=False)  # a signer's node needs no chain: the PSBT carries what it signs
    for name, cosigners in wallets.items():
        for signer in demo_signers(node, book, name, cosigners):
            complete = core_sign(node, signer, tmp_path / "psbts" / f"{name}.psbt",
                                 tmp_path / "psbts" / f"{name}.signed-by-{signer}.psbt")
            assert complete is (len(cosigners) == 1)
    code, _, err = boveda(capsys, "prove", "finalize", tmp_path / "unsigned.json", "--psbt-dir", tmp_path / "psbts",
                          "--out", tmp_path / "proof.json")
    assert code == 0, err
    bundle = load_bundle(tmp_path / "proof.json")
    assert bundle.is_signed and bundle.assets_sat > 0
    code, out, err = boveda(capsys, "verify", tmp_path / "proof.json", "--datadir", demo / "bitcoin",
                            "--expect-total", bundle.assets_sat)
    assert code == 0, out + err
    assert f"VERIFIED: {bundle.holder} controlled at least {bundle.assets_sat} sat" in out
    if at is None:
        assert len(bundle.addresses) == 14 and len(bundle.funds_proofs) == 1
