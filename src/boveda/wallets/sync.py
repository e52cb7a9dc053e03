"""`boveda sync`: the book's wallets brought up to the chain's tip, incrementally and reorg-safe.

Each wallet is scanned from its birth height (or the block after its last sync) to the tip, in
one pass (wallets/walk.py). The work is committed in chunks, each one database transaction
holding its facts and the new synced height, so an interrupted sync resumes where it stopped and
never half-applies a chunk. A stored block hash that is no longer in the active chain means a
reorganisation: the facts above the fork point are dropped and those blocks scanned again.
`Syncer` keeps what a sync needs between calls, for a caller that follows the chain block by block.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from boveda.bitcoin.block import Block
from boveda.bitcoin.network import Network
from boveda.book.store import Store
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.scanner import Credit, ScannedBlock
from boveda.chain.source import BlockRef, ChainSource, RawBlock
from boveda.errors import WalletError
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import address_of, parse_descriptor
from boveda.wallets.facts_store import WalletRow
from boveda.wallets.parallel_sync import ParallelOptions, ParallelRoute
from boveda.wallets.sync_lock import sync_lock
from boveda.wallets.walk import BlockItem, Finds, WalletWalk, blocks_of
from boveda.wallets.watch import WatchedScript, WatchSet

CHUNK_BLOCKS = 500
# Ranges this short look up what their blocks touch by key instead of loading every derived script.
LOOKUP_RANGE_BLOCKS = 16


@dataclass(frozen=True, slots=True)
class SyncReport:
    tip_height: int
    tip_hash_hex: str
    blocks_scanned: int
    credits: int
    debits: int
    rolled_back_to: int | None  # the fork point of a reorganisation, if one was followed
    wallets: int
    # Blocks before a chunk walked again (--beyond-gap) for the scripts that joined a window in it (an
    # address may have been paid out of order, before its wallet's gap reached it).
    earlier_blocks_searched: int = 0


# -- settings ---------------------------------------------------------------------------


def parse_network(name: str) -> Network:
    try:
        return Network.parse(name)
    except ValueError as exc:
        raise WalletError(str(exc)) from None


def stored_network(store: Store) -> Network | None:
    """The network this book's wallets live on, once a wallet was added or a sync ran."""
    with store.read() as conn:
        value = facts.setting(conn, "network")
    return Network(value) if value else None


def chain_to_sync(store: Store, datadir: str | None, network: Network | None) -> tuple[str, Network]:
    """The datadir and network to sync from: as given, else as remembered. Writes nothing.

    A book holds one network's wallets: another network is refused once the book has wallets
    or was synced (their descriptors and addresses belong to the first).
    """
    with store.read() as conn:
        stored_datadir = facts.setting(conn, "datadir")
    datadir = datadir or stored_datadir
    if datadir is None:
        raise WalletError("no datadir known for this book: pass --datadir (it is remembered afterwards)")
    return datadir, network_to_sync(store, network)


def network_to_sync(store: Store, network: Network | None) -> Network:
    """The network given, else the book's, else main; another than the book's is refused once it has
    wallets or was synced (their descriptors and addresses belong to the first). Writes nothing."""
    with store.read() as conn:
        stored = facts.setting(conn, "network")
        committed = facts.setting(conn, "synced") == "yes" or facts.wallet_count(conn)
    network = network or (Network(stored) if stored else Network.MAIN)
    if stored and network.value != stored and committed:
        raise WalletError(f"this book's wallets are on {stored}, not {network.value}: use another book for another network")
    return network


def remember_chain(store: Store, datadir: str, network: Network) -> None:
    """Keeps the datadir and network for the next sync (call once the datadir was opened)."""
    with store.write() as (conn, _head):
        facts.put_setting(conn, "datadir", datadir)
        facts.put_setting(conn, "network", network.value)


# -- registration -----------------------------------------------------------------------


