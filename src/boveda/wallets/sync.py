"""`boveda sync`: the book's wallets brought up to the chain's tip, incrementally and reorg-safe.

Each wallet is scanned from its birth height (or the block after its last sync) to the tip.
The work is committed in chunks, each one database transaction holding its facts and the
new synced height, so an interrupted sync resumes where it stopped and never half-applies a
chunk. A stored block hash that is no longer in the active chain means a reorganisation: the
facts above the fork point are dropped and those blocks scanned again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.bitcoin.block import Block
from boveda.bitcoin.network import Network
from boveda.book.schema import wallets as wallets_table
from boveda.book.store import Store
from boveda.chain.scanner import Credit, Debit, ScannedBlock
from boveda.chain.source import ChainSource
from boveda.errors import BovedaError
from boveda.wallets.descriptors import Branch, WalletDescriptor, address_of, parse_descriptor
from boveda.wallets.tables import chain_blocks, chain_settings, chain_txs, txos, wallet_scripts, wallet_sync
from boveda.wallets.watch import DEFAULT_GAP_LIMIT, WatchedScript, WatchSet, scan_wallets

CHUNK_BLOCKS = 500
# Ranges this short look up what their blocks touch by key instead of loading every derived script.
LOOKUP_RANGE_BLOCKS = 16


class SyncError(BovedaError):
    """The book's wallets cannot be synced as asked."""


@dataclass(frozen=True, slots=True)
class SyncReport:
    tip_height: int
    tip_hash_hex: str
    blocks_scanned: int
    credits: int
    debits: int
    rolled_back_to: int | None  # the fork point of a reorganisation, if one was followed
    wallets: int
    # Blocks before a chunk walked again for scripts derived in it (an address may have been paid
    # out of order, before its wallet's gap reached it): the cost of deriving as addresses get used.
    earlier_blocks_searched: int = 0


@dataclass(frozen=True, slots=True)
class _WalletRow:
    name: str
    descriptor: str
    birth_height: int
    gap_limit: int
    synced_height: int | None

    @property
    def next_height(self) -> int:
        return self.birth_height if self.synced_height is None else self.synced_height + 1


# -- settings ---------------------------------------------------------------------------


def chain_setting(conn: Connection, key: str) -> str | None:
    return conn.execute(sa.select(chain_settings.c.value).where(chain_settings.c.key == key)).scalar()


def parse_network(name: str) -> Network:
    try:
        return Network.parse(name)
    except ValueError as exc:
        raise SyncError(str(exc)) from None


def stored_network(store: Store) -> Network | None:
    """The network this book's wallets live on, once a wallet was added or a sync ran."""
    with store.read() as conn:
        value = chain_setting(conn, "network")
    return Network(value) if value else None


def chain_to_sync(store: Store, datadir: str | None, network: Network | None) -> tuple[str, Network]:
    """The datadir and network to sync from: as given, else as remembered. Writes nothing.

    A book holds one network's wallets: another network is refused once the book has wallets
    or was synced (their descriptors and addresses belong to the first).
    """
    with store.read() as conn:
        stored_datadir = chain_setting(conn, "datadir")
        stored = chain_setting(conn, "network")
        committed = chain_setting(conn, "synced") == "yes" or conn.execute(
            sa.select(sa.func.count()).select_from(wallets_table)).scalar()
    datadir = datadir or stored_datadir
    if datadir is None:
        raise SyncError("no datadir known for this book: pass --datadir (it is remembered afterwards)")
    network = network or (Network(stored) if stored else Network.MAIN)
    if stored and network.value != stored and committed:
        raise SyncError(f"this book's wallets are on {stored}, not {network.value}: use another book for another network")
    return datadir, network


def remember_chain(store: Store, datadir: str, network: Network) -> None:
    """Keeps the datadir and network for the next sync (call once the datadir was opened)."""
    with store.write() as (conn, _head):
        _put(conn, "datadir", datadir)
        _put(conn, "network", network.value)


def _put(conn: Connection, key: str, value: str) -> None:
    if chain_setting(conn, key) is None:
        conn.execute(chain_settings.insert().values(key=key, value=value))
    else:
        conn.execute(chain_settings.update().where(chain_settings.c.key == key).values(value=value))


