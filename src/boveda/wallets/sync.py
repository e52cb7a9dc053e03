"""`boveda sync`: the book's wallets brought up to the chain's tip, incrementally and reorg-safe.

Each wallet is scanned from its birth height (or the block after its last sync) to the tip.
The work is committed in chunks, each one database transaction holding its facts and the
new synced height, so an interrupted sync resumes where it stopped and never half-applies a
chunk. A stored block hash that is no longer in the active chain means a reorganisation: the
facts above the fork point are dropped and those blocks scanned again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.bitcoin.block import Block
from boveda.bitcoin.network import Network
from boveda.book.store import Store
from boveda.chain.scanner import Credit, Debit, ScannedBlock
from boveda.chain.source import ChainSource
from boveda.errors import WalletError
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import WalletDescriptor, address_of, parse_descriptor
from boveda.wallets.facts_store import WalletRow
from boveda.wallets.watch import WatchedScript, WatchSet, scan_wallets

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
    # Blocks before a chunk walked again for scripts derived in it (an address may have been paid
    # out of order, before its wallet's gap reached it): the cost of deriving as addresses get used.
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
    watch = WatchSet({name: descriptor}, {name: gap_limit})
    taken = facts.script_owners(conn, [w.script_pubkey for w in watch.newly_derived])
    if taken:
        script, owner = next(iter(taken.items()))
        raise WalletError(
            f"wallet {name!r} would watch {address_of(script, network) or 'script ' + script.hex()}, already wallet {owner!r}'s: "
            "a script belongs to one wallet, or its coins would count twice"
        )
    facts.store_scripts(conn, watch.newly_derived)
    facts.start_wallet(conn, name, gap_limit)
    if stored is None:
        facts.put_setting(conn, "network", network.value)
    return len(watch.newly_derived)


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
) -> SyncReport:
    """Brings every wallet of the book to `source`'s tip. `on_block(block, tip_height)` reports progress.

    Scripts are watched a gap limit past the last used one (BIP-44): a wallet that kept to its gap
    limit is found whole in one pass. `beyond_gap` also searches the blocks before each chunk for
    the scripts derived in it, for wallets that paid addresses beyond their gap limit — at the cost
    of reading those blocks again whenever a new address is used.

    A source that does not continue the chain the book was synced from (another genesis block, or
    a fork below every wallet's birth height) is refused, and the book left as it was, unless
    `rescan_from_scratch` says to forget the stored facts and start again.
    """
    with sync_lock(store):
        return _sync(store, source, network, on_block, chunk_blocks, beyond_gap, rescan_from_scratch)


def _sync(store: Store, source: ChainSource, network: Network, on_block, chunk_blocks: int, beyond_gap: bool,
          rescan_from_scratch: bool) -> SyncReport:
    tip = source.tip()
    with store.write() as (conn, _head):
        rolled_back_to = _follow_reorg(conn, source, tip.height, rescan_from_scratch)
        facts.put_setting(conn, "synced", "yes")
        facts.put_setting(conn, "genesis", source.hash_at(0)[::-1].hex())
    credits = debits = scanned = searched = 0
    while True:
        with store.read() as conn:
            wallets = facts.wallet_rows(conn)
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
        wallet_count = len(facts.wallet_rows(conn))
    return SyncReport(tip.height, tip.hash_hex, scanned, credits, debits, rolled_back_to, wallet_count, searched)


def _follow_reorg(conn: Connection, source: ChainSource, tip_height: int, rescan_from_scratch: bool = False
                  ) -> int | None:
    """Drops the facts of blocks no longer in the active chain; returns the fork height, if any."""
    if rescan_from_scratch:
        facts.drop_above(conn, -1)
        return -1
    genesis = facts.setting(conn, "genesis")
    if genesis is not None and source.hash_at(0)[::-1].hex() != genesis:
        raise WalletError(f"this chain's genesis block is {source.hash_at(0)[::-1].hex()}, not {genesis} which the book "
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
    facts.drop_above(conn, fork)
    return fork


_locks_held: dict[str, int] = {}


@contextmanager
def sync_lock(store: Store) -> Iterator[None]:
    """One sync of a book at a time: a second process is refused at the start, before it writes.

    SQLite: an advisory file lock beside the book; PostgreSQL: a session advisory lock. Re-entrant
    within a process (the service layer holds it around remembering the datadir and the sync).
    """
    key = store.location
    if _locks_held.get(key):
        _locks_held[key] += 1
        try:
            yield
        finally:
            _locks_held[key] -= 1
        return
    busy = WalletError("another sync of this book is running (boveda sync or sync --follow): wait for it to finish")
    with ExitStack() as stack:
        if store.is_sqlite:
            fd = os.open(f"{store.url.database}.sync-lock", os.O_RDWR | os.O_CREAT, 0o600)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise busy from None
        else:
            conn = stack.enter_context(store.engine.connect())
            lock_key = {"key": _advisory_key(key)}
            if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), lock_key).scalar():
                raise busy
            stack.callback(lambda: conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), lock_key))
        _locks_held[key] = 1
        try:
            yield
        finally:
            _locks_held.pop(key, None)


def _advisory_key(location: str) -> int:
    """A PostgreSQL advisory lock key for one book (several books may share a database, one schema each)."""
    return int.from_bytes(hashlib.sha256(f"boveda sync {location}".encode()).digest()[:8], "big") >> 1


def _sync_chunk(
    store: Store,
    source: ChainSource,
    network: Network,
    wallets: list[WalletRow],
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
        taken = facts.script_owners(conn, [w.script_pubkey for w in new_scripts])
        facts.store_scripts(conn, [w for w in new_scripts if w.script_pubkey not in taken])
        credits, debits = facts.store_events(conn, result.events)
        facts.store_tx_facts(conn, result.facts.values())
        facts.store_blocks(conn, result.blocks)
        facts.mark_synced(conn, names, stop)
    return credits, debits, earlier_blocks


# What a chunk needs from the store: the derived scripts to watch, the wallets' unspent coins (the
# scanner's seed), the scripts already used, and how far each branch was derived.
_Watched = tuple[list[WatchedScript], list[Credit], list[bytes], dict]


def _everything_watched(conn: Connection, names: list[str]) -> _Watched:
    """For a long range: every derived script and every unspent coin of the wallets."""
    return facts.derived_scripts(conn, names), facts.unspent_coins(conn, names), facts.used_scripts(conn, names), {}


def _what_the_blocks_touch(conn: Connection, source: ChainSource, names: list[str], start: int, stop: int) -> _Watched:
    """For a few blocks (an incremental sync): only the derived scripts their outputs pay and the
    coins their inputs spend, looked up by key, instead of loading every derived script.

    Nothing else of the store can meet these blocks; scripts derived during the scan are watched
    as the scan derives them. `used` can stay empty: every stored branch was already derived
    `gap_limit` scripts past its last used script when that script was found.
    """
    paid, spending = _outputs_and_inputs(source, start, stop)
    unspent = [c for c in facts.unspent_coins(conn, names, among_txids=list({o[:32] for o in spending}))
               if c.outpoint.serialize() in spending]
    # The coins' own scripts too: a walk over parsed blocks finds debits by the spent script.
    derived = facts.derived_scripts(conn, names, among=paid | {c.script_pubkey for c in unspent})
    return derived, unspent, [], facts.derived_counts(conn, names)


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