def derive_wallet_scripts(conn: Connection, name: str, descriptor_text: str, network: Network, gap_limit: int) -> int:
    """Derives a newly registered wallet's first `gap_limit` scripts per branch into the store."""
    if gap_limit < 1 or gap_limit > 10_000:
        raise WalletError(f"gap limit {gap_limit} is out of range: use 1..10000")
    stored = facts.setting(conn, "network")
    if stored is not None and stored != network.value:
        raise WalletError(f"this book's wallets are on {stored}, not {network.value}: use another book for another network")
    descriptor = parse_descriptor(descriptor_text, network)
    scripts = [WatchedScript(name, d.branch, d.index, d.script_pubkey)
               for branch in descriptor.branches for d in descriptor.derive(branch, 0, gap_limit)]
    taken = facts.script_owners(conn, [w.script_pubkey for w in scripts])
    if taken:
        script, owner = next(iter(taken.items()))
        raise WalletError(
            f"wallet {name!r} would watch {address_of(script, network) or 'script ' + script.hex()}, already wallet {owner!r}'s: "
            "a script belongs to one wallet, or its coins would count twice"
        )
    facts.store_scripts(conn, scripts)
    facts.start_wallet(conn, name, gap_limit)
    if stored is None:
        facts.put_setting(conn, "network", network.value)
    return len(scripts)


# -- the sync ---------------------------------------------------------------------------


def sync(
    store: Store,
    source: ChainSource,
    *,
    network: Network,
    on_block: Callable[[ScannedBlock, int], None] | None = None,
    chunk_blocks: int = CHUNK_BLOCKS,
    beyond_gap: bool = False,
    rescan_from_scratch: bool = False,
    parallel: ParallelOptions | None = None,
) -> SyncReport:
    """Brings every wallet of the book to `source`'s tip. `on_block(block, tip_height)` reports progress.

    Scripts are watched a gap limit past the last used one (BIP-44): a wallet that kept to its gap
    limit is found whole in one pass. `beyond_gap` also searches the blocks before each chunk for
    the scripts that joined a window in it, for wallets that paid addresses beyond their gap limit —
    at the cost of reading those blocks again whenever a new address is used.

    A source that does not continue the chain the book was synced from (another genesis block, or
    a fork below every wallet's birth height) is refused, and the book left as it was, unless
    `rescan_from_scratch` says to forget the stored facts and start again.

    `parallel` reads a long range of blk files (a BlockFileSource) over a Dask cluster first, so
    that the walk reads only the blocks that matter to it (wallets/parallel_sync.py); the result is
    the same.
    """
    syncer = Syncer(store, network=network, chunk_blocks=chunk_blocks, beyond_gap=beyond_gap, keep_watch_set=False,
                    parallel=parallel)
    return syncer.sync_to_tip(source, on_block=on_block, rescan_from_scratch=rescan_from_scratch)


