"""Registering a wallet: the book records it (audited), and its first scripts are derived into the store.

Both happen in one transaction, and the descriptor is checked before anything is written, so a
refused wallet leaves the book exactly as it was.
"""

from __future__ import annotations

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Wallet
from boveda.wallets.descriptors import parse_descriptor
from boveda.wallets.sync import derive_wallet_scripts
from boveda.wallets.watch import DEFAULT_GAP_LIMIT


def register_wallet(
    book: Book,
    name: str,
    descriptor: str,
    *,
    network: Network,
    reserve: str | None = None,
    case: str | None = None,
    birth_height: int | None = None,
    gap_limit: int = DEFAULT_GAP_LIMIT,
) -> Wallet:
    parsed = parse_descriptor(descriptor, network)
    with book.atomic() as conn:
        wallet = book.add_wallet(name, descriptor=parsed.text, reserve=reserve, case=case, birth_height=birth_height)
        derive_wallet_scripts(conn, name, parsed.text, network, gap_limit)
    return wallet
