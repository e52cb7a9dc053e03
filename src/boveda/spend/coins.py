"""What a proposal needs of the synced chain facts: a wallet's confirmed coins, its next unused
internal address, and who (if anyone in the book) owns a destination script."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from boveda.bitcoin.derivation import Branch
from boveda.book.domain import Account, Wallet
from boveda.spend.errors import SpendError
from boveda.spend.model import Utxo
from boveda.wallets import facts_store as facts


def spendable_coins(conn: Connection, wallet: str, reserved_outpoints: Collection[str]) -> list[Utxo]:
    """The wallet's confirmed, unspent coins that no open proposal already spends."""
    coins = []
    for c in facts.wallet_coins(conn, [wallet], with_locations=True):
        if c.spent_txid is not None or c.branch is None or c.index is None:
            continue
        utxo = Utxo(c.txid, c.vout, c.value_sat, c.script_pubkey, c.wallet, c.branch, c.index, c.height)
        if utxo.outpoint not in reserved_outpoints:
            coins.append(utxo)
    return coins


def next_change(conn: Connection, wallet: str, branches: tuple[Branch, ...], reserved_scripts: Collection[bytes]
                ) -> tuple[bytes, int, int]:
    """(script, branch, index) of the wallet's first internal address never paid and not promised as change;
    the receive branch when the descriptor has no change branch."""
    branch = Branch.CHANGE if Branch.CHANGE in branches else Branch.RECEIVE
    used = set(facts.used_scripts(conn, [wallet]))
    candidates = sorted((w.index, w.script_pubkey) for w in facts.derived_scripts(conn, [wallet]) if w.branch == branch)
    for index, script in candidates:
        if script not in used and script not in reserved_scripts:
            return script, int(branch), index
    raise SpendError(f"wallet {wallet} has no unused {branch.name.lower()} address derived: run boveda sync to "
                     "derive further")


@dataclass(frozen=True, slots=True)
class Destination:
    """A destination script as the book knows it: whose wallet it is, and whether it was paid before."""

    script_pubkey: bytes
    owner: Account | None
    wallet: str | None
    used: bool


def destination(conn: Connection, script_pubkey: bytes, wallets: Collection[Wallet]) -> Destination:
    owners = facts.script_owners(conn, [script_pubkey])
    name = owners.get(script_pubkey)
    if name is None:
        return Destination(script_pubkey, None, None, False)
    owner = next((w.owner for w in wallets if w.name == name), None)
    used = script_pubkey in set(facts.used_scripts(conn, [name]))
    return Destination(script_pubkey, owner, name, used)


def block_hash_at(conn: Connection, height: int) -> bytes | None:
    found = facts.synced_block(conn, height)
    return None if found is None else found[0]