# -- registration -----------------------------------------------------------------------


def derive_wallet_scripts(conn: Connection, name: str, descriptor_text: str, network: Network, gap_limit: int) -> int:
    """Derives a newly registered wallet's first `gap_limit` scripts per branch into the store."""
    if gap_limit < 1 or gap_limit > 10_000:
        raise SyncError(f"gap limit {gap_limit} is out of range: use 1..10000")
    stored = chain_setting(conn, "network")
    if stored is not None and stored != network.value:
        raise SyncError(f"this book's wallets are on {stored}, not {network.value}: use another book for another network")
    descriptor = parse_descriptor(descriptor_text, network)
    watch = WatchSet({name: descriptor}, {name: gap_limit})
    taken = _owners(conn, [w.script_pubkey for w in watch.newly_derived])
    if taken:
        script, owner = next(iter(taken.items()))
        raise SyncError(
            f"wallet {name!r} would watch {address_of(script, network) or 'script ' + script.hex()}, already wallet {owner!r}'s: "
            "a script belongs to one wallet, or its coins would count twice"
        )
    _store_scripts(conn, watch.newly_derived)
    conn.execute(wallet_sync.insert().values(wallet=name, gap_limit=gap_limit, synced_height=None))
    if stored is None:
        _put(conn, "network", network.value)
    return len(watch.newly_derived)


def _owners(conn: Connection, scripts: Sequence[bytes]) -> dict[bytes, str]:
    """The wallets that already hold any of `scripts`, by script."""
    found: dict[bytes, str] = {}
    for batch in _batches(scripts):
        found.update((bytes(s), w) for s, w in conn.execute(
            sa.select(wallet_scripts.c.script_pubkey, wallet_scripts.c.wallet)
            .where(wallet_scripts.c.script_pubkey.in_(batch))))
    return found


def _store_scripts(conn: Connection, scripts: Sequence[WatchedScript]) -> None:
    if scripts:
        conn.execute(
            wallet_scripts.insert(),
            [{"script_pubkey": w.script_pubkey, "wallet": w.wallet, "branch": int(w.branch), "idx": w.index}
             for w in scripts],
        )


# -- the sync ---------------------------------------------------------------------------


def sync(
    store: Store,
    source: ChainSource,
    *,
    network: Network,
    on_block: Callable[[ScannedBlock, int], None] | None = None,
    chunk_blocks: int = CHUNK_BLOCKS,
    beyond_gap: bool = False,
) -> SyncReport:
    """Brings every wallet of the book to `source`'s tip. `on_block(block, tip_height)` reports progress.

    Scripts are watched a gap limit past the last used one (BIP-44): a wallet that kept to its gap
    limit is found whole in one pass. `beyond_gap` also searches the blocks before each chunk for
    the scripts derived in it, for wallets that paid addresses beyond their gap limit — at the cost
    of reading those blocks again whenever a new address is used.
    """
    tip = source.tip()
    with store.write() as (conn, _head):
        rolled_back_to = _follow_reorg(conn, source, tip.height)
        _put(conn, "synced", "yes")
    credits = debits = scanned = searched = 0
    while True:
        with store.read() as conn:
            wallets = _wallet_rows(conn)
        behind = [w for w in wallets if w.next_height <= tip.height]
        if not behind:
            break
        start = min(w.next_height for w in behind)
        active = [w for w in behind if w.next_height == start]
        later = [w.next_height for w in behind if w.next_height > start]
        stop = min([tip.height, start + chunk_blocks - 1] + [h - 1 for h in later])
        counts = _sync_chunk(store, source, network, active, start, stop,
                             (lambda block: on_block(block, tip.height)) if on_block else None, beyond_gap)
        credits += counts[0]
        debits += counts[1]
        searched += counts[2]
        scanned += stop - start + 1
    with store.read() as conn:
        wallet_count = len(_wallet_rows(conn))
    return SyncReport(tip.height, tip.hash_hex, scanned, credits, debits, rolled_back_to, wallet_count, searched)


