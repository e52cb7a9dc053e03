"""The main job: build a scenario's chain through Bitcoin Core's engine and run the real pipeline on it.

Everything after the build — recording the book, registering wallets by descriptor, syncing
from the block files, exposure, reconciliation, statements — is the code a user runs against
their own node; only the chain and the book's contents are made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.audit import AuditReport
from boveda.book.domain import Lot
from boveda.errors import BovedaError
from boveda.proofs.demo import ProvedReserve, prove_and_verify
from boveda.reconcile.explain import explain
from boveda.reconcile.model import Reconciliation
from boveda.report.render_html import render_html
from boveda.scenario.book import record_book
from boveda.scenario.load import load_scenario
from boveda.scenario.run import BuiltScenario, build_scenario, planned_block_count
from boveda.service.integrity import verify_book
from boveda.service.reserve import reserve_statement, reserve_view
from boveda.service.wallets import SyncProgress, reserve_exposure, sync_book, wallet_view
from boveda.wallets.report import ExposureReport
from boveda.wallets.sync import SyncReport

DEFAULT_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "article.toml"
NETWORK = Network.REGTEST


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
class ReserveSummary:
    code: str
    reconciliation: Reconciliation
    sentences: tuple[str, ...]
    exposure: ExposureReport
    statement_path: Path


@dataclass(frozen=True, slots=True)
class DemoResult:
    folder: Path
    book_location: str
    built: BuiltScenario
    sync_report: SyncReport
    wallets: tuple[WalletSummary, ...]
    reserves: tuple[ReserveSummary, ...]
    proofs: tuple[ProvedReserve, ...]
    audit: AuditReport
    lots: tuple[Lot, ...] = ()  # the custody cases' lots, in every state they reached


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

    book_location = str(folder / "boveda.db")
    Book.init(book_location)
    with Book.open(book_location, operator="demo") as book:  # every audited event names who recorded it
        progress.stage("Recording the book and registering wallets by descriptor", len(built.book_records))
        record_book(book, built, NETWORK)
        progress.advance(len(built.book_records))
        sync_report = sync_book(book, datadir, NETWORK.value, progress=SyncProgress(
            start=lambda total: progress.stage("Syncing the wallets from the block files", total),
            block=progress.advance))

        wallets = _wallet_summaries(book, built)
        reserves = []
        for reserve in book.reserves():
            view = reserve_view(book, reserve.code)
            exposed = reserve_exposure(book, reserve.code)
            statement_path = folder / f"statement-{reserve.code}.html"
            statement_path.write_text(render_html(reserve_statement(book, reserve.code), audit_head=book.audit_head()),
                                      encoding="utf-8")
            reserves.append(ReserveSummary(reserve.code, view.reconciliation, explain(view.reconciliation),
                                           exposed, statement_path))
        progress.stage("Proving each reserve at the tip (BIP-322) and verifying the bundles", len(reserves))
        proofs = tuple(prove_and_verify(book, built, folder))
        progress.advance(len(reserves))
        audit = verify_book(book)
        lots = tuple(book.lots())
    return DemoResult(folder, book_location, built, sync_report, wallets, tuple(reserves), proofs, audit, lots)


def _wallet_summaries(book: Book, built: BuiltScenario) -> tuple[WalletSummary, ...]:
    summaries = []
    for wallet in built.wallets:
        if not wallet.owner.startswith(("reserve:", "custody:")):
            continue
        state = wallet_view(book, wallet.name)
        summaries.append(WalletSummary(wallet.name, wallet.owner, state.balance_sat, len(state.history),
                                       wallet.balance_sat))
    return tuple(summaries)
