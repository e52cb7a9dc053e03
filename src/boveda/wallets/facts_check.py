"""`facts verify` and `facts repair`: the stored chain facts against a rescan of the chain.

The seal (`facts_seal`) finds an edit made behind Bóveda's back; an insider who also recomputed
the seal is found here. The rescan is the one sync — the same Syncer, for the book's wallets, their
descriptors and gap limits — into a scratch SQLite book in a temporary folder, up to the book's
synced height; the two are then compared block by block. A repair copies the rescan's facts over
the stored ones in one transaction, so an interrupted repair leaves the book as it was.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.book.schema import wallets as wallets_table
from boveda.book.store import Store
from boveda.chain.source import ChainSource
from boveda.errors import WalletError
from boveda.money import format_btc
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import WalletDescriptor, parse_descriptor
from boveda.wallets.facts_seal import (
    BlockFacts,
    iter_block_facts,
    script_rows,
    settings_rows,
    txid_text,
    wallet_sync_rows,
)
from boveda.wallets.sync import Syncer, derive_wallet_scripts
from boveda.wallets.watch import DEFAULT_GAP_LIMIT

_SHOWN = 5  # differences spelled out per block or table; the rest are counted
_COMPARED_SETTINGS = ("genesis", "network")


@dataclass(frozen=True, slots=True)
class FactsDifference:
    table: str  # chain_blocks (a block's facts: its row, txos, chain_txs), wallet_scripts, wallet_sync, chain_settings
    height: int | None
    details: tuple[str, ...]

    @property
    def message(self) -> str:
        where = f"block {self.height}" if self.height is not None else f"table {self.table}"
        return f"{where}: " + "; ".join(self.details)


@dataclass(frozen=True, slots=True)
class FactsCheck:
    height: int
    block_hash_hex: str
    blocks_compared: int
    differences: tuple[FactsDifference, ...]
    blocks_differing: int

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def first_block(self) -> int | None:
        return next((d.height for d in self.differences if d.height is not None), None)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "height": self.height, "block_hash": self.block_hash_hex,
                "blocks_compared": self.blocks_compared, "blocks_differing": self.blocks_differing,
                "first_differing_block": self.first_block,
                "differences": [{"table": d.table, "height": d.height, "details": list(d.details)}
                                for d in self.differences]}


@contextlib.contextmanager
def rescanned(store: Store, source: ChainSource, network: Network, *, beyond_gap: bool = False,
              on_block: Callable[[int, int], None] | None = None) -> Iterator[tuple[Store, int]]:
    """A scratch book holding the book's wallets synced from `source` to the book's synced height."""
    with store.read() as conn:
        wallets = [tuple(r) for r in conn.execute(sa.select(wallets_table.c.name, wallets_table.c.descriptor,
                                                             wallets_table.c.owner, wallets_table.c.birth_height))]
        synced = {name: (gap, height) for name, gap, height in wallet_sync_rows(conn)}
        top = facts.top_height(conn)
    if top is None or not wallets:
        raise WalletError("nothing has been synced yet: run boveda sync first")
    behind = [(name, synced.get(name, (None, None))[1]) for name, *_ in wallets if synced.get(name, (None, None))[1] != top]
    if behind:
        name, height = behind[0]
        at = "never synced" if height is None else f"synced to height {height}"
        raise WalletError(f"wallet {name!r} is {at}, the book's facts reach height {top}: run boveda sync first, so "
                          "that every wallet stands at one height")
    tip = source.tip().height
    if tip < top:
        raise WalletError(f"the chain read ends at height {tip}, below the book's synced height {top}: point at the "
                          "node the book was synced from, once it has caught up")
    with tempfile.TemporaryDirectory(prefix="boveda-rescan-") as folder:
        scratch = Store(str(Path(folder) / "rescan.db"), create=True)
        try:
            scratch.upgrade()
            with scratch.write() as (conn, _head):
                conn.execute(wallets_table.insert(), [{"name": n, "descriptor": d, "owner": o, "birth_height": b}
                                                      for n, d, o, b in wallets])
                for name, descriptor, _owner, _birth in wallets:
                    derive_wallet_scripts(conn, name, descriptor, network, synced[name][0] or DEFAULT_GAP_LIMIT)
            Syncer(scratch, network=network, beyond_gap=beyond_gap, keep_watch_set=False).sync_to_tip(
                source, stop_height=top,
                on_block=(lambda block, _tip: on_block(block.height, top)) if on_block else None)
            yield scratch, top
        finally:
            scratch.close()


def compare(store: Store, rescan: Store, top: int, network: Network) -> FactsCheck:
    """The stored facts against the rescan's: the first differing block spelled out, then each table."""
    differences: list[FactsDifference] = []
    differing = compared = 0
    with store.read() as stored, rescan.read() as chain:
        block_hash = facts.synced_block(chain, top)
        for mine, theirs in _paired(iter_block_facts(stored), iter_block_facts(chain)):
            compared += 1
            if mine != theirs:
                differing += 1
                if differing == 1:
                    differences.append(FactsDifference("chain_blocks", (mine or theirs).height,
                                                       tuple(_block_details(mine, theirs))))
        derived = set(script_rows(chain))
        # A reorganisation leaves the scripts derived for a dropped block's payments (watched, harmless):
        # a stored script the rescan did not reach counts only if the wallet's descriptor does not derive it.
        extra = _underived(stored, network, set(script_rows(stored)) - derived)
        for table, mine, theirs in (("wallet_scripts", extra | (derived & set(script_rows(stored))), derived),
                                    ("wallet_sync", set(wallet_sync_rows(stored)), set(wallet_sync_rows(chain)))):
            details = _row_details(mine, theirs)
            if details:
                differences.append(FactsDifference(table, None, details))
        settings = {k: v for k, v in settings_rows(stored) if k in _COMPARED_SETTINGS}
        expected = {k: v for k, v in settings_rows(chain) if k in _COMPARED_SETTINGS}
        if settings != expected:
            differences.append(FactsDifference("chain_settings", None, tuple(
                f"{key} is stored as {settings.get(key)!r}, the chain says {expected.get(key)!r}"
                for key in _COMPARED_SETTINGS if settings.get(key) != expected.get(key))))
    if differing > 1:
        first = differences[0]
        differences[0] = FactsDifference(first.table, first.height,
                                         first.details + (f"{differing - 1} later blocks differ too",))
    return FactsCheck(top, block_hash[0][::-1].hex() if block_hash else "", compared, tuple(differences), differing)


