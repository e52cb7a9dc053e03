"""Software wallets for test and demo chains: BIP-32 keys held in memory, real signatures.

Kinds: `wpkh` (BIP-84), `wsh` k-of-n sortedmulti (BIP-48, one seed per cosigner) and `tr`
key path only (BIP-86). Each gives its output descriptors (BIP-380..389) and signs the
inputs that spend its outputs. Never use these for real coins: the keys are plain objects.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import coincurve
from embit import bip32
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS

from boveda.bitcoin import script
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.bitcoin.sighash import SighashType, TxDigests, segwit_v0_sighash, taproot_sighash
from boveda.bitcoin.taproot import SECP256K1_ORDER, tweak_secret
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.errors import BuilderError

_BIP340_AUX = bytes(32)  # deterministic signatures keep test chains reproducible


class WalletKind(enum.Enum):
    WPKH = "wpkh"
    WSH_SORTEDMULTI = "wsh"
    TR = "tr"


@dataclass(frozen=True, slots=True)
class KeyPath:
    branch: Branch
    index: int


@dataclass(frozen=True, slots=True)
class AccountKey:
    """One key of a wallet as a descriptor shows it: origin and account-level extended public key."""

    fingerprint_hex: str
    account_path: str  # e.g. "84h/1h/0h"
    account_xpub: str

    @property
    def descriptor_key(self) -> str:
        return f"[{self.fingerprint_hex}/{self.account_path}]{self.account_xpub}"


def _account_path(kind: WalletKind, network: Network, account: int) -> str:
    coin = 0 if network == Network.MAIN else 1
    purpose = {WalletKind.WPKH: "84h", WalletKind.WSH_SORTEDMULTI: "48h", WalletKind.TR: "86h"}[kind]
    suffix = "/2h" if kind == WalletKind.WSH_SORTEDMULTI else ""  # BIP-48 script type 2: native segwit
    return f"{purpose}/{coin}h/{account}h{suffix}"


class _BranchKey:
    """A non-hardened BIP-32 parent (an account's /0 or /1 key) that derives children quickly.

    The per-address step is written out (CKDpriv, BIP-32) instead of calling embit because a
    large simulation derives one address per payment: this is about three times faster, and
    the tests check it against embit.
    """

    __slots__ = ("secret", "pubkey", "chain_code")

    def __init__(self, hd: bip32.HDKey) -> None:
        self.secret = int.from_bytes(hd.key.secret, "big")
        self.pubkey = hd.key.sec()
        self.chain_code = hd.chain_code

    def child(self, index: int) -> coincurve.PrivateKey:
        if not 0 <= index < 0x80000000:
            raise ValueError(f"index {index} is not a non-hardened BIP-32 index")
        digest = hmac.digest(self.chain_code, self.pubkey + index.to_bytes(4, "big"), "sha512")
        tweak = int.from_bytes(digest[:32], "big")
        child = (tweak + self.secret) % SECP256K1_ORDER
        if tweak >= SECP256K1_ORDER or child == 0:
            raise BuilderError(f"BIP-32 index {index} gives no key; use the next index")
        return coincurve.PrivateKey(child.to_bytes(32, "big"))


@dataclass(frozen=True, slots=True)
class _AddressKeys:
    path: KeyPath
    script_pubkey: bytes
    private_keys: tuple[coincurve.PrivateKey, ...]  # wsh: sorted by public key; tr: the tweaked key
    public_key: bytes  # wpkh: the key; tr: the x-only output key; wsh: empty
    witness_script: bytes  # wsh only


class SoftwareWallet:
    """A BIP-32 wallet of one kind whose private keys exist only in this object."""

    def __init__(
        self,
        kind: WalletKind,
        seeds: Sequence[bytes],
        *,
        threshold: int = 1,
        network: Network = Network.REGTEST,
        account: int = 0,
    ) -> None:
        if kind != WalletKind.WSH_SORTEDMULTI and len(seeds) != 1:
            raise BuilderError(f"a {kind.value} wallet has one seed, got {len(seeds)}")
        if kind == WalletKind.WSH_SORTEDMULTI and not 1 <= threshold <= len(seeds) <= 16:
            raise BuilderError(f"a {threshold}-of-{len(seeds)} sortedmulti wallet is not possible")
        self.kind = kind
        self.network = network
        self.threshold = threshold if kind == WalletKind.WSH_SORTEDMULTI else 1
        path = _account_path(kind, network, account)
        versions = NETWORKS["main" if network == Network.MAIN else "test"]
        account_keys, branch_keys = [], []
        for seed in seeds:
            root = bip32.HDKey.from_seed(seed, version=versions["xprv"])
            account_key = root.derive("m/" + path)
            account_keys.append(
                AccountKey(root.my_fingerprint.hex(), path, account_key.to_public().to_string(version=versions["xpub"]))
            )
            branch_keys.append(tuple(_BranchKey(account_key.derive([branch])) for branch in Branch))
        self.account_keys: tuple[AccountKey, ...] = tuple(account_keys)
        self._branch_keys = tuple(branch_keys)
        self._by_path: dict[KeyPath, _AddressKeys] = {}
        self._by_script: dict[bytes, _AddressKeys] = {}
        self._next_index = {Branch.RECEIVE: 0, Branch.CHANGE: 0}
        self.on_new_script: Callable[[bytes], None] | None = None  # told of every script derived

    @classmethod
    def wpkh(cls, seed: bytes, **options) -> SoftwareWallet:
        return cls(WalletKind.WPKH, (seed,), **options)

    @classmethod
    def wsh_sortedmulti(cls, threshold: int, seeds: Sequence[bytes], **options) -> SoftwareWallet:
        return cls(WalletKind.WSH_SORTEDMULTI, tuple(seeds), threshold=threshold, **options)

    @classmethod
    def tr(cls, seed: bytes, **options) -> SoftwareWallet:
        return cls(WalletKind.TR, (seed,), **options)

    # -- descriptors -----------------------------------------------------------------

    def _descriptor(self, steps: str) -> str:
        keys = [f"{c.descriptor_key}/{steps}" for c in self.account_keys]
        if self.kind == WalletKind.WPKH:
            body = f"wpkh({keys[0]})"
        elif self.kind == WalletKind.TR:
            body = f"tr({keys[0]})"
        else:
            body = f"wsh(sortedmulti({self.threshold},{','.join(keys)}))"
        return add_checksum(body)

    def descriptor(self, branch: Branch) -> str:
        """The output descriptor of one branch (`.../0/*` or `.../1/*`), with its checksum."""
        return self._descriptor(f"{int(branch)}/*")

    def multipath_descriptor(self) -> str:
        """Both branches in one descriptor, `.../<0;1>/*` (BIP-389), with its checksum."""
        return self._descriptor("<0;1>/*")

    # -- addresses -------------------------------------------------------------------

    def _derive(self, path: KeyPath) -> _AddressKeys:
        keys = [branch_keys[path.branch].child(path.index) for branch_keys in self._branch_keys]
        if self.kind == WalletKind.WPKH:
            public_key = keys[0].public_key.format()
            return _AddressKeys(path, script.p2wpkh(public_key), (keys[0],), public_key, b"")
        if self.kind == WalletKind.TR:
            tweaked, output_key = tweak_secret(keys[0].secret)
            return _AddressKeys(path, script.p2tr(output_key), (coincurve.PrivateKey(tweaked),), output_key, b"")
        ordered = sorted(((key.public_key.format(), key) for key in keys), key=lambda pair: pair[0])
        witness_script = script.multisig(self.threshold, [pub for pub, _ in ordered])
        return _AddressKeys(path, script.p2wsh(witness_script), tuple(key for _, key in ordered), b"", witness_script)

    def _keys(self, branch: Branch, index: int) -> _AddressKeys:
        path = KeyPath(Branch(branch), index)
        found = self._by_path.get(path)
        if found is None:
            found = self._derive(path)
            self._by_path[path] = found
            self._by_script[found.script_pubkey] = found
            if self.on_new_script is not None:
                self.on_new_script(found.script_pubkey)
        return found

    def script_pubkey(self, branch: Branch, index: int) -> bytes:
        return self._keys(branch, index).script_pubkey

    def next_script_pubkey(self, branch: Branch) -> bytes:
        """The script at the first index of `branch` not handed out yet (each address used once)."""
        index = self._next_index[branch]
        self._next_index[branch] = index + 1
        return self.script_pubkey(branch, index)

    def key_path(self, script_pubkey: bytes) -> KeyPath | None:
        """Where `script_pubkey` sits in this wallet, if it was derived here."""
        keys = self._by_script.get(script_pubkey)
        return keys.path if keys is not None else None

    def owns(self, script_pubkey: bytes) -> bool:
        return script_pubkey in self._by_script

    def derived_script_pubkeys(self) -> tuple[bytes, ...]:
        return tuple(self._by_script)

    @property
    def input_vbytes(self) -> int:
        """Virtual size of one signed input spending this wallet's output (an upper bound)."""
        if self.kind == WalletKind.WPKH:
            return 68
        if self.kind == WalletKind.TR:
            return 58
        witness_script_size = 3 + 34 * len(self.account_keys)
        witness_size = 2 + self.threshold * 74 + 3 + witness_script_size
        return math.ceil((41 * 4 + witness_size) / 4)

    # -- signing ---------------------------------------------------------------------

    def sign_input(
        self, tx: Transaction, input_index: int, spent: Sequence[TxOut], digests: TxDigests | None = None
    ) -> tuple[bytes, ...]:
        """The witness that spends input `input_index` of `tx`.

        `spent` lists the outputs spent by every input of `tx`, in input order (taproot signs
        them all); `digests` may be shared across the inputs of one transaction.
        """
        prevout = spent[input_index]
        keys = self._by_script.get(prevout.script_pubkey)
        if keys is None:
            raise BuilderError(
                f"input {input_index} spends a script this {self.kind.value} wallet did not derive: "
                f"{prevout.script_pubkey.hex()}"
            )
        if self.kind == WalletKind.TR:
            sighash = taproot_sighash(tx, input_index, spent, SighashType.DEFAULT, digests)
            return (keys.private_keys[0].sign_schnorr(sighash, _BIP340_AUX),)
        if self.kind == WalletKind.WPKH:
            script_code = script.p2pkh(keys.public_key)
        else:
            script_code = keys.witness_script
        sighash = segwit_v0_sighash(tx, input_index, script_code, prevout.value_sat, SighashType.ALL, digests)
        # libsecp256k1 signs with RFC-6979 nonces and always returns low-S signatures (BIP-146).
        signatures = tuple(
            key.sign(sighash, hasher=None) + b"\x01" for key in keys.private_keys[: self.threshold]
        )
        if self.kind == WalletKind.WPKH:
            return (signatures[0], keys.public_key)
        return (b"", *signatures, keys.witness_script)


def seed_from_label(label: str) -> bytes:
    """A 32-byte seed derived from a name: reproducible test wallets without storing seeds."""
    return hashlib.sha256(b"boveda regtest wallet seed/" + label.encode()).digest()
