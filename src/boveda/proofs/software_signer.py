"""A `Signer` from software keys derived from a seed label: for demo and regtest chains only.

The demo's wallets (chain/regtest/simulation.py) are seeded from `seed_from_label(f"{label}/{wallet}/{i}")`;
given the same label this signer re-derives their keys in memory, checks that they give exactly the
descriptor the book registered, and signs BIP-322 proofs with them. Real custody never uses it: a
real reserve signs with `boveda prove --psbt-dir` and its own hardware or offline signers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from boveda.bitcoin import bip322
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import TxOut
from boveda.book import Book
from boveda.book.domain import Account
from boveda.keys.software_wallet import Branch, SoftwareWallet, seed_from_label
from boveda.proofs.challenge import ProofError
from boveda.proofs.prove import ReserveWallet, reserve_wallets
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import DescriptorError, ScriptForm, parse_descriptor
from boveda.wallets.sync import stored_network


def software_wallet(seed_label: str, wallet: ReserveWallet, network: Network) -> SoftwareWallet | None:
    """The seed label's wallet named like `wallet`, if it gives exactly `wallet`'s descriptor."""
    try:
        registered = parse_descriptor(wallet.descriptor, network)
    except DescriptorError:
        return None
    seeds = [seed_from_label(f"{seed_label}/{wallet.name}/{i}") for i in range(len(registered.keys))]
    if registered.form is ScriptForm.WPKH:
        candidate = SoftwareWallet.wpkh(seeds[0], network=network)
    elif registered.form is ScriptForm.TR:
        candidate = SoftwareWallet.tr(seeds[0], network=network)
    elif registered.form is ScriptForm.WSH_MULTI and registered.is_sorted and registered.threshold:
        candidate = SoftwareWallet.wsh_sortedmulti(registered.threshold, seeds, network=network)
    else:
        return None
    if parse_descriptor(candidate.multipath_descriptor(), network).text != registered.text:
        return None
    return candidate


class SeedSigner:
    """Signs for the scripts of the wallets a seed label re-derives; None for any other script."""

    def __init__(self, wallets: Mapping[str, SoftwareWallet], locations: Mapping[bytes, tuple[str, int, int]]) -> None:
        self._wallets = dict(wallets)
        self._locations = dict(locations)  # script -> (wallet, branch, index)

    @classmethod
    def for_reserve(cls, book: Book, reserve: str | Account, seed_label: str) -> SeedSigner:
        """The signer of a reserve's wallets (its code) or of any holding's (its Account)."""
        network = stored_network(book.store)
        if network is None:
            raise ProofError("this book has no wallets and was never synced")
        if network is not Network.REGTEST:
            raise ProofError(f"--seed-label derives demo keys from a public label: regtest only, refused on "
                             f"{network.value}; use --psbt-dir and the reserve's own signers")
        wallets = reserve_wallets(book, reserve)
        with book.store.read() as conn:
            locations = facts.script_locations(conn, [w.name for w in wallets])
        return cls.from_wallets(seed_label, wallets, locations, network)

    @classmethod
    def from_wallets(cls, seed_label: str, wallets: Sequence[ReserveWallet],
                     locations: Mapping[bytes, tuple[str, int, int]], network: Network) -> SeedSigner:
        derived = {}
        for wallet in wallets:
            software = software_wallet(seed_label, wallet, network)
            if software is not None:
                derived[wallet.name] = software
        return cls(derived, locations)

    @property
    def wallet_names(self) -> tuple[str, ...]:
        return tuple(self._wallets)

    def sign(self, script_pubkey: bytes, message: str) -> str | None:
        location = self._locations.get(script_pubkey)
        if location is None or location[0] not in self._wallets:
            return None
        name, branch, index = location
        wallet = self._wallets[name]
        if wallet.script_pubkey(Branch(branch), index) != script_pubkey:
            return None
        to_sign = bip322.to_sign(bip322.to_spend(message, script_pubkey))
        witness = wallet.sign_input(to_sign, 0, (TxOut(0, script_pubkey),))
        return bip322.encode_simple(witness)