class Syncer:
    """Brings a book's wallets to a chain's tip, and holds between calls what that needs: the parsed
    descriptors, every derived script (indexed for the compiled walk) and the wallets' unspent coins.

    A long-running caller (the follower) keeps one and calls `sync_to_tip` or `step` per new block:
    each block then costs its walk and one database transaction. What it holds is checked against
    the store at each call and loaded again when another writer moved it (a wallet registered, a
    sync elsewhere, a reorganisation). `keep_watch_set=False` (what `sync` does) looks up what a few
    blocks touch by key instead of loading every script, for a one-off sync of a few blocks.
    """

    def __init__(self, store: Store, *, network: Network, chunk_blocks: int = CHUNK_BLOCKS, beyond_gap: bool = False,
                 keep_watch_set: bool = True, parallel: ParallelOptions | None = None) -> None:
        self.store = store
        self.network = network
        self.chunk_blocks = chunk_blocks
        self.beyond_gap = beyond_gap
        self.keep_watch_set = keep_watch_set
        self.parallel = parallel
        self._route: ParallelRoute | None = None
        self._walk: WalletWalk | None = None
        self._loaded_coins: dict[str, list[Credit]] = {}  # of wallets not yet joined to the walk
        self._rows: dict[str, WalletRow] = {}  # the wallets as this syncer last left them in the store

    def step(self, source: ChainSource) -> SyncReport:
        """Syncs one block: the next one of the wallets furthest behind (nothing at the tip)."""
        with self.store.read() as conn:
            start = min((w.next_height for w in facts.wallet_rows(conn)), default=0)
        return self.sync_to_tip(source, stop_height=start)

    def sync_to_tip(self, source: ChainSource, *, on_block: Callable[[ScannedBlock, int], None] | None = None,
                    rescan_from_scratch: bool = False, stop_height: int | None = None) -> SyncReport:
        """Brings every wallet to `source`'s tip, or no further than `stop_height`; see `sync`."""
        if self.parallel is not None and not isinstance(source, BlockFileSource):
            raise WalletError("the parallel scan reads a node's blk files: sync from --datadir (a stopped node, or a "
                              "copy) to use it")
        with sync_lock(self.store), contextlib.ExitStack() as stack:
            if self.parallel is not None:
                self._route = stack.enter_context(ParallelRoute(self.parallel))
                stack.callback(setattr, self, "_route", None)
            try:
                return self._sync(source, on_block, rescan_from_scratch, stop_height)
            except BaseException:
                self._forget()  # what it holds may be ahead of what was committed
                raise

    def _forget(self) -> None:
        self._walk, self._loaded_coins, self._rows = None, {}, {}

    def _sync(self, source: ChainSource, on_block, rescan_from_scratch: bool, stop_height: int | None) -> SyncReport:
        tip = source.tip()
        genesis_hex = source.hash_at(0)[::-1].hex()
        if self._walk is not None and not rescan_from_scratch:
            report = self._step_in_one_transaction(source, tip, genesis_hex, on_block, stop_height)
            if report is not None:
                return report
        with self.store.read() as conn:  # the common case writes nothing here
            settings = facts.settings(conn)
            fork = -1 if rescan_from_scratch else _fork_height(conn, source, tip.height, genesis_hex, settings)
            settled = settings.get("synced") == "yes" and settings.get("genesis") == genesis_hex
            rows = facts.wallet_rows(conn)
        if stop_height is not None and stop_height < tip.height:
            tip = BlockRef(stop_height, source.hash_at(stop_height))
        if fork is not None or not settled:
            with self.store.write() as (conn, _head):
                if fork is not None:
                    facts.drop_above(conn, fork)
                facts.put_setting(conn, "synced", "yes")
                facts.put_setting(conn, "genesis", genesis_hex)
                rows = facts.wallet_rows(conn)
        if fork is not None or {w.name: w for w in rows} != self._rows:
            self._forget()
        next_heights = {w.name: w.next_height for w in rows}
        by_name = {w.name: w for w in rows}
        credits = debits = scanned = searched = 0
        while True:
            behind = {name: height for name, height in next_heights.items() if height <= tip.height}
            if not behind:
                break
            start = min(behind.values())
            active = [name for name, height in behind.items() if height == start]
            stop = min([tip.height, start + self.chunk_blocks - 1] + [h - 1 for h in behind.values() if h > start])
            walk, finds = self._walk_chunk(source, by_name, active, start, stop, tip.height,
                                           (lambda block: on_block(block, tip.height)) if on_block else None)
            with self.store.write() as (conn, _head):
                counts = _store_chunk(conn, walk.watch.take_entered(), finds, active, stop)
            credits, debits = credits + counts[0], debits + counts[1]
            searched += finds.earlier_blocks
            scanned += stop - start + 1
            for name in active:
                next_heights[name] = stop + 1
                by_name[name] = dataclasses.replace(by_name[name], synced_height=stop)
            if self._walk is not None:
                self._rows = dict(by_name)
        return SyncReport(tip.height, tip.hash_hex, scanned, credits, debits, fork, len(rows), searched)

    def _step_in_one_transaction(self, source: ChainSource, tip: BlockRef, genesis_hex: str, on_block,
                                 stop_height: int | None) -> SyncReport | None:
        """A few new blocks for a syncer holding every wallet at one height: the checks, the walk and the
        writes in one transaction. None, having written nothing, when anything else is to be done."""
        with self.store.write() as (conn, _head):
            settings = facts.settings(conn)
            if settings.get("synced") != "yes" or settings.get("genesis") != genesis_hex:
                return None
            if _fork_height(conn, source, tip.height, genesis_hex, settings) is not None:
                return None
            rows = {w.name: w for w in facts.wallet_rows(conn)}
            starts = {w.next_height for w in rows.values()}
            if rows != self._rows or len(starts) != 1:
                return None
            if stop_height is not None and stop_height < tip.height:
                tip = BlockRef(stop_height, source.hash_at(stop_height))
            start = starts.pop()
            if tip.height - start + 1 > LOOKUP_RANGE_BLOCKS:
                return None
            credits = debits = searched = 0
            if start <= tip.height:
                walk, finds = self._walk_chunk(source, rows, list(rows), start, tip.height, tip.height,
                                               (lambda block: on_block(block, tip.height)) if on_block else None)
                credits, debits = _store_chunk(conn, walk.watch.take_entered(), finds, list(rows), tip.height)
                searched = finds.earlier_blocks
        if start <= tip.height:
            self._rows = {name: dataclasses.replace(w, synced_height=tip.height) for name, w in rows.items()}
        return SyncReport(tip.height, tip.hash_hex, max(0, tip.height - start + 1), credits, debits, None, len(rows),
                          searched)

    def _walk_chunk(self, source: ChainSource, rows: Mapping[str, WalletRow], active: list[str], start: int,
                    stop: int, last: int, on_block: Callable[[ScannedBlock], None] | None) -> tuple[WalletWalk, Finds]:
        """Walks blocks start..stop for the `active` wallets (`last`: the tip this sync goes to)."""
        parallel = self._route is not None and last - start + 1 > LOOKUP_RANGE_BLOCKS
        if self._walk is None and (self.keep_watch_set or parallel or stop - start + 1 > LOOKUP_RANGE_BLOCKS):
            with self.store.read() as conn:
                self._walk, self._loaded_coins = _everything_watched(conn, rows, self.network)
        if self._walk is not None:
            walk = self._walk
            joining = [name for name in active if name not in walk.joined]
            walk.join(joining, [c for name in joining for c in self._loaded_coins.pop(name, ())])
            blocks = (self._route.blocks(walk, source, start, stop, last) if parallel
                      else blocks_of(source, start, stop))
            finds = walk.walk(blocks, on_block)
        else:
            blocks = list(blocks_of(source, start, stop))
            paid, spending = _outputs_and_inputs(blocks)
            with self.store.read() as conn:
                walk = _what_the_blocks_touch(conn, [rows[name] for name in active], self.network, paid, spending)
            finds = walk.walk(blocks, on_block, paid=paid)
        if self.beyond_gap:
            walk.search_earlier(source, finds, start, stop)
        return walk, finds


