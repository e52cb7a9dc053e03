"""The exposure report on a crafted chain: an address for each reason, and addresses with none."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from _book_fixtures import backend, book_location, postgres_url  # noqa: F401

from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import OutPoint, Transaction
from boveda.book import Book
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import Branch, WalletKind
from boveda.wallets.registry import register_wallet
from boveda.wallets.report import exposure
from boveda.wallets.sync import sync

REGTEST = Network.REGTEST
COIN = 100_000_000
CAP_SAT = 2 * COIN
REVEALED, TAPROOT, REUSED, OVER_CAP = "key revealed (spent from)", "key in output (taproot)", "reused", "over cap"


@dataclass(frozen=True)
class ExposureChain:
    sim: Simulation
    reused: bytes  # cold: paid in two blocks, one coin spent: key revealed and reused, 0.5 BTC left
    quiet: bytes  # cold: paid once, never spent, under the cap: nothing to report
    emptied: bytes  # cold: paid once, then all spent: nothing left to expose
    big: bytes  # vault: 3 BTC at one address, over the 2 BTC cap
    vault_reused: bytes  # vault: two coins, one spent (the witness script shows every key)
    taproot: bytes  # tap: the output key is the key
    seized: bytes  # a case's custody wallet: not the reserve's


def _outpoint(tx: Transaction, script: bytes, skip: int = 0) -> OutPoint:
    vouts = [i for i, out in enumerate(tx.outputs) if out.script_pubkey == script]
    return OutPoint(tx.txid, vouts[skip])


def exposure_chain(datadir: Path) -> ExposureChain:
    sim = Simulation(datadir)
    for name, kind in (("cold", WalletKind.WPKH), ("vault", WalletKind.WSH_SORTEDMULTI), ("tap", WalletKind.TR),
                       ("seized", WalletKind.WPKH)):
        sim.add_wallet(name, kind)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    cold, vault = sim.wallet("cold"), sim.wallet("vault")
    chain = ExposureChain(
        sim, cold.script_pubkey(Branch.RECEIVE, 0), cold.script_pubkey(Branch.RECEIVE, 1),
        cold.script_pubkey(Branch.RECEIVE, 2), vault.script_pubkey(Branch.RECEIVE, 0),
        vault.script_pubkey(Branch.RECEIVE, 1), sim.wallet("tap").script_pubkey(Branch.RECEIVE, 0),
        sim.wallet("seized").script_pubkey(Branch.RECEIVE, 0),
    )
    funding = sim.pay("miner", [(chain.reused, COIN), (chain.quiet, 3 * COIN // 10), (chain.emptied, COIN // 10),
                                (chain.big, 3 * COIN), (chain.vault_reused, COIN), (chain.vault_reused, COIN),
                                (chain.taproot, 7 * COIN // 10), (chain.seized, 5 * COIN)])
    sim.mine()
    sim.pay("miner", [(chain.reused, COIN // 2)])  # the same address, paid again a block later
    sim.mine()
    away = sim.receive_script("miner")
    sim.pay("cold", [(away, COIN // 5)], utxos=[_outpoint(funding, chain.reused)])
    sim.sweep("cold", away, utxos=[_outpoint(funding, chain.emptied)])
    sim.sweep("vault", away, utxos=[_outpoint(funding, chain.vault_reused)])
    sim.mine()
    sim.mine()
    return chain


def synced_book(location: str, chain: ExposureChain, *, cap_sat: int | None = CAP_SAT) -> Book:
    Book.init(location)
    book = Book.open(location)
    book.add_reserve("R", name="Reserve", address_cap_sat=cap_sat)
    book.add_case("C-1", agency="Agency")
    for name in ("cold", "vault", "tap"):
        register_wallet(book, name, chain.sim.wallet(name).multipath_descriptor(), network=REGTEST, reserve="R")
    register_wallet(book, "seized", chain.sim.wallet("seized").multipath_descriptor(), network=REGTEST, case="C-1")
    with chain.sim.released() as datadir, KernelSource(datadir, REGTEST) as kernel, \
            BlockFileSource(datadir, REGTEST, kernel=kernel) as files:
        sync(book.store, files, network=REGTEST)
    return book


def address(script: bytes) -> str:
    return script_to_address(script, REGTEST)


def test_each_reason_of_exposure(book_location, tmp_path):  # noqa: F811
    chain = exposure_chain(tmp_path / "chain")
    sim = chain.sim
    book = synced_book(book_location, chain)
    with book.store.read() as conn:
        report = exposure(conn, "R", REGTEST, CAP_SAT)
    lines = {a.address: (a.wallet, a.balance_sat, a.reasons) for a in report.addresses}
    assert lines == {
        address(chain.big): ("vault", 3 * COIN, (OVER_CAP,)),
        address(chain.vault_reused): ("vault", COIN, (REVEALED, REUSED)),
        address(chain.taproot): ("tap", 7 * COIN // 10, (TAPROOT,)),
        address(chain.reused): ("cold", COIN // 2, (REVEALED, REUSED)),
    }
    assert [a.balance_sat for a in report.addresses] == sorted((a.balance_sat for a in report.addresses), reverse=True)
    assert report.total_sat == sum(sim.balance_sat(name) for name in ("cold", "vault", "tap"))
    assert report.total_sat > sum(balance for _, balance, _ in lines.values())  # quiet coins and change are held too
    assert (report.revealed_sat, report.reused_sat, report.over_cap_sat) == (
        COIN // 2 + COIN + 7 * COIN // 10, COIN // 2 + COIN, 3 * COIN)
    assert (report.reserve, report.height, report.address_cap_sat) == ("R", sim.height, CAP_SAT)
    assert report.to_json()["totals"] == {"holdings_sat": report.total_sat, "revealed_key_sat": report.revealed_sat,
                                          "reused_address_sat": report.reused_sat, "over_cap_sat": report.over_cap_sat}
    sim.close()


def test_no_cap_means_nothing_over_it_and_an_empty_reserve_reports_nothing(book_location, tmp_path):  # noqa: F811
    chain = exposure_chain(tmp_path / "chain")
    book = synced_book(book_location, chain, cap_sat=None)
    book.add_reserve("EMPTY", name="No wallets")
    with book.store.read() as conn:
        report = exposure(conn, "R", REGTEST, None)
        empty = exposure(conn, "EMPTY", REGTEST, None)
    assert address(chain.big) not in {a.address for a in report.addresses}
    assert report.over_cap_sat == 0 and report.address_cap_sat is None
    assert (empty.total_sat, empty.addresses) == (0, ())
    chain.sim.close()