def repair(store: Store, rescan: Store) -> None:
    """Replaces the stored facts by the rescan's, in one transaction, and reseals them."""
    with rescan.read() as chain, store.write() as (conn, _head):
        facts.replace_facts(conn, chain)


def _paired(mine: Iterator[BlockFacts], theirs: Iterator[BlockFacts]) -> Iterator[tuple[BlockFacts | None, BlockFacts | None]]:
    """Both sides' blocks by height; None where one side has no block at that height."""
    a, b = next(mine, None), next(theirs, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.height < b.height):
            yield a, None
            a = next(mine, None)
        elif a is None or b.height < a.height:
            yield None, b
            b = next(theirs, None)
        else:
            yield a, b
            a, b = next(mine, None), next(theirs, None)


def _block_details(mine: BlockFacts | None, theirs: BlockFacts | None) -> list[str]:
    if mine is None:
        return ["the chain has this block, the stored facts do not"]
    if theirs is None:
        return ["the stored facts hold this block, the chain has no block the wallets need at this height"]
    details = []
    if (mine.block_hash, mine.time) != (theirs.block_hash, theirs.time):
        details.append(f"stored block {txid_text(mine.block_hash)} (time {mine.time}), the chain's "
                       f"{txid_text(theirs.block_hash)} (time {theirs.time})")
    for what, ours, chains, show in (("coin", mine.made, theirs.made, _coin), ("spend", mine.spent, theirs.spent, _spend),
                                     ("transaction", mine.txs, theirs.txs, _tx)):
        details += _differences(set(ours), set(chains), what, show, ("the chain says", "the chain's"),
                                f"{what} rows")
    return details


def _differences(stored: set[tuple], other: set[tuple], what: str, show, said: tuple[str, str],
                 rows_word: str) -> list[str]:
    """The rows only one side holds, a few of each spelled out (`said`: what the other side says, and whose);
    sorted by their text, so that a hand-edited row of another type still sorts."""
    only_stored, only_other = sorted(stored - other, key=repr), sorted(other - stored, key=repr)
    details = [f"stored {what} {show(row)} is not what {said[0]}" for row in only_stored[:_SHOWN]]
    details += [f"{said[1]} {what} {show(row)} is missing from the stored facts" for row in only_other[:_SHOWN]]
    hidden = max(0, len(only_stored) - _SHOWN) + max(0, len(only_other) - _SHOWN)
    return details + ([f"{hidden} more {rows_word} differ"] if hidden else [])


def _coin(row: tuple) -> str:
    txid, vout, wallet, _script, value = row
    return f"{txid_text(txid)}:{vout} of wallet {wallet!r} ({_btc(value)} BTC)"


def _spend(row: tuple) -> str:
    txid, vout, spent_txid = row
    return f"of {txid_text(txid)}:{vout} by {'nothing' if spent_txid is None else txid_text(spent_txid)}"


def _tx(row: tuple) -> str:
    txid, index, inputs, outputs, total = row
    return f"{txid_text(txid)} (#{index}, {inputs} in, {outputs} out, {_btc(total)} BTC)"


def _underived(conn, network: Network, rows: set[tuple]) -> set[tuple]:
    """Those of the stored script rows (wallet, branch, index, script) that their wallet does not derive."""
    descriptors = dict(conn.execute(sa.select(wallets_table.c.name, wallets_table.c.descriptor)).all())
    parsed: dict[str, WalletDescriptor] = {}
    wrong = set()
    for row in rows:
        wallet, branch, index, script = row
        if wallet not in parsed:
            parsed[wallet] = parse_descriptor(descriptors[wallet], network)
        derived = parsed[wallet].derive(Branch(branch), index, index + 1)
        if not derived or derived[0].script_pubkey != script:
            wrong.add(row)
    return wrong


def _btc(value: object) -> str:
    return format_btc(value) if isinstance(value, int) else repr(value)


def _row_details(stored: set[tuple], chain: set[tuple]) -> tuple[str, ...]:
    return tuple(_differences(stored, chain, "row", _shown, ("the rescan derives", "the rescan's"), "rows"))


def _shown(row: tuple) -> str:
    return "(" + ", ".join(v.hex() if isinstance(v, bytes) else repr(v) for v in row) + ")"
