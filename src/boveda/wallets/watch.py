"""Which scripts to watch for the book's wallets, and which payments to them count.

Each branch of a wallet has a window: its scripts 0..end-1, `end` a gap limit past the last used
index (BIP-44). A payment counts when its script is in the window as the block holding it leaves
it: paying index i moves the window to i + 1 + gap, and a payment further along in that same block
counts too, whatever the order of the block's transactions. A payment beyond the window is an
address used out of order; only `--beyond-gap` looks for those, in the blocks before.

So that a block is not walked again for scripts derived because of it, each used branch is derived
ahead of its window, in batches of about a gap limit, and those scripts are watched: a payment to one
of them counts only once the window reaches it. Only a block that moves a window past what was
derived ahead of it is walked again: with addresses used in order, the block of a branch's first
payment (a branch never used derives nothing ahead: cold wallets cost no derivation at each sync).
The window's scripts are what the store keeps; the ones ahead are kept in memory only.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.chain.scanner import Credit, Debit
from boveda.wallets.descriptors import WalletDescriptor, parse_descriptor

DEFAULT_GAP_LIMIT = 20
# How far a used branch is derived past its window: its gap limit, within these bounds. A block that
# moves one branch's window further than what is left ahead is walked again for the scripts past it.
AHEAD_MIN, AHEAD_MAX = 32, 1_000

BranchKey = tuple[str, Branch]


class WatchedScript(NamedTuple):
    """A derived script and where it comes from. A NamedTuple, not a frozen dataclass: a sync loads
    100,000 of them, and a dataclass costs ~2 µs each to build (0.2 s a load, longer than the
    compiled walk of bench/scan.py's 176 MB chain)."""

    wallet: str
    branch: Branch
    index: int
    script_pubkey: bytes


@dataclass(frozen=True, slots=True)
class WalletEvent:
    wallet: str
    event: Credit | Debit


@dataclass(frozen=True, slots=True)
class Moved:
    """What moving windows did: the scripts that joined a window, and the scripts derived to do it."""

    entered: tuple[WatchedScript, ...]
    derived: tuple[WatchedScript, ...]


@functools.lru_cache(maxsize=256)
def parsed_descriptor(text: str, network: Network) -> WalletDescriptor:
    """A stored descriptor, parsed once per process (parsing checks a checksum per key: ~1-4 ms each)."""
    return parse_descriptor(text, network)


class WatchSet:
    """The scripts of named wallets that a walk watches, who owns each, and each branch's window.

    `scripts` are those the store holds: every window's (`ends`, where each window ends, is then
    read from them unless given), or only those a few blocks touch, with `ends`. A wallet without
    stored scripts gets its first window derived (see `entered`). `derive_ahead` derives scripts
    ahead of every used branch's window.
    """

    def __init__(
        self,
        descriptors: Mapping[str, str],
        gap_limits: Mapping[str, int],
        network: Network,
        *,
        scripts: Iterable[WatchedScript] = (),
        ends: Mapping[BranchKey, int] | None = None,
        derive_ahead: bool = False,
    ) -> None:
        self._texts = dict(descriptors)
        self._network = network
        self._gap = {name: gap_limits.get(name, DEFAULT_GAP_LIMIT) for name in self._texts}
        self._derive_ahead = derive_ahead
        self._owner: dict[bytes, WatchedScript] = {w.script_pubkey: w for w in scripts}  # the store: one owner each
        self._end: dict[BranchKey, int] = dict(ends) if ends is not None else {}
        if ends is None:
            for watched in self._owner.values():
                key = (watched.wallet, watched.branch)
                if watched.index >= self._end.get(key, 0):
                    self._end[key] = watched.index + 1
        self._derived = dict(self._end)  # how far each branch is derived: its window, and ahead of it
        self._ahead: dict[BranchKey, list[WatchedScript]] = defaultdict(list)  # derived, not yet in the window
        self._entered: list[WatchedScript] = []
        first = {}
        for name in self._texts:
            stored = [branch for branch in Branch if (name, branch) in self._end]
            for branch in stored or self.descriptor(name).branches:
                first[(name, branch)] = self._gap[name]
        self.move_windows(first)
        if derive_ahead:  # ahead of every branch used before (one never used parses nothing until it is)
            for key in [key for key in self._end if key[0] in self._texts and self._end[key] > self._gap[key[0]]]:
                self._ahead[key] += self._derive(key, self._derived[key], self._end[key] + self._ahead_length(key[0]))

    def descriptor(self, name: str) -> WalletDescriptor:
        return parsed_descriptor(self._texts[name], self._network)

    def owner(self, script_pubkey: bytes) -> WatchedScript | None:
        return self._owner.get(script_pubkey)

    def counts(self, watched: WatchedScript) -> bool:
        """Whether a payment to this script counts now: it is in its branch's window."""
        return watched.index < self._end.get((watched.wallet, watched.branch), 0)

    def scripts_of(self, wallets: Collection[str]) -> set[bytes]:
        """Every script of these wallets to watch: their windows' and the ones derived ahead."""
        return {script for script, watched in self._owner.items() if watched.wallet in wallets}

    @property
    def entered(self) -> tuple[WatchedScript, ...]:
        """The scripts that joined a window since `take_entered` was last called."""
        return tuple(self._entered)

    def take_entered(self) -> list[WatchedScript]:
        """The scripts that joined a window since the last call (the store keeps them)."""
        entered, self._entered = self._entered, []
        return entered

    def windows_after(self, credits: Iterable[Credit]) -> dict[BranchKey, int]:
        """Where the windows of the branches these payments touch end once the payments that count are
        counted (those in a window, which a counted payment may move to reach others). Moves nothing."""
        indexes: dict[BranchKey, list[int]] = defaultdict(list)
        for credit in credits:
            watched = self._owner.get(credit.script_pubkey)
            if watched is not None:
                indexes[(watched.wallet, watched.branch)].append(watched.index)
        moved = {}
        for key, found in indexes.items():
            end = start = self._end.get(key, 0)
            gap = self._gap[key[0]]
            for index in sorted(found):
                if index >= end:
                    break
                end = max(end, index + 1 + gap)
            if end > start:
                moved[key] = end
        return moved

    def move_windows(self, ends: Mapping[BranchKey, int]) -> Moved:
        """Moves windows to end at `ends`, deriving what is missing in one batch per branch."""
        entered: list[WatchedScript] = []
        derived: list[WatchedScript] = []
        for key, end in ends.items():
            if end <= self._end.get(key, 0):
                continue
            have = self._derived.get(key, 0)
            want = end
            if self._derive_ahead:
                ahead = self._ahead_length(key[0])
                want = end + ahead if have < end + ahead // 2 else have
            if want > have:
                new = self._derive(key, have, want)
                derived += new
                self._ahead[key] += new
            pending = self._ahead[key]
            joined = 0
            while joined < len(pending) and pending[joined].index < end:
                joined += 1
            entered += pending[:joined]
            del pending[:joined]
            self._end[key] = end
        self._entered += entered
        return Moved(tuple(entered), tuple(derived))

    def derive_further(self, wallets: Collection[str], count: int) -> list[WatchedScript]:
        """Derives `count` more scripts ahead on every branch of these wallets (one batch each)."""
        derived = []
        for key in [key for key in self._end if key[0] in wallets]:
            have = self._derived.get(key, 0)
            new = self._derive(key, have, have + count)
            self._ahead[key] += new
            derived += new
        return derived

    def _ahead_length(self, name: str) -> int:
        return min(max(self._gap[name], AHEAD_MIN), AHEAD_MAX)

    def _derive(self, key: BranchKey, start: int, stop: int) -> list[WatchedScript]:
        name, branch = key
        new = []
        for script in self.descriptor(name).derive(branch, start, stop):
            watched = WatchedScript(name, branch, script.index, script.script_pubkey)
            # A script another wallet already holds stays that wallet's (registration refuses overlaps;
            # two descriptors can still meet further along their ranges).
            if self._owner.setdefault(script.script_pubkey, watched) is watched:
                new.append(watched)
        self._derived[key] = stop
        return new