def _wallet_rows(conn: Connection) -> list[_WalletRow]:
    rows = conn.execute(
        sa.select(
            wallets_table.c.name, wallets_table.c.descriptor, wallets_table.c.birth_height,
            wallet_sync.c.gap_limit, wallet_sync.c.synced_height,
        ).select_from(wallets_table.outerjoin(wallet_sync, wallet_sync.c.wallet == wallets_table.c.name))
    ).all()
    return [_WalletRow(r[0], r[1], r[2] or 0, r[3] or DEFAULT_GAP_LIMIT, r[4]) for r in rows]


def _follow_reorg(conn: Connection, source: ChainSource, tip_height: int) -> int | None:
    """Drops the facts of blocks no longer in the active chain; returns the fork height, if any."""
    stored = conn.execute(sa.select(chain_blocks.c.height, chain_blocks.c.hash).order_by(chain_blocks.c.height.desc()))
    highest = None
    fork = None
    for height, block_hash in stored:
        highest = height if highest is None else highest
        if height <= tip_height and source.hash_at(height) == bytes(block_hash):
            fork = height
            break
    if highest is None or fork == highest:
        return None
    fork = -1 if fork is None else fork
    conn.execute(txos.delete().where(txos.c.height > fork))
    conn.execute(txos.update().where(txos.c.spent_height > fork).values(spent_txid=None, spent_height=None))
    conn.execute(chain_txs.delete().where(chain_txs.c.height > fork))
    conn.execute(chain_blocks.delete().where(chain_blocks.c.height > fork))
    conn.execute(
        wallet_sync.update().where(wallet_sync.c.synced_height > fork)
        .values(synced_height=None if fork < 0 else fork)
    )
    return fork


def _sync_chunk(
    store: Store,
    source: ChainSource,
    network: Network,
    wallets: list[_WalletRow],
    start: int,
    stop: int,
    on_block: Callable[[ScannedBlock], None] | None,
    beyond_gap: bool = False,
) -> tuple[int, int, int]:
    names = [w.name for w in wallets]
    with store.read() as conn:
        if stop - start + 1 <= LOOKUP_RANGE_BLOCKS:
            derived, unspent, used, derived_counts = _what_the_blocks_touch(conn, source, names, start, stop)
        else:
            derived, unspent, used, derived_counts = _everything_watched(conn, names)
    descriptors = _Descriptors({w.name: w.descriptor for w in wallets}, network)
    watch = WatchSet(descriptors, {w.name: w.gap_limit for w in wallets}, derived=derived, used=used,
                     derived_counts=derived_counts)
    result = scan_wallets(source, watch, start, stop, unspent=unspent, on_block=on_block)
    # With beyond_gap, scripts derived in this chunk may have been paid before it (an address used
    # beyond the gap limit): find their earlier coins, then follow them through this chunk.
    birth = min(w.birth_height for w in wallets)
    stored = known_scripts(derived)
    searched: set[bytes] = set()
    earlier_blocks = 0
    fresh = {w.script_pubkey for w in watch.newly_derived} - stored if beyond_gap else set()
    while fresh and start > birth:
        earlier_blocks += start - birth
        mark = len(watch.newly_derived)
        earlier = scan_wallets(source, watch, birth, start - 1, only=frozenset(fresh))
        spent = {e.event.outpoint for e in earlier.events if isinstance(e.event, Debit)}
        seed = [e.event for e in earlier.events if isinstance(e.event, Credit) and e.event.outpoint not in spent]
        later = scan_wallets(source, watch, start, stop, only=frozenset(fresh), unspent=seed)
        result.merge(earlier)
        result.merge(later)
        searched |= fresh
        fresh = {w.script_pubkey for w in watch.newly_derived[mark:]} - searched
    with store.write() as (conn, _head):
        new_scripts = [w for w in watch.newly_derived if w.script_pubkey not in stored]
        # A script another wallet already holds stays that wallet's (registration refuses overlaps;
        # two descriptors can still meet further along their ranges).
        taken = _owners(conn, [w.script_pubkey for w in new_scripts])
        _store_scripts(conn, [w for w in new_scripts if w.script_pubkey not in taken])
        credits, debits = _store_events(conn, result.events)
        _store_facts(conn, result.facts.values())
        _store_blocks(conn, result.blocks)
        conn.execute(wallet_sync.update().where(wallet_sync.c.wallet.in_(names)).values(synced_height=stop))
        missing = set(names) - set(conn.execute(sa.select(wallet_sync.c.wallet).where(wallet_sync.c.wallet.in_(names))).scalars())
        for name in missing:
            conn.execute(wallet_sync.insert().values(wallet=name, gap_limit=DEFAULT_GAP_LIMIT, synced_height=stop))
    return credits, debits, earlier_blocks


