"""The one module that reads and writes the chain facts `boveda sync` keeps for the book's wallets.

Tables (defined in `wallets/tables.py`): derived scripts, the wallets' coins (`txos`), the
transactions that touched them, the synced blocks and the chain settings. Every other layer
asks this module; none writes SQL on these tables. Each write reseals what it changed
(`facts_seal`), except the block facts, which the sync reseals once a chunk's rows are all in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.bitcoin.derivation import Branch
from boveda.book.schema import wallets as wallets_table
from boveda.chain.scanner import Credit, Debit, ScannedBlock
from boveda.errors import WalletError
from boveda.wallets import facts_seal
from boveda.wallets.facts_seal import seal_blocks
from boveda.wallets.tables import chain_blocks, chain_settings, chain_txs, txos, wallet_scripts, wallet_sync
from boveda.wallets.watch import DEFAULT_GAP_LIMIT, WatchedScript

_BRANCHES = tuple(Branch)  # by number, without an enum call per row



@dataclass(frozen=True, slots=True)
class WalletRow:
    """A registered wallet with where its sync stands."""

    name: str
    descriptor: str
    birth_height: int
    gap_limit: int
    synced_height: int | None

    @property
    def next_height(self) -> int:
        return self.birth_height if self.synced_height is None else self.synced_height + 1


@dataclass(frozen=True, slots=True)
class StoredCoin:
    """One output of a wallet as stored, with where it was made and spent."""

    txid: bytes
    vout: int
    wallet: str
    script_pubkey: bytes
    value_sat: int
    height: int
    spent_txid: bytes | None
    spent_height: int | None
    made_tx_index: int | None = None
    spent_tx_index: int | None = None
    branch: int | None = None
    index: int | None = None


def batches(items: Sequence, size: int = 5_000) -> Iterator[list]:
    """PostgreSQL takes at most 65,535 parameters a statement: long IN lists go in batches."""
    for at in range(0, len(items), size):
        yield list(items[at : at + size])


# -- settings -------------------------------------------------------------------------------


def setting(conn: Connection, key: str) -> str | None:
    return conn.execute(sa.select(chain_settings.c.value).where(chain_settings.c.key == key)).scalar()


def settings(conn: Connection) -> dict[str, str]:
    """Every chain setting (a handful), in one query."""
    return dict(conn.execute(sa.select(chain_settings.c.key, chain_settings.c.value)).all())


def put_setting(conn: Connection, key: str, value: str) -> None:
    if setting(conn, key) is None:
        conn.execute(chain_settings.insert().values(key=key, value=value))
    else:
        conn.execute(chain_settings.update().where(chain_settings.c.key == key).values(value=value))
    facts_seal.seal_settings(conn)


def as_cache(conn: Connection) -> None:
    """This transaction's commit need not wait for its log to reach the disk (PostgreSQL: ~4 ms a commit
    here). Chain facts are a cache the next sync rebuilds: a crash can lose the last transactions of
    them, whole, never half of one, and a later durable commit (an alert raised on them) flushes them
    first. SQLite's durable commit costs ~0.3 ms in WAL mode: left as the book sets it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


# -- wallets and their derived scripts -----------------------------------------------------


def wallet_rows(conn: Connection) -> list[WalletRow]:
    rows = conn.execute(
        sa.select(
            wallets_table.c.name, wallets_table.c.descriptor, wallets_table.c.birth_height,
            wallet_sync.c.gap_limit, wallet_sync.c.synced_height,
        ).select_from(wallets_table.outerjoin(wallet_sync, wallet_sync.c.wallet == wallets_table.c.name))
    ).all()
    return [WalletRow(r[0], r[1], r[2] or 0, r[3] or DEFAULT_GAP_LIMIT, r[4]) for r in rows]


def wallet_count(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(wallets_table)).scalar()


def start_wallet(conn: Connection, name: str, gap_limit: int) -> None:
    conn.execute(wallet_sync.insert().values(wallet=name, gap_limit=gap_limit, synced_height=None))
    facts_seal.seal_wallet_sync(conn)