def _store_chunk(conn: Connection, entered: list[WatchedScript], finds: Finds, names: list[str], stop: int
                 ) -> tuple[int, int]:
    """One chunk's facts and the wallets' new synced height, in the caller's one transaction."""
    facts.as_cache(conn)
    taken = facts.script_owners(conn, [w.script_pubkey for w in entered])
    facts.store_scripts(conn, [w for w in entered if w.script_pubkey not in taken])
    counts = facts.store_events(conn, finds.events.values())
    facts.store_tx_facts(conn, finds.facts.values())
    facts.store_blocks(conn, finds.blocks)
    written = [e.event.height for e in finds.events.values()] + [f.height for f in finds.facts.values()]
    if finds.blocks or written:
        facts.seal_blocks(conn, min(written + [b.height for b in finds.blocks]))
    facts.mark_synced(conn, names, stop)
    return counts


def _fork_height(conn: Connection, source: ChainSource, tip_height: int, genesis_hex: str,
                 settings: Mapping[str, str]) -> int | None:
    """The height above which the stored blocks left the active chain (None: none did); WalletError
    for another chain."""
    genesis = settings.get("genesis")
    if genesis is not None and genesis_hex != genesis:
        raise WalletError(f"this chain's genesis block is {genesis_hex}, not {genesis} which the book "
                          "was synced from: point at the same network's node, or pass --rescan-from-scratch")
    highest = None
    fork = None
    for height, block_hash in facts.stored_blocks_from_top(conn):
        highest = height if highest is None else highest
        if height <= tip_height and source.hash_at(height) == block_hash:
            fork = height
            break
    if highest is None or fork == highest:
        return None
    births = [w.birth_height for w in facts.wallet_rows(conn)]
    if fork is None or fork < min(births, default=0):
        where = "no block" if fork is None else f"only blocks up to {fork}"
        raise WalletError(f"this node's chain shares {where} of what the book synced (up to {highest}), below every "
                          "wallet's birth height: it is another chain, not a reorganisation; point at the node the "
                          "book was synced from, or pass --rescan-from-scratch to forget the stored chain facts")
    return fork


