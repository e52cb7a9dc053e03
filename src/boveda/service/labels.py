"""The BIP-329 labels of one holding: what its wallets' addresses, transactions and keys are."""

from __future__ import annotations

from boveda.book import Book
from boveda.book.domain import Account, AccountKind
from boveda.labels import LabelScope, LabelsError
from boveda.service.wallets import book_network
from boveda.wallets import facts_store as facts
from boveda.wallets.report import address_of


def holding_scope(book: Book, holding: str) -> LabelScope:
    """What the labels of `holding` (``reserve:CODE`` or ``custody:CASE``) may refer to: its wallets'
    derived addresses, the transactions that paid or spent their coins (as synced), and the keys and
    key origins their descriptors write. LabelsError for any other account, or one not in the book."""
    account = Account.parse(holding)
    if account.kind is AccountKind.RESERVE:
        known = any(r.code == account.name for r in book.reserves())
    elif account.kind is AccountKind.CUSTODY:
        known = any(c.number == account.name for c in book.cases())
    else:
        raise LabelsError(f"--holding is reserve:CODE or custody:CASE, not {holding!r}")
    if not known:
        raise LabelsError(f"no holding {holding} in this book: see boveda balances")
    wallets = [w for w in book.wallets() if w.owner == account]
    if not wallets:
        return LabelScope.of(addresses=(), txids=(), descriptors=())
    names = [w.name for w in wallets]
    network = book_network(book)
    with book.store.read() as conn:
        txids = set()
        for coin in facts.wallet_coins(conn, names):
            txids.add(coin.txid[::-1].hex())
            if coin.spent_txid is not None:
                txids.add(coin.spent_txid[::-1].hex())
        addresses = [address_of(w.script_pubkey, network) for w in facts.derived_scripts(conn, names)]
    return LabelScope.of(addresses=addresses, txids=txids, descriptors=[w.descriptor for w in wallets])
