"""`--seed-label` derives keys from a public label: it signs on regtest only, whatever the other network."""

from __future__ import annotations

import pytest

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.keys.software_wallet import SoftwareWallet, seed_from_label
from boveda.proofs.challenge import ProofError
from boveda.proofs.software_signer import SeedSigner
from boveda.wallets.registry import register_wallet


@pytest.mark.parametrize("network", [n for n in Network if n is not Network.REGTEST], ids=lambda n: n.value)
def test_seed_label_signing_is_refused_on_every_network_but_regtest(tmp_path, network):
    location = str(tmp_path / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("R", name="Reserve")
        wallet = SoftwareWallet.wpkh(seed_from_label("label/w/0"), network=network)
        register_wallet(book, "w", wallet.multipath_descriptor(), network=network, reserve="R")
        with pytest.raises(ProofError, match=f"regtest only, refused on {network.value}"):
            SeedSigner.for_reserve(book, "R", "label")


def test_seed_label_signing_works_on_regtest(tmp_path):
    location = str(tmp_path / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("R", name="Reserve")
        wallet = SoftwareWallet.wpkh(seed_from_label("label/w/0"), network=Network.REGTEST)
        register_wallet(book, "w", wallet.multipath_descriptor(), network=Network.REGTEST, reserve="R")
        assert SeedSigner.for_reserve(book, "R", "label").wallet_names == ("w",)
