"""The main job: build a scenario's chain through Bitcoin Core's engine and run the real pipeline on it.

Everything after the build is the code a user runs against their own node; only the chain
is made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.scanner import Credit
from boveda.errors import BovedaError
from boveda.scenario.load import load_scenario
from boveda.scenario.run import BuiltScenario, build_scenario, planned_block_count
from boveda.wallets.descriptors import parse_descriptor
from boveda.wallets.watch import WatchSet, scan_wallets

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "article.toml"


@dataclass(frozen=True, slots=True)
class WalletSummary:
    name: str
    owner: str
    balance_sat: int
    transaction_count: int
    expected_balance_sat: int  # the builder's own accounting

    @property
    def agrees(self) -> bool:
        return self.balance_sat == self.expected_balance_sat


@dataclass(frozen=True, slots=True)
class DemoResult:
    folder: Path
    built: BuiltScenario
    tip_height: int
    tip_hash_hex: str
    wallets: tuple[WalletSummary, ...]


class Progress:
    """What the demo reports while it works; the CLI draws it, tests ignore it."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, done: int) -> None: ...


def prepare_folder(folder: Path) -> Path:
    folder = folder.expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BovedaError(f"{folder} is not empty: the demo builds into a fresh folder; pass --dir NEW_PATH")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_demo(folder: Path, scenario_path: Path | None = None, progress: Progress | None = None) -> DemoResult:
    progress = progress or Progress()
    scenario = load_scenario(scenario_path or DEFAULT_SCENARIO)
    folder = prepare_folder(folder)
    datadir = folder / "bitcoin"

    progress.stage("Building the regtest chain through Bitcoin Core's engine", planned_block_count(scenario))
    built = build_scenario(scenario, datadir, on_block=lambda height, _planned: progress.advance(height))

    tracked = [w for w in built.wallets if w.owner.startswith(("reserve:", "custody:"))]
    descriptors = {w.name: parse_descriptor(w.descriptor, Network.REGTEST) for w in tracked}
    with KernelSource(datadir, Network.REGTEST) as kernel:
        tip = kernel.tip()
        with BlockFileSource(datadir, Network.REGTEST, kernel=kernel) as files:
            progress.stage("Scanning the block files for every wallet", tip.height + 1)
            events = scan_wallets(
                files, WatchSet(descriptors), 0, tip.height, on_block=lambda block: progress.advance(block.height + 1)
            ).events
    balances = {w.name: 0 for w in tracked}
    txids: dict[str, set[bytes]] = {w.name: set() for w in tracked}
    for wallet_event in events:
        event = wallet_event.event
        if isinstance(event, Credit):
            balances[wallet_event.wallet] += event.value_sat
            txids[wallet_event.wallet].add(event.txid)
        else:
            balances[wallet_event.wallet] -= event.value_sat
            txids[wallet_event.wallet].add(event.spending_txid)
    summaries = tuple(
        WalletSummary(w.name, w.owner, balances[w.name], len(txids[w.name]), w.balance_sat) for w in tracked
    )
    return DemoResult(folder, built, tip.height, tip.hash_hex, summaries)
