"""A kernel-built regtest chain with a reserve's and a custody case's wallets, and a book that records them.

The simulation's software wallets sign real spends of the book's coins afterwards, for a
bitcoind serving a copy of the chain to take into its mempool and mine.
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.derivation import Branch
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import Transaction
from boveda.book import Book
from boveda.book.store import Store
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import WalletKind
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync
from boveda.wallets.tables import chain_blocks, chain_settings, chain_txs, txos

REGTEST = Network.REGTEST
COIN = 100_000_000
LABEL = "follower tests"
RESERVE = "R"
CASE = "CASE-1"
RESERVE_WALLETS = {"hot": WalletKind.WPKH, "cold": WalletKind.WSH_SORTEDMULTI}
CUSTODY_WALLET = "seized"
P2WSH_TRUE_ADDRESS = "bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85"  # anyone can spend


@dataclass
class ReserveChain:
    sim: Simulation  # closed: it signs, it no longer mines
    datadir: Path  # the pristine chain: copy it before a node runs on it
    book_location: str  # synced from the block files to `tip_height`
    unsynced_book_location: str  # the same book before any sync
    birth_height: int
    tip_height: int
    funding_txid: str

    def copy_datadir(self, folder: Path) -> Path:
        shutil.copytree(self.datadir, folder)
        return folder

    def copy_book(self, folder: Path, *, synced: bool = True) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "book.db"
        shutil.copyfile(self.book_location if synced else self.unsynced_book_location, target)
        return str(target)

    def address(self, wallet: str, index: int = 2) -> str:
        """A receive address of one of the simulation's wallets (index 2: unused by the chain, watched by the book)."""
        return script_to_address(self.sim.wallet(wallet).script_pubkey(Branch.RECEIVE, index), REGTEST)

    def spend(self, wallet: str, value_sat: int = COIN // 2, *, to: str = "outsider", nth: int = 0,
              fee_sat: int | None = None) -> Transaction:
        """A signed transaction paying `value_sat` of `wallet`'s `nth` largest coin of the pristine chain to `to`
        (change back to the wallet). Each call spends that coin anew: spend another `nth` in the same chain."""
        coin = sorted(self.sim.utxos(wallet), key=lambda u: -u.value_sat)[nth]
        tx = self.sim.pay(wallet, [(self.sim.receive_script(to), value_sat)], utxos=[coin.outpoint], fee_sat=fee_sat)
        self.sim.discard_pending()  # the node mines it, not the simulation
        return tx


def build_reserve_chain(folder: Path) -> ReserveChain:
    sim = Simulation(folder / "bitcoin", seed_label=LABEL)
    for name, kind in RESERVE_WALLETS.items():
        sim.add_wallet(name, kind)
    sim.add_wallet(CUSTODY_WALLET, WalletKind.WPKH)
    sim.add_wallet("outsider", WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    birth = sim.height
    funding = sim.pay("miner", [(sim.receive_script("hot"), 5 * COIN), (sim.receive_script("hot"), 4 * COIN),
                                (sim.receive_script("cold"), 7 * COIN), (sim.receive_script(CUSTODY_WALLET), 3 * COIN)])
    sim.mine()
    day = datetime.datetime.fromtimestamp(sim.tip_time, datetime.UTC).date().isoformat()
    topup = sim.pay("miner", [(sim.receive_script("cold"), COIN)])
    sim.mine_blocks(3)
    tip = sim.height
    sim.close()

    location = str(folder / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve(RESERVE, name="Test reserve")
        book.add_case(CASE, agency="Test agency")
        for name in RESERVE_WALLETS:
            register_wallet(book, name, sim.wallet(name).multipath_descriptor(), network=REGTEST, reserve=RESERVE,
                            birth_height=birth, gap_limit=20)
        register_wallet(book, CUSTODY_WALLET, sim.wallet(CUSTODY_WALLET).multipath_descriptor(), network=REGTEST,
                        case=CASE, birth_height=birth, gap_limit=20)
        book.add_purchase(reserve=RESERVE, amount_sat=16 * COIN, txid=funding.txid_hex, date=day)
        book.add_purchase(reserve=RESERVE, amount_sat=COIN, txid=topup.txid_hex, date=day)
        book.seize_lot(case=CASE, amount_sat=3 * COIN, txid=funding.txid_hex, date=day)
    unsynced = str(folder / "book-unsynced.db")
    shutil.copyfile(location, unsynced)
    with Book.open(location) as book, KernelSource(sim.datadir, REGTEST) as kernel, \
            BlockFileSource(sim.datadir, REGTEST, kernel=kernel) as files:
        sync(book.store, files, network=REGTEST)
    return ReserveChain(sim, sim.datadir, location, unsynced, birth, tip, funding.txid_hex)


def chain_facts(location: str) -> dict[str, list[tuple]]:
    """Every chain fact a book holds, sorted: two books with equal facts have equal balances at every height."""
    with Store(location) as store, store.read() as conn:
        return {table.name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
                for table in (txos, chain_txs, chain_blocks)}


def book_state(location: str) -> tuple:
    """What must not change when a command is refused: the audit head, the chain settings and facts, the alerts."""
    with Store(location) as store, store.read() as conn:
        head = tuple(conn.execute(sa.text("SELECT seq, hash FROM audit_head")).one())
        settings = sorted(tuple(r) for r in conn.execute(sa.select(chain_settings)))
        alert_count = conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar()
    return head, settings, chain_facts(location), alert_count