# -- what a walk starts from --------------------------------------------------------------


def _everything_watched(conn: Connection, rows: Mapping[str, WalletRow], network: Network
                        ) -> tuple[WalletWalk, dict[str, list[Credit]]]:
    """For a long range, or a syncer that stays: every derived script and unspent coin of every wallet."""
    names = list(rows)
    watch = WatchSet({w.name: w.descriptor for w in rows.values()}, {w.name: w.gap_limit for w in rows.values()},
                     network, scripts=facts.all_derived_scripts(conn), ends=facts.derived_counts(conn, names),
                     derive_ahead=True)
    coins: dict[str, list[Credit]] = {name: [] for name in names}
    for coin in facts.unspent_coins(conn, names):
        owner = watch.owner(coin.script_pubkey)
        if owner is not None:
            coins[owner.wallet].append(coin)
    return WalletWalk(watch, {w.name: w.birth_height for w in rows.values()}), coins


def _what_the_blocks_touch(conn: Connection, rows: Sequence[WalletRow], network: Network,
                           paid: Mapping[int, set[bytes]], spending: set[bytes]) -> WalletWalk:
    """For a few blocks (a one-off incremental sync): only the derived scripts their outputs pay and
    the coins their inputs spend, looked up by key, instead of loading every derived script.

    Nothing else of the store can meet these blocks; scripts that join a window during the walk are
    derived as it goes, and the blocks walked again only for those they pay.
    """
    names = [w.name for w in rows]
    unspent = [c for c in facts.unspent_coins(conn, names, among_txids=list({o[:32] for o in spending}))
               if c.outpoint.serialize() in spending]
    among = set().union(*paid.values()) | {c.script_pubkey for c in unspent}
    watch = WatchSet({w.name: w.descriptor for w in rows}, {w.name: w.gap_limit for w in rows}, network,
                     scripts=facts.derived_scripts(conn, names, among=among), ends=facts.derived_counts(conn, names))
    walk = WalletWalk(watch, {w.name: w.birth_height for w in rows})
    walk.join(names, unspent)
    return walk


def _outputs_and_inputs(blocks: Sequence[tuple[ScannedBlock, BlockItem]]) -> tuple[dict[int, set[bytes]], set[bytes]]:
    """Each block's output scripts, by height, and every spent outpoint (txid + LE32 vout) of the blocks."""
    paid: dict[int, set[bytes]] = {}
    spending: set[bytes] = set()
    for scanned, item in blocks:
        block = Block.parse(item.block) if isinstance(item, RawBlock) else item.block
        scripts = paid[scanned.height] = set()
        for tx in block.transactions:
            scripts.update(out.script_pubkey for out in tx.outputs)
            spending.update(txin.prevout.serialize() for txin in tx.inputs)
    return paid, spending
