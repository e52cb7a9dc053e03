"""Which scripts to watch for a set of wallets, kept `gap_limit` unused scripts ahead on every branch.

A wallet hands out addresses in order, so once index i is seen used, indexes up to
i + gap_limit must be watched too. An address used out of order (a later index paid before
an earlier one) can only be found by a second pass over the blocks already scanned; the
scan repeats for the newly derived scripts until no branch moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from boveda.chain.scanner import Credit, Debit, ScannedBlock, Scanner, TxFacts
from boveda.chain.source import ChainSource
from boveda.wallets.descriptors import Branch, WalletDescriptor

DEFAULT_GAP_LIMIT = 20


@dataclass(frozen=True, slots=True)
class WatchedScript:
    wallet: str
    branch: Branch
    index: int
    script_pubkey: bytes


class WatchSet:
    """The derived scripts of named wallets, and which wallet each belongs to.

    `derived` gives scripts derived earlier (kept in the store), so nothing is derived twice;
    `used` the scripts known to have received coins. `derived_counts` says how many scripts of
    each (wallet, branch) the store holds when `derived` is only the part of them a scan needs.
    `descriptors` is only read for wallets that must derive (a lazy mapping may parse on demand).
    """

    def __init__(
        self,
        descriptors: Mapping[str, WalletDescriptor],
        gap_limits: Mapping[str, int] | None = None,
        *,
        derived: Iterable[WatchedScript] = (),
        used: Iterable[bytes] = (),
        derived_counts: Mapping[tuple[str, Branch], int] | None = None,
    ) -> None:
        self._descriptors = descriptors
        self._gap = {name: (gap_limits or {}).get(name, DEFAULT_GAP_LIMIT) for name in descriptors}
        self._by_script: dict[bytes, WatchedScript] = {}
        self._derived: dict[tuple[str, Branch], int] = dict(derived_counts or {})
        self._used: dict[tuple[str, Branch], int] = {}
        for watched in derived:
            self._by_script[watched.script_pubkey] = watched
            key = (watched.wallet, watched.branch)
            self._derived[key] = max(self._derived.get(key, 0), watched.index + 1)
        self.newly_derived: list[WatchedScript] = []
        for name in self._descriptors:
            for branch in self._branches(name):
                self.newly_derived += self._derive_to(name, branch, self._gap[name])
        for script_pubkey in used:
            self.mark_used(script_pubkey)  # adds what it derives to newly_derived

    def _branches(self, name: str) -> tuple[Branch, ...]:
        # A wallet with stored scripts has them on each of its branches (registration derives both).
        stored = tuple(branch for branch in Branch if (name, branch) in self._derived)
        return stored or self._descriptors[name].branches

    def _derive_to(self, name: str, branch: Branch, stop: int) -> list[WatchedScript]:
        start = self._derived.get((name, branch), 0)
        if stop <= start:
            return []
        added = []
        for derived in self._descriptors[name].derive(branch, start, stop):
            watched = WatchedScript(name, branch, derived.index, derived.script_pubkey)
            self._by_script.setdefault(derived.script_pubkey, watched)
            added.append(watched)
        self._derived[(name, branch)] = stop
        return added

    @property
    def scripts(self) -> frozenset[bytes]:
        return frozenset(self._by_script)

    def owner(self, script_pubkey: bytes) -> WatchedScript:
        return self._by_script[script_pubkey]

    def derived(self, name: str) -> tuple[WatchedScript, ...]:
        return tuple(w for w in self._by_script.values() if w.wallet == name)

    def mark_used(self, script_pubkey: bytes) -> list[WatchedScript]:
        """Records that a script received coins; returns the scripts newly derived to keep the gap."""
        watched = self._by_script[script_pubkey]
        key = (watched.wallet, watched.branch)
        if watched.index <= self._used.get(key, -1):
            return []
        self._used[key] = watched.index
        added = self._derive_to(watched.wallet, watched.branch, watched.index + 1 + self._gap[watched.wallet])
        self.newly_derived += added
        return added


@dataclass(frozen=True, slots=True)
class WalletEvent:
    wallet: str
    event: Credit | Debit


@dataclass(slots=True)
class WalletScan:
    """What a scan found: wallet events in chain order, the touched transactions, the blocks passed."""

    events: list[WalletEvent] = field(default_factory=list)
    facts: dict[bytes, TxFacts] = field(default_factory=dict)
    blocks: list[ScannedBlock] = field(default_factory=list)

    def sort(self) -> None:
        """Chain order: by height, then by position in the block."""
        self.events.sort(key=lambda e: (e.event.height, self.facts[e.event.in_txid].tx_index))

    def merge(self, other: WalletScan) -> None:
        """Adds `other`'s events and facts, once each, keeping chain order."""
        seen = {e.event.key for e in self.events}
        self.events += [e for e in other.events if e.event.key not in seen]
        self.facts.update(other.facts)
        self.sort()


def scan_wallets(
    source: ChainSource,
    watch: WatchSet,
    start_height: int,
    stop_height: int,
    *,
    unspent: Iterable[Credit] = (),
    on_block: Callable[[ScannedBlock], None] | None = None,
    only: frozenset[bytes] | None = None,
) -> WalletScan:
    """Every credit and debit of the watched wallets in blocks start..stop, in chain order.

    `only` limits the scan to those of the watched scripts (and what they derive in turn).
    """
    result = WalletScan()
    found: dict[tuple, Credit | Debit] = {}

    def first_pass_block(block: ScannedBlock) -> None:
        result.blocks.append(block)
        if on_block:
            on_block(block)

    pending = watch.scripts if only is None else only
    seed = tuple(unspent)
    first_pass = True
    while pending or first_pass:  # the first pass walks every block, watched or not (progress, block hashes)
        scanner = Scanner(pending, seed if first_pass else (), with_tx_facts=True)
        grown: list[bytes] = []
        for event in scanner.scan(source, start_height, stop_height, first_pass_block if first_pass else None):
            if isinstance(event, TxFacts):
                result.facts[event.txid] = event
                continue
            found.setdefault(event.key, event)
            if isinstance(event, Credit):
                added = [w.script_pubkey for w in watch.mark_used(event.script_pubkey)]
                scanner.watch_more(added)
                grown += added
        # Scripts derived mid-pass were not watched in the blocks before; look at those again.
        pending = frozenset(grown)
        first_pass = False
    result.events = [WalletEvent(watch.owner(e.script_pubkey).wallet, e) for e in found.values()]
    result.sort()
    return result
