"""A regtest node whose reserve and custody wallets' keys are held by Bitcoin Core descriptor wallets,
and a synced book with approval policies: the ground for the spend governance tests.

The reserve's 2-of-3 wsh(sortedmulti) wallet has one Core wallet per cosigner, each holding one
private key (importdescriptors of a private descriptor); the single-key wallets (wpkh, tr, and the
custody case's wpkh) have one Core wallet each. Officials' approval keys are plain secrets here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import coincurve
from _bitcoind import Bitcoind, require_bitcoind
from embit import bip32
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS

from boveda.bitcoin import bip322
from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.cli.main import run
from boveda.keys.software_wallet import SoftwareWallet, WalletKind, seed_from_label

REGTEST = Network.REGTEST
RESERVE = "R"
CASE = "CASE-1"
ORDER = "Restitution order, ECF 1100"
OFFICIALS = ("alice", "bob", "carol")


def official_secret(name: str) -> bytes:
    return hashlib.sha256(f"spend tests official/{name}".encode()).digest()


def official_key(name: str) -> str:
    return coincurve.PrivateKey(official_secret(name)).public_key.format().hex()


def approval_signature(name: str, digest: str) -> str:
    """`name`'s BIP-322 signature of a proposal digest with their P2WPKH key."""
    return bip322.sign_p2wpkh(digest, official_secret(name))


def _account_xprv(seed: bytes, path: str) -> str:
    root = bip32.HDKey.from_seed(seed, version=NETWORKS["test"]["xprv"])
    return root.derive("m/" + path).to_string(version=NETWORKS["test"]["xprv"])


def private_descriptors(wallet: SoftwareWallet, seeds: list[bytes], holder: int) -> list[tuple[str, bool]]:
    """(descriptor, internal) for both branches, with cosigner `holder`'s key private."""
    found = []
    for branch in (0, 1):
        keys = []
        for i, account in enumerate(wallet.account_keys):
            key = _account_xprv(seeds[i], account.account_path) if i == holder else account.account_xpub
            keys.append(f"[{account.fingerprint_hex}/{account.account_path}]{key}/{branch}/*")
        if wallet.kind is WalletKind.WPKH:
            body = f"wpkh({keys[0]})"
        elif wallet.kind is WalletKind.TR:
            body = f"tr({keys[0]})"
        else:
            body = f"wsh(sortedmulti({wallet.threshold},{','.join(keys)}))"
        found.append((add_checksum(body), branch == 1))
    return found


def core_signer(node: Bitcoind, name: str, wallet: SoftwareWallet, seeds: list[bytes], holder: int = 0) -> str:
    """A Core descriptor wallet holding cosigner `holder`'s private key of `wallet`; its name."""
    node.cli("-named", "createwallet", f"wallet_name={name}", "blank=true")
    requests = [{"desc": desc, "timestamp": 0, "active": False, "range": [0, 100]}
                for desc, _internal in private_descriptors(wallet, seeds, holder)]
    results = node.cli(f"-rpcwallet={name}", "importdescriptors", json.dumps(requests))
    assert all(r["success"] for r in results), results
    return name


def boveda(capsys, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@dataclass
class SpendChain:
    node: Bitcoind
    folder: Path
    book_path: str
    wallets: dict[str, SoftwareWallet]
    signers: dict[str, list[str]]  # book wallet -> Core wallets holding its keys
    outsider: str  # an address of the miner's wallet
    funding_txid: str
    custody_txid: str
    miner_address: str

    def copy_book(self, folder: Path) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "book.db"
        shutil.copyfile(self.book_path, target)
        return str(target)

    def address(self, wallet: str, branch: Branch = Branch.RECEIVE, index: int = 0) -> str:
        return script_to_address(self.wallets[wallet].script_pubkey(branch, index), REGTEST)

    def sign_in_core(self, core_wallet: str, psbt_base64: str, *, finalize: bool = False) -> str:
        done = self.node.cli(f"-rpcwallet={core_wallet}", "walletprocesspsbt", psbt_base64, "true", "ALL", "true",
                             "true" if finalize else "false")
        return done["psbt"]

    def mine(self, blocks: int = 1) -> None:
        self.node.cli("generatetoaddress", blocks, self.miner_address)


def build_spend_chain(folder: Path, capsys=None) -> SpendChain:
    node = Bitcoind(require_bitcoind(), folder / "node")
    node.start()
    miner_address = node.funded_wallet("miner")
    node.cli("generatetoaddress", 10, miner_address)  # more mature coinbases to fund from
    seeds = {name: [seed_from_label(f"spend tests/{name}/{i}") for i in range(n)]
             for name, n in (("cold", 3), ("hot", 1), ("taproot", 1), ("seized", 1))}
    wallets = {
        "cold": SoftwareWallet.wsh_sortedmulti(2, seeds["cold"], network=REGTEST),
        "hot": SoftwareWallet.wpkh(seeds["hot"][0], network=REGTEST),
        "taproot": SoftwareWallet.tr(seeds["taproot"][0], network=REGTEST),
        "seized": SoftwareWallet.wpkh(seeds["seized"][0], network=REGTEST),
    }
    signers = {"cold": [core_signer(node, f"cold-cosigner-{i}", wallets["cold"], seeds["cold"], i) for i in range(3)]}
    for name in ("hot", "taproot", "seized"):
        signers[name] = [core_signer(node, f"{name}-signer", wallets[name], seeds[name])]
    book_path = str(folder / "book.db")
    chain = SpendChain(node, folder, book_path, wallets, signers, node.cli("-rpcwallet=miner", "getnewaddress"),
                       "", "", miner_address)
    height = node.cli("getblockcount")
    amounts = {chain.address("cold", index=0): 2, chain.address("cold", index=1): 1,
               chain.address("hot", index=0): 1, chain.address("taproot", index=0): 1}
    chain.funding_txid = node.cli("-rpcwallet=miner", "sendmany", "", json.dumps(amounts))
    chain.custody_txid = node.cli("-rpcwallet=miner", "sendtoaddress", chain.address("seized", index=0), 0.5)
    chain.mine()
    Book.init(book_path)
    commands = [
        ("reserve", "add", RESERVE, "--name", "Test reserve", "--no-sale", "--address-cap", "3"),
        ("case", "add", CASE, "--agency", "USMS"),
        ("partner", "add", "P", "--name", "Partner government"),
        ("purchase", "add", "--reserve", RESERVE, "--amount", "5", "--txid", chain.funding_txid),
        ("lot", "seize", "--case", CASE, "--amount", "0.5", "--txid", chain.custody_txid),
    ]
    for name in ("cold", "hot", "taproot"):
        commands.append(("wallet", "add", name, "--reserve", RESERVE, "--network", "regtest", "--birth-height",
                         str(height), "--descriptor", wallets[name].multipath_descriptor()))
    commands.append(("wallet", "add", "seized", "--case", CASE, "--network", "regtest", "--birth-height", str(height),
                     "--descriptor", wallets["seized"].multipath_descriptor()))
    approvers = ",".join(f"{n}={official_key(n)}" for n in OFFICIALS)
    commands += [
        ("sync", "--rpc-url", node.rpc_url, "--network", "regtest"),
        ("policy", "set", f"reserve:{RESERVE}", "--approvers", approvers, "--threshold", "2"),
        ("policy", "set", f"custody:{CASE}", "--approvers", approvers, "--threshold", "2"),
    ]
    for command in commands:
        code = run(["--book", book_path, *command])
        assert code == 0, (command, capsys.readouterr() if capsys else "")
    return chain
