"""What the follower asks the chain facts after each block: the watched unspent coins, the
wallets a range of blocks touched, the coins each block moved, which txids confirmed.

Beside `facts_store` (the module of every other query on these tables), kept apart to keep each short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.wallets.facts_store import batches
from boveda.wallets.tables import chain_txs, txos


@dataclass(frozen=True, slots=True)
class WatchedCoin:
    """An unspent coin of a tracked wallet, looked up by its outpoint (the mempool watch)."""

    txid: bytes
    vout: int
    wallet: str
    value_sat: int


def unspent_outpoints(conn: Connection) -> dict[tuple[bytes, int], WatchedCoin]:
    """Every tracked wallet's unspent coin, by (txid, vout)."""
    return {(bytes(r[0]), r[1]): WatchedCoin(bytes(r[0]), r[1], r[2], r[3]) for r in conn.execute(
        sa.select(txos.c.txid, txos.c.vout, txos.c.wallet, txos.c.value_sat).where(txos.c.spent_txid.is_(None)))}


def wallets_touched(conn: Connection, start: int, stop: int) -> set[str]:
    """The wallets with a coin made or spent in blocks start..stop."""
    made = sa.select(txos.c.wallet).where(txos.c.height.between(start, stop))
    spent = sa.select(txos.c.wallet).where(txos.c.spent_height.between(start, stop))
    return set(conn.execute(sa.union(made, spent)).scalars())


def coins_moved(conn: Connection, start: int, stop: int) -> dict[int, tuple[int, int]]:
    """Per block start..stop that moved a tracked coin: (coins received, coins spent)."""
    moved: dict[int, list[int]] = {}
    for height, count in conn.execute(sa.select(txos.c.height, sa.func.count()).where(
            txos.c.height.between(start, stop)).group_by(txos.c.height)):
        moved.setdefault(height, [0, 0])[0] = count
    for height, count in conn.execute(sa.select(txos.c.spent_height, sa.func.count()).where(
            txos.c.spent_height.between(start, stop)).group_by(txos.c.spent_height)):
        moved.setdefault(height, [0, 0])[1] = count
    return {height: (counts[0], counts[1]) for height, counts in moved.items()}


def confirmed_txids(conn: Connection, txids: Sequence[bytes]) -> set[bytes]:
    """Those of `txids` that the stored facts hold as confirmed transactions of tracked wallets."""
    found: set[bytes] = set()
    for batch in batches(list(txids)):
        found.update(bytes(t) for t in conn.execute(
            sa.select(chain_txs.c.txid).where(chain_txs.c.txid.in_(batch))).scalars())
    return found