# What a chunk needs from the store: the derived scripts to watch, the wallets' unspent coins (the
# scanner's seed), the scripts already used, and how far each branch was derived.
_BRANCHES = tuple(Branch)  # by number, without an enum call per row
_Watched = tuple[list[WatchedScript], list[Credit], list[bytes], dict[tuple[str, Branch], int]]


def _everything_watched(conn: Connection, names: list[str]) -> _Watched:
    """For a long range: every derived script and every unspent coin of the wallets."""
    derived = [
        WatchedScript(r[0], _BRANCHES[r[1]], r[2], bytes(r[3]))
        for r in conn.execute(
            sa.select(wallet_scripts.c.wallet, wallet_scripts.c.branch, wallet_scripts.c.idx,
                      wallet_scripts.c.script_pubkey).where(wallet_scripts.c.wallet.in_(names))
        )
    ]
    rows = conn.execute(
        sa.select(txos.c.txid, txos.c.vout, txos.c.value_sat, txos.c.script_pubkey, txos.c.height)
        .where(txos.c.wallet.in_(names), txos.c.spent_txid.is_(None))
    ).all()
    used = conn.execute(sa.select(txos.c.script_pubkey).where(txos.c.wallet.in_(names)).distinct()).scalars().all()
    unspent = [Credit(bytes(r[0]), r[1], r[2], bytes(r[3]), r[4]) for r in rows]
    return derived, unspent, [bytes(s) for s in used], {}


def _what_the_blocks_touch(conn: Connection, source: ChainSource, names: list[str], start: int, stop: int) -> _Watched:
    """For a few blocks (an incremental sync): only the derived scripts their outputs pay and the
    coins their inputs spend, looked up by key, instead of loading every derived script.

    Nothing else of the store can meet these blocks; scripts derived during the scan are watched
    as the scan derives them. `used` can stay empty: every stored branch was already derived
    `gap_limit` scripts past its last used script when that script was found.
    """
    paid, spending = _outputs_and_inputs(source, start, stop)
    unspent: list[Credit] = []
    for batch in _batches(sorted({outpoint[:32] for outpoint in spending})):
        for txid, vout, value_sat, script, height in conn.execute(
            sa.select(txos.c.txid, txos.c.vout, txos.c.value_sat, txos.c.script_pubkey, txos.c.height)
            .where(txos.c.txid.in_(batch), txos.c.wallet.in_(names), txos.c.spent_txid.is_(None))
        ):
            if bytes(txid) + vout.to_bytes(4, "little") in spending:
                unspent.append(Credit(bytes(txid), vout, value_sat, bytes(script), height))
    # The coins' own scripts too: a walk over parsed blocks finds debits by the spent script.
    wanted = paid | {c.script_pubkey for c in unspent}
    derived = []
    for batch in _batches(sorted(wanted)):
        derived += [
            WatchedScript(r[0], _BRANCHES[r[1]], r[2], bytes(r[3]))
            for r in conn.execute(
                sa.select(wallet_scripts.c.wallet, wallet_scripts.c.branch, wallet_scripts.c.idx,
                          wallet_scripts.c.script_pubkey)
                .where(wallet_scripts.c.script_pubkey.in_(batch), wallet_scripts.c.wallet.in_(names))
            )
        ]
    # The top index of each branch, one index probe each (a GROUP BY would read every derived script).
    def top(branch: Branch):
        return (sa.select(sa.func.max(wallet_scripts.c.idx))
                .where(wallet_scripts.c.wallet == wallets_table.c.name, wallet_scripts.c.branch == int(branch))
                .scalar_subquery())

    counts = {}
    for name, *tops in conn.execute(
        sa.select(wallets_table.c.name, *(top(branch) for branch in Branch)).where(wallets_table.c.name.in_(names))
    ):
        counts.update({(name, branch): index + 1 for branch, index in zip(Branch, tops) if index is not None})
    return derived, unspent, [], counts