def mark_synced(conn: Connection, names: Sequence[str], height: int) -> None:
    """The wallets are synced to `height` (a wallet without its row yet gets one, with the default gap limit)."""
    _run_many(conn, _insert(wallet_sync, "wallet", "gap_limit", "synced_height")
              + " ON CONFLICT (wallet) DO UPDATE SET synced_height = excluded.synced_height",
              [(name, DEFAULT_GAP_LIMIT, height) for name in dict.fromkeys(names)])
    facts_seal.seal_wallet_sync(conn)


def synced_heights(conn: Connection, names: Sequence[str]) -> dict[str, int | None]:
    return dict(conn.execute(
        sa.select(wallet_sync.c.wallet, wallet_sync.c.synced_height).where(wallet_sync.c.wallet.in_(list(names)))
    ).all())


def script_owners(conn: Connection, scripts: Sequence[bytes]) -> dict[bytes, str]:
    """The wallets that already hold any of `scripts`, by script."""
    found: dict[bytes, str] = {}
    for batch in batches(scripts):
        found.update((bytes(s), w) for s, w in conn.execute(
            sa.select(wallet_scripts.c.script_pubkey, wallet_scripts.c.wallet)
            .where(wallet_scripts.c.script_pubkey.in_(batch))))
    return found


def store_scripts(conn: Connection, scripts: Sequence[WatchedScript]) -> None:
    _insert_rows(conn, wallet_scripts, ("script_pubkey", "wallet", "branch", "idx"),
                 [(w.script_pubkey, w.wallet, int(w.branch), w.index) for w in scripts])
    if scripts:
        facts_seal.seal_scripts(conn, [(w.wallet, int(w.branch), w.index, w.script_pubkey) for w in scripts])


def derived_scripts(conn: Connection, names: Sequence[str], among: Iterable[bytes] | None = None
                    ) -> list[WatchedScript]:
    """The wallets' derived scripts (all of them, or those `among` given scripts)."""
    columns = (wallet_scripts.c.wallet, wallet_scripts.c.branch, wallet_scripts.c.idx, wallet_scripts.c.script_pubkey)
    query = sa.select(*columns).where(wallet_scripts.c.wallet.in_(list(names)))
    if among is None:
        rows = conn.execute(query).all()
        return [WatchedScript(wallet, _BRANCHES[branch], index, bytes(script)) for wallet, branch, index, script in rows]
    found = []
    for batch in batches(sorted(among)):
        found += [WatchedScript(r[0], _BRANCHES[r[1]], r[2], bytes(r[3]))
                  for r in conn.execute(query.where(wallet_scripts.c.script_pubkey.in_(batch)))]
    return found


def all_derived_scripts(conn: Connection) -> list[WatchedScript]:
    """Every derived script of every wallet (a sync's whole watch set: 100,000 rows, read at once through
    the driver's cursor; SQLAlchemy's result rows would double the time)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"SELECT wallet, branch, idx, script_pubkey FROM {wallet_scripts.name}")
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [WatchedScript(wallet, _BRANCHES[branch], index, bytes(script)) for wallet, branch, index, script in rows]


def derived_counts(conn: Connection, names: Sequence[str]) -> dict[tuple[str, Branch], int]:
    """How far each wallet's branches were derived: one index probe per branch, not a GROUP BY over every script."""
    def top(branch: Branch):
        return (sa.select(sa.func.max(wallet_scripts.c.idx))
                .where(wallet_scripts.c.wallet == wallets_table.c.name, wallet_scripts.c.branch == int(branch))
                .scalar_subquery())

    counts = {}
    for name, *tops in conn.execute(
        sa.select(wallets_table.c.name, *(top(branch) for branch in Branch)).where(wallets_table.c.name.in_(list(names)))
    ):
        counts.update({(name, branch): index + 1 for branch, index in zip(Branch, tops) if index is not None})
    return counts


def script_locations(conn: Connection, names: Sequence[str]) -> dict[bytes, tuple[str, int, int]]:
    """Each derived script of the wallets: (wallet, branch, index)."""
    return {w.script_pubkey: (w.wallet, int(w.branch), w.index) for w in derived_scripts(conn, names)}


# -- coins ----------------------------------------------------------------------------------


