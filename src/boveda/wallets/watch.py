"""Which scripts to watch for a set of wallets, kept `gap_limit` unused scripts ahead on every branch.

A wallet hands out addresses in order, so once index i is seen used, indexes up to
i + gap_limit must be watched too. An address used out of order (a later index paid before
an earlier one) can only be found by a second pass over the blocks already scanned; the
scan repeats for the newly derived scripts until no branch moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from boveda.chain.scanner import Credit, Debit, ScanEvent, Scanner
from boveda.chain.source import ChainSource
from boveda.wallets.descriptors import Branch, DerivedScript, WalletDescriptor

DEFAULT_GAP_LIMIT = 20


@dataclass(frozen=True, slots=True)
class WatchedScript:
    wallet: str
    branch: Branch
    index: int
    script_pubkey: bytes


class WatchSet:
    """The derived scripts of named wallets, and which wallet each belongs to."""

    def __init__(self, descriptors: Mapping[str, WalletDescriptor], gap_limits: Mapping[str, int] | None = None) -> None:
        self._descriptors = dict(descriptors)
        self._gap = {name: (gap_limits or {}).get(name, DEFAULT_GAP_LIMIT) for name in descriptors}
        self._by_script: dict[bytes, WatchedScript] = {}
        self._derived: dict[tuple[str, Branch], int] = {}
        self._used: dict[tuple[str, Branch], int] = {}
        for name, descriptor in self._descriptors.items():
            for branch in descriptor.branches:
                self._derive_to(name, branch, self._gap[name])

    def _derive_to(self, name: str, branch: Branch, stop: int) -> list[WatchedScript]:
        start = self._derived.get((name, branch), 0)
        added = []
        for derived in self._descriptors[name].derive(branch, start, stop):
            watched = WatchedScript(name, branch, derived.index, derived.script_pubkey)
            self._by_script.setdefault(derived.script_pubkey, watched)
            added.append(watched)
        self._derived[(name, branch)] = max(start, stop)
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
        return self._derive_to(watched.wallet, watched.branch, watched.index + 1 + self._gap[watched.wallet])


@dataclass(frozen=True, slots=True)
class WalletEvent:
    wallet: str
    event: ScanEvent


def scan_wallets(
    source: ChainSource,
    watch: WatchSet,
    start_height: int,
    stop_height: int,
    *,
    unspent: Iterable[Credit] = (),
    on_block: Callable[[int, int], None] | None = None,
) -> list[WalletEvent]:
    """Every credit and debit of the watched wallets in blocks start..stop, in chain order."""
    events: list[ScanEvent] = []
    pending = watch.scripts
    seed = tuple(unspent)
    first_pass = True
    while pending:
        scanner = Scanner(pending, seed if first_pass else ())
        grown: list[bytes] = []
        for event in scanner.scan(source, start_height, stop_height, on_block if first_pass else None):
            events.append(event)
            if isinstance(event, Credit):
                added = [w.script_pubkey for w in watch.mark_used(event.script_pubkey)]
                scanner.watch_more(added)
                grown += added
        # Scripts derived mid-pass were not watched in the blocks before; look at those again.
        pending = frozenset(grown)
        first_pass = False
    unique = {_identity(e): e for e in events}
    ordered = sorted(unique.values(), key=lambda e: e.height)
    return [WalletEvent(watch.owner(e.script_pubkey).wallet, e) for e in ordered]


def _identity(event: ScanEvent) -> tuple:
    if isinstance(event, Credit):
        return ("credit", event.txid, event.vout)
    return ("debit", event.outpoint.txid, event.outpoint.vout)