def _outputs_and_inputs(source: ChainSource, start: int, stop: int) -> tuple[set[bytes], set[bytes]]:
    """Every output script and every spent outpoint (txid + LE32 vout) in blocks start..stop."""
    raw_blocks = getattr(source, "raw_blocks", None)
    if raw_blocks is not None:
        blocks = (Block.parse(raw.block) for raw in raw_blocks(start, stop, with_undo=False))
    else:
        blocks = (spent_block.block for spent_block in source.blocks(start, stop))
    paid: set[bytes] = set()
    spending: set[bytes] = set()
    for block in blocks:
        for tx in block.transactions:
            paid.update(out.script_pubkey for out in tx.outputs)
            spending.update(txin.prevout.serialize() for txin in tx.inputs)
    return paid, spending


def _batches(items: Sequence, size: int = 5_000) -> Iterator[list]:
    for at in range(0, len(items), size):
        yield list(items[at : at + size])


class _Descriptors(Mapping[str, WalletDescriptor]):
    """The chunk's wallets' descriptors, each parsed the first time a script must be derived from it."""

    def __init__(self, texts: dict[str, str], network: Network) -> None:
        self._texts = texts
        self._network = network
        self._parsed: dict[str, WalletDescriptor] = {}

    def __getitem__(self, name: str) -> WalletDescriptor:
        if name not in self._parsed:
            self._parsed[name] = parse_descriptor(self._texts[name], self._network)
        return self._parsed[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts)

    def __len__(self) -> int:
        return len(self._texts)


def known_scripts(derived: Sequence[WatchedScript]) -> set[bytes]:
    return {w.script_pubkey for w in derived}


def _store_events(conn: Connection, events) -> tuple[int, int]:
    credits = [e for e in events if isinstance(e.event, Credit)]
    debits = [e for e in events if isinstance(e.event, Debit)]
    if credits:
        conn.execute(
            txos.insert(),
            [{"txid": c.event.txid, "vout": c.event.vout, "wallet": c.wallet, "script_pubkey": c.event.script_pubkey,
              "value_sat": c.event.value_sat, "height": c.event.height, "spent_txid": None, "spent_height": None}
             for c in credits],
        )
    if debits:
        # One statement, many parameter sets: a chunk of an initial sync spends tens of thousands of coins.
        conn.execute(
            txos.update()
            .where(txos.c.txid == sa.bindparam("spent_coin_txid"), txos.c.vout == sa.bindparam("spent_coin_vout"))
            .values(spent_txid=sa.bindparam("spending_txid"), spent_height=sa.bindparam("spending_height")),
            [{"spent_coin_txid": d.event.outpoint.txid, "spent_coin_vout": d.event.outpoint.vout,
              "spending_txid": d.event.spending_txid, "spending_height": d.event.height} for d in debits],
        )
    return len(credits), len(debits)


def _store_facts(conn: Connection, facts: Iterable) -> None:
    facts = list(facts)
    if not facts:
        return
    # In batches: PostgreSQL takes at most 65,535 parameters a statement, and a chunk can touch more transactions.
    known: set[bytes] = set()
    for batch in _batches([f.txid for f in facts]):
        known.update(bytes(t) for t in conn.execute(sa.select(chain_txs.c.txid).where(chain_txs.c.txid.in_(batch)))
                     .scalars())
    new = [f for f in facts if f.txid not in known]
    if new:
        conn.execute(
            chain_txs.insert(),
            [{"txid": f.txid, "height": f.height, "tx_index": f.tx_index, "input_count": f.input_count,
              "output_count": f.output_count, "output_total_sat": f.output_total_sat} for f in new],
        )


def _store_blocks(conn: Connection, blocks: Sequence[ScannedBlock]) -> None:
    if not blocks:
        return
    heights = [b.height for b in blocks]
    conn.execute(chain_blocks.delete().where(chain_blocks.c.height.between(min(heights), max(heights))))
    conn.execute(chain_blocks.insert(), [{"height": b.height, "hash": b.hash, "time": b.time} for b in blocks])