def unspent_coins(conn: Connection, names: Sequence[str], *, among_txids: Sequence[bytes] | None = None
                  ) -> list[Credit]:
    """The wallets' unspent coins (all, or those made by the given transactions): the scanner's seed."""
    query = (sa.select(txos.c.txid, txos.c.vout, txos.c.value_sat, txos.c.script_pubkey, txos.c.height)
             .where(txos.c.wallet.in_(list(names)), txos.c.spent_txid.is_(None)))
    if among_txids is None:
        return [Credit(bytes(r[0]), r[1], r[2], bytes(r[3]), r[4]) for r in conn.execute(query)]
    found = []
    for batch in batches(sorted(among_txids)):
        found += [Credit(bytes(r[0]), r[1], r[2], bytes(r[3]), r[4])
                  for r in conn.execute(query.where(txos.c.txid.in_(batch)))]
    return found


def used_scripts(conn: Connection, names: Sequence[str]) -> list[bytes]:
    return [bytes(s) for s in conn.execute(
        sa.select(txos.c.script_pubkey).where(txos.c.wallet.in_(list(names))).distinct()).scalars()]


def wallet_coins(conn: Connection, names: Sequence[str], *, made_by: int | None = None,
                 with_positions: bool = False, with_locations: bool = False) -> list[StoredCoin]:
    """The wallets' coins (made at or below `made_by`), optionally with their transactions' positions
    in their blocks and their scripts' derivation (branch, index)."""
    made, spending = chain_txs.alias("made"), chain_txs.alias("spending")
    columns = [txos.c.txid, txos.c.vout, txos.c.wallet, txos.c.script_pubkey, txos.c.value_sat, txos.c.height,
               txos.c.spent_txid, txos.c.spent_height]
    joined = txos
    if with_positions:
        columns += [made.c.tx_index, spending.c.tx_index]
        joined = joined.outerjoin(made, made.c.txid == txos.c.txid).outerjoin(spending, spending.c.txid == txos.c.spent_txid)
    if with_locations:
        columns += [wallet_scripts.c.branch, wallet_scripts.c.idx]
        joined = joined.outerjoin(wallet_scripts, wallet_scripts.c.script_pubkey == txos.c.script_pubkey)
    query = sa.select(*columns).select_from(joined).where(txos.c.wallet.in_(list(names)))
    if made_by is not None:
        query = query.where(txos.c.height <= made_by)
    coins = []
    for row in conn.execute(query):
        extra = list(row[8:])
        positions = (extra.pop(0), extra.pop(0)) if with_positions else (None, None)
        location = (extra.pop(0), extra.pop(0)) if with_locations else (None, None)
        coins.append(StoredCoin(bytes(row[0]), row[1], row[2], bytes(row[3]), row[4], row[5],
                                None if row[6] is None else bytes(row[6]), row[7], *positions, *location))
    return coins


def spent_txids(conn: Connection, names: Sequence[str], height: int) -> set[bytes]:
    """The transactions that spent the wallets' coins at or below `height`."""
    return {bytes(t) for t in conn.execute(
        sa.select(txos.c.spent_txid).where(txos.c.wallet.in_(list(names)), txos.c.spent_height <= height)).scalars()}


def store_events(conn: Connection, events: Iterable) -> tuple[int, int]:
    """Stores a scan's wallet events (credits as coins, debits as their spends): (credits, debits).

    A coin made and spent in the same batch is written once, spent; the others' spends are updates."""
    coins: dict[tuple[bytes, int], list] = {}
    spends: list[Debit] = []
    for wallet_event in events:
        event = wallet_event.event
        if type(event) is Credit:
            coins[(event.txid, event.vout)] = [event.txid, event.vout, wallet_event.wallet, event.script_pubkey,
                                               event.value_sat, event.height, None, None]
        else:
            spends.append(event)
    updates = []
    for debit in spends:
        coin = coins.get((debit.outpoint.txid, debit.outpoint.vout))
        if coin is None:
            updates.append((debit.spending_txid, debit.height, debit.outpoint.txid, debit.outpoint.vout))
        else:
            coin[6:] = [debit.spending_txid, debit.height]
    _insert_rows(conn, txos, ("txid", "vout", "wallet", "script_pubkey", "value_sat", "height", "spent_txid",
                              "spent_height"), [tuple(coin) for coin in coins.values()])
    _run_many(conn, "UPDATE txos SET spent_txid = ?, spent_height = ? WHERE txid = ? AND vout = ?", updates)
    return len(coins), len(spends)


