"""The walk behind `boveda sync`: blocks in order, each walked once for every wallet at that height.

One `Scanner` holds the watched scripts (indexed for the compiled walk) and the wallets' unspent
coins from block to block and chunk to chunk. A block's payments are counted by the wallets'
windows (wallets/watch.py); a block is walked again only when a script derived because of that
block, and so not watched while it was walked, joined a window and could have been paid in it.
The transactions' facts are those the walk counted as it went.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from boveda.chain.scanner import Credit, Debit, ScanEvent, ScannedBlock, Scanner, TxFacts
from boveda.chain.source import ChainSource, RawBlock, SpentBlock
from boveda.wallets.watch import WalletEvent, WatchSet

BlockItem = RawBlock | SpentBlock


@dataclass(slots=True)
class Finds:
    """What a walk found that counts, to be stored in one transaction."""

    events: dict[tuple, WalletEvent] = field(default_factory=dict)  # by the event's key, found once
    facts: dict[bytes, TxFacts] = field(default_factory=dict)
    blocks: list[ScannedBlock] = field(default_factory=list)
    earlier_blocks: int = 0  # blocks before the walk searched again (beyond the gap limit)


def blocks_of(source: ChainSource, start_height: int, stop_height: int) -> Iterator[tuple[ScannedBlock, BlockItem]]:
    """Blocks start..stop as the fastest route `source` has gives them (stored bytes, else parsed blocks)."""
    raw_blocks = getattr(source, "raw_blocks", None)
    if raw_blocks is not None:
        for raw in raw_blocks(start_height, stop_height, with_undo=False):
            yield ScannedBlock(raw.height, raw.hash, int.from_bytes(raw.block[68:72], "little"), len(raw.block)), raw
    else:
        for spent in source.blocks(start_height, stop_height):
            yield ScannedBlock(spent.height, spent.hash, spent.block.header.time, 0), spent


def _walk(scanner: Scanner, item: BlockItem) -> list[ScanEvent]:
    if isinstance(item, RawBlock):
        return scanner.scan_raw_block(item.height, item.block)
    return scanner.scan_spent_block(item)


def _collect(events: Iterable[ScanEvent], found: dict[tuple, Credit | Debit], facts: dict[bytes, TxFacts]) -> None:
    for event in events:
        if type(event) is TxFacts:
            facts.setdefault(event.txid, event)
        else:
            found.setdefault(event.key, event)


def _outpoint_key(event: Credit | Debit) -> bytes:
    if type(event) is Credit:
        return event.txid + event.vout.to_bytes(4, "little")
    return event.outpoint.serialize()


class WalletWalk:
    """The walk's state between blocks: the watch set, the scanner over the joined wallets, and the
    outpoints of payments that did not count (beyond a window), whose spends do not count either."""

    def __init__(self, watch: WatchSet, births: Mapping[str, int]) -> None:
        self.watch = watch
        self._births = dict(births)
        self._scanner: Scanner | None = None
        self._joined: frozenset[str] = frozenset()
        self._not_counted: set[bytes] = set()
        self._rebuilds = 0
        self._added: list[bytes] = []

    @property
    def joined(self) -> frozenset[str]:
        return self._joined

    @property
    def unspent(self) -> tuple[Credit, ...]:
        """The watched outputs the walk holds unspent (a payment that did not count included)."""
        return self._scanner.unspent if self._scanner is not None else ()

    @property
    def watched(self) -> tuple[int, list[bytes]]:
        """(how often the scanner was rebuilt, the scripts given to it since): what a caller needs to
        tell whether the walk watches a script it did not before."""
        return self._rebuilds, self._added

    def watched_scripts(self) -> frozenset[bytes]:
        return self._scanner.watch if self._scanner is not None else frozenset()

    def derive_further(self, count: int) -> None:
        """Derives and watches `count` more scripts ahead of every joined wallet's windows."""
        self._watch_more([w.script_pubkey for w in self.watch.derive_further(self._joined, count)])

    def _watch_more(self, scripts: list[bytes]) -> None:
        if scripts:
            self._scanner.watch_more(scripts)
            self._added += scripts

    def join(self, wallets: Iterable[str], coins: Iterable[Credit] = ()) -> None:
        """Watches `wallets` too from the next block walked; `coins` are their unspent outputs."""
        joined = self._joined | frozenset(wallets)
        if joined != self._joined or self._scanner is None:
            self._rebuild(joined, coins)

    def _rebuild(self, joined: frozenset[str], coins: Iterable[Credit] = ()) -> None:
        kept = self._scanner.unspent if self._scanner is not None else ()
        self._scanner = Scanner(self.watch.scripts_of(joined), (*kept, *coins), with_tx_facts=True)
        self._joined = joined
        self._rebuilds += 1
        self._added = []

    def walk(
        self,
        blocks: Iterable[tuple[ScannedBlock, BlockItem | None]],
        on_block: Callable[[ScannedBlock], None] | None = None,
        paid: Mapping[int, Collection[bytes]] | None = None,
    ) -> Finds:
        """The counted events of `blocks` (consecutive, from where the last walk stopped).

        `paid` gives, when known, each block's output scripts: a block is walked again only for
        scripts it pays.
        """
        finds = Finds()
        for block, item in blocks:
            if item is not None:  # None: a block known to hold nothing for the watched scripts
                self._take(item, finds, None if paid is None else paid.get(block.height, ()))
            finds.blocks.append(block)
            if on_block:
                on_block(block)
        return finds

    def _take(self, item: BlockItem, finds: Finds, paid_here: Collection[bytes] | None) -> None:
        scanner, watch = self._scanner, self.watch
        found: dict[tuple, Credit | Debit] = {}
        facts: dict[bytes, TxFacts] = {}
        _collect(_walk(scanner, item), found, facts)
        unwalked: set[bytes] = set()  # watched since this block was last walked
        while True:
            moved = watch.move_windows(watch.windows_after(e for e in found.values() if type(e) is Credit))
            added = [w.script_pubkey for w in moved.derived if w.wallet in self._joined]
            self._watch_more(added)
            unwalked.update(added)
            again = [w for w in moved.entered if w.script_pubkey in unwalked
                     and (paid_here is None or w.script_pubkey in paid_here)]
            if not again:
                break
            unwalked.clear()
            _collect(_walk(scanner, item), found, facts)  # idempotent for what it already saw
        self._count(found, facts, finds)

    def _count(self, found: Mapping[tuple, Credit | Debit], facts: Mapping[bytes, TxFacts], finds: Finds,
               min_height: Mapping[str, int] | None = None) -> None:
        counted_txids = set()
        for key, event in found.items():  # in block order: a coin's payment comes before its spend
            watched = self.watch.owner(event.script_pubkey)
            outpoint = _outpoint_key(event)
            counts = (watched is not None and self.watch.counts(watched)
                      and (min_height is None or event.height >= min_height[watched.wallet]))
            if type(event) is Credit:
                if not counts:
                    self._not_counted.add(outpoint)
                    continue
                self._not_counted.discard(outpoint)
            elif not counts or outpoint in self._not_counted:
                self._not_counted.discard(outpoint)  # spent: never seen again
                continue
            finds.events[key] = WalletEvent(watched.wallet, event)
            counted_txids.add(event.in_txid)
        for txid, tx_facts in facts.items():
            if txid in counted_txids:
                finds.facts.setdefault(txid, tx_facts)

    def search_earlier(self, source: ChainSource, finds: Finds, start_height: int, stop_height: int) -> None:
        """For `--beyond-gap`: the scripts that joined a window during blocks start..stop may have been
        paid before they did, out of order. Walks the blocks from their wallet's birth to `stop` again for
        them alone, and again for what those payments bring into a window, until nothing more joins."""
        fresh = [w for w in self.watch.entered if w.wallet in self._joined]
        searched: set[bytes] = set()
        coins: list[Credit] = []
        while fresh:
            scripts = {w.script_pubkey for w in fresh}
            searched |= scripts
            birth = min(self._births[w.wallet] for w in fresh)
            finds.earlier_blocks += max(0, start_height - birth)
            side = Scanner(scripts, with_tx_facts=True)
            found: dict[tuple, Credit | Debit] = {}
            facts: dict[bytes, TxFacts] = {}
            for _block, item in blocks_of(source, birth, stop_height):
                _collect(_walk(side, item), found, facts)
            moved = self.watch.move_windows(self.watch.windows_after(e for e in found.values() if type(e) is Credit))
            self._count(found, facts, finds, min_height=self._births)
            coins += side.unspent
            fresh = [w for w in moved.entered if w.wallet in self._joined and w.script_pubkey not in searched]
        if searched:
            self._rebuild(self._joined, coins)  # the coins found, and any script derived on the way