# An initial sync writes tens of thousands of rows a chunk: through the driver's executemany, as plain
# tuples, that costs a third of SQLAlchemy's per-row parameter handling (measured on SQLite).


def _insert(table: sa.Table, *columns: str, skip_existing: bool = False) -> str:
    """INSERT of the named columns ('?' placeholders); `skip_existing` keeps a row whose key is there."""
    for column in columns:
        assert column in table.c, column
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return sql + " ON CONFLICT DO NOTHING" if skip_existing else sql


def _insert_rows(conn: Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple]) -> None:
    """New rows (none of them there yet): PostgreSQL takes them by COPY, a third of the time of a
    pipelined executemany (40,000 coins: 0.11 s against 0.38 s, measured here)."""
    if not rows or conn.dialect.name != "postgresql":
        _run_many(conn, _insert(table, *columns), rows)
        return
    with conn.connection.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _run_many(conn: Connection, sql: str, rows: Sequence[tuple]) -> None:
    """One statement, many parameter sets; `sql` is written with '?' placeholders."""
    if rows:
        conn.exec_driver_sql(sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s"), list(rows))


# -- transactions and blocks -----------------------------------------------------------------


def store_tx_facts(conn: Connection, facts: Iterable) -> None:
    """Stores the transactions' facts; one already stored (another wallet's, or found again) is kept."""
    _run_many(conn, _insert(chain_txs, "txid", "height", "tx_index", "input_count", "output_count",
                            "output_total_sat", skip_existing=True),
              [(f.txid, f.height, f.tx_index, f.input_count, f.output_count, f.output_total_sat) for f in facts])


def store_blocks(conn: Connection, blocks: Sequence[ScannedBlock]) -> None:
    """Stores the synced blocks. One already stored is the same block: a sync first drops every stored
    block that left the active chain (`drop_above`)."""
    _run_many(conn, _insert(chain_blocks, "height", "hash", "time", skip_existing=True),
              [(b.height, b.hash, b.time) for b in blocks])


def stored_blocks_from_top(conn: Connection) -> Iterator[tuple[int, bytes]]:
    """The synced blocks (height, hash), highest first: where a reorganisation is looked for.

    Read a page at a time: the caller stops at the first block still in the chain, nearly always the
    top one, and PostgreSQL's driver would otherwise fetch every synced block first."""
    below = None
    page = 16
    while True:
        query = sa.select(chain_blocks.c.height, chain_blocks.c.hash).order_by(chain_blocks.c.height.desc()).limit(page)
        rows = conn.execute(query if below is None else query.where(chain_blocks.c.height < below)).all()
        for height, block_hash in rows:
            yield height, bytes(block_hash)
        if len(rows) < page:
            return
        below, page = rows[-1][0], min(page * 8, 10_000)


def drop_above(conn: Connection, fork: int) -> None:
    """Forgets every fact of the blocks above `fork` (a reorganisation; -1 forgets everything)."""
    conn.execute(txos.delete().where(txos.c.height > fork))
    conn.execute(txos.update().where(txos.c.spent_height > fork).values(spent_txid=None, spent_height=None))
    conn.execute(chain_txs.delete().where(chain_txs.c.height > fork))
    conn.execute(chain_blocks.delete().where(chain_blocks.c.height > fork))
    conn.execute(
        wallet_sync.update().where(wallet_sync.c.synced_height > fork)
        .values(synced_height=None if fork < 0 else fork)
    )
    seal_blocks(conn, fork + 1)
    facts_seal.seal_wallet_sync(conn)


def top_height(conn: Connection) -> int | None:
    return conn.execute(sa.select(sa.func.max(chain_blocks.c.height))).scalar()


def synced_tip(conn: Connection) -> tuple[int, bytes, int]:
    """The highest synced block: (height, hash, time)."""
    row = conn.execute(
        sa.select(chain_blocks.c.height, chain_blocks.c.hash, chain_blocks.c.time).order_by(chain_blocks.c.height.desc())
    ).first()
    if row is None:
        raise WalletError("nothing has been synced yet: run boveda sync first")
    return row[0], bytes(row[1]), row[2]


def synced_block(conn: Connection, height: int) -> tuple[bytes, int] | None:
    """The hash and time of the synced block at `height`, or None."""
    row = conn.execute(sa.select(chain_blocks.c.hash, chain_blocks.c.time).where(chain_blocks.c.height == height)).first()
    return None if row is None else (bytes(row[0]), row[1])


def wallet_owners(conn: Connection) -> dict[str, str]:
    """Every registered wallet's owner account, by wallet name."""
    return dict(conn.execute(sa.select(wallets_table.c.name, wallets_table.c.owner)).all())


def block_times_to(conn: Connection, height: int) -> dict[int, int]:
    """The header time of every synced block up to `height`, by height."""
    return dict(conn.execute(
        sa.select(chain_blocks.c.height, chain_blocks.c.time).where(chain_blocks.c.height <= height)).all())


@dataclass(frozen=True, slots=True)
class StoredTx:
    """A transaction that touched a tracked wallet, as the scan counted it."""

    txid: bytes
    height: int
    tx_index: int
    input_count: int
    output_count: int
    output_total_sat: int


def tx_facts_to(conn: Connection, height: int) -> list[StoredTx]:
    """The stored transactions up to `height`, in chain order."""
    return [StoredTx(bytes(r[0]), *r[1:]) for r in conn.execute(
        sa.select(chain_txs.c.txid, chain_txs.c.height, chain_txs.c.tx_index, chain_txs.c.input_count,
                  chain_txs.c.output_count, chain_txs.c.output_total_sat)
        .where(chain_txs.c.height <= height).order_by(chain_txs.c.height, chain_txs.c.tx_index))]


def coins_to(conn: Connection, height: int) -> list[StoredCoin]:
    """Every tracked wallet's coins made at or below `height`."""
    return [StoredCoin(bytes(r[0]), r[1], r[2], bytes(r[3]), r[4], r[5], None if r[6] is None else bytes(r[6]), r[7])
            for r in conn.execute(
                sa.select(txos.c.txid, txos.c.vout, txos.c.wallet, txos.c.script_pubkey, txos.c.value_sat,
                          txos.c.height, txos.c.spent_txid, txos.c.spent_height).where(txos.c.height <= height))]


def last_block_by(conn: Connection, time: int) -> tuple[int, bytes, int] | None:
    """The highest synced block whose header time is at or before `time` (unix seconds): (height, hash, time)."""
    row = conn.execute(sa.select(chain_blocks.c.height, chain_blocks.c.hash, chain_blocks.c.time)
                       .where(chain_blocks.c.time <= time).order_by(chain_blocks.c.height.desc()).limit(1)).first()
    return None if row is None else (row[0], bytes(row[1]), row[2])


# -- rebuilding (facts repair) -----------------------------------------------------------------

_REBUILT = ((wallet_scripts, ("script_pubkey", "wallet", "branch", "idx")),
            (wallet_sync, ("wallet", "gap_limit", "synced_height")),
            (chain_blocks, ("height", "hash", "time")),
            (txos, ("txid", "vout", "wallet", "script_pubkey", "value_sat", "height", "spent_txid", "spent_height")),
            (chain_txs, ("txid", "height", "tx_index", "input_count", "output_count", "output_total_sat")))


def replace_facts(conn: Connection, rescan: Connection) -> None:
    """Replaces every stored chain fact by those of `rescan` (another book's connection), and reseals."""
    for table, columns in _REBUILT:
        conn.execute(table.delete())
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in rescan.execute(sa.select(*(table.c[c] for c in columns)))]
        _insert_rows(conn, table, columns, rows)
    for key in ("genesis", "synced", "network"):
        value = setting(rescan, key)
        if value is not None:
            put_setting(conn, key, value)
    facts_seal.seal_everything(conn)
