"""`boveda sync` speed: 50 wallets with ~100,000 derived scripts synced over the bench chain, an
incremental sync of one new block, and the raw scanner over the same range as the named baseline.

    .venv/bin/python bench/sync.py            # 2,000 blocks x 10 payments (built once, cached)
    .venv/bin/python bench/sync.py --quick    # 200 blocks x 10 payments, 5 wallets: checks the bench runs
    .venv/bin/python bench/sync.py --postgres postgresql://postgres@127.0.0.1:5432/test
                                              # the book in a new PostgreSQL database (dropped afterwards)

Why not bench/scan.py's chain (2,000 x 270): its payments all go to the 20 simulation wallets
w00..w19, one fresh address each, so those wallets alone would derive ~1,000,000 scripts. Here
the same helper builds 2,000 blocks of 10 payments, so the 20 real wallets derive ~2,000 scripts
each (default gap limit 20) and 30 unused wallets 2,000 each (gap limit 1,000): ~100,000.

The cached chain is never opened in place (the kernel rewrites LevelDB files even to read):
the bench works on a copy in a temporary folder, and mines the new block onto that copy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from _chain import bench_chain

from boveda.bitcoin.network import Network
from boveda.bitcoin.sighash import TxDigests
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.book import Book
from boveda.book.store import describe
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import RegtestBuilder
from boveda.chain.regtest.wallets import Branch, SoftwareWallet, WalletKind, seed_from_label
from boveda.chain.scanner import Credit, Scanner
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync
from boveda.wallets.tables import txos, wallet_scripts

REGTEST = Network.REGTEST
SEED = 7  # bench/_chain.py's default: its wallets are seeded from "bench-7/<name>/0"
RESERVE = "BENCH"
OTHER_KINDS = (WalletKind.WPKH, WalletKind.WSH_SORTEDMULTI, WalletKind.TR)
NEW_BLOCK_PAYMENTS = 10


def timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def real_wallet(name: str) -> SoftwareWallet:
    """Wallet `name` of the bench chain, rebuilt from its seed as bench/_chain.py's Simulation made it."""
    return SoftwareWallet.wpkh(seed_from_label(f"bench-{SEED}/{name}/0"))


def other_wallet(index: int) -> SoftwareWallet:
    kind = OTHER_KINDS[index % len(OTHER_KINDS)]
    seeds = [seed_from_label(f"bench-sync-other/{index}/{i}") for i in range(3)]
    if kind == WalletKind.WSH_SORTEDMULTI:
        return SoftwareWallet.wsh_sortedmulti(2, seeds)
    return SoftwareWallet.tr(seeds[0]) if kind == WalletKind.TR else SoftwareWallet.wpkh(seeds[0])


def open_sources(datadir: Path):
    kernel = KernelSource(datadir, REGTEST)
    return kernel, BlockFileSource(datadir, REGTEST, kernel=kernel)


def close_sources(kernel, files) -> None:
    files.close()
    kernel.close()


def mine_new_block(datadir: Path, book: Book, wallets: dict[str, SoftwareWallet], payments: int, *,
                   fresh: bool) -> int:
    """One more block on the copy: `payments` spends of real wallets' coins, each to the next wallet.

    `fresh`: to the payee's next receive address, change to the payer's next change address, as
    a wallet hands them out (each moves a gap, so sync derives a script). Otherwise to the last
    used ones (address reuse: nothing to derive)."""
    with book.store.read() as conn:
        coins = conn.execute(
            sa.select(txos.c.wallet, txos.c.txid, txos.c.vout, txos.c.value_sat, txos.c.script_pubkey,
                      wallet_scripts.c.branch, wallet_scripts.c.idx)
            .join(wallet_scripts, wallet_scripts.c.script_pubkey == txos.c.script_pubkey)
            .where(txos.c.spent_txid.is_(None), txos.c.wallet.in_(list(wallets)))
            .order_by(txos.c.wallet, txos.c.value_sat.desc())
        ).all()
        last_used = defaultdict(lambda: -1)
        for wallet, branch, index in conn.execute(
            sa.select(wallet_scripts.c.wallet, wallet_scripts.c.branch, sa.func.max(wallet_scripts.c.idx))
            .join(txos, txos.c.script_pubkey == wallet_scripts.c.script_pubkey)
            .group_by(wallet_scripts.c.wallet, wallet_scripts.c.branch)
        ):
            last_used[(wallet, branch)] = index
    one_coin = {}
    for coin in coins:
        one_coin.setdefault(coin.wallet, coin)
    names = sorted(one_coin)[:payments]
    fee_sat = 1_000
    txs = []
    for payer, payee in zip(names, names[1:] + names[:1]):
        coin = one_coin[payer]
        wallet = wallets[payer]
        wallet.script_pubkey(Branch(coin.branch), coin.idx)  # the wallet holds the key to sign with
        if fresh:
            last_used[(payee, 0)] += 1
            last_used[(payer, 1)] += 1
        to_script = wallets[payee].script_pubkey(Branch.RECEIVE, last_used[(payee, 0)])
        change_script = wallet.script_pubkey(Branch.CHANGE, last_used[(payer, 1)])
        amount = coin.value_sat // 3
        spent = [TxOut(coin.value_sat, bytes(coin.script_pubkey))]
        unsigned = Transaction(2, (TxIn(OutPoint(bytes(coin.txid), coin.vout), b"", 0xFFFFFFFD),),
                               (TxOut(amount, to_script), TxOut(coin.value_sat - amount - fee_sat, change_script)), 0)
        witness = wallet.sign_input(unsigned, 0, spent, TxDigests.compute(unsigned))
        txs.append(Transaction(2, (TxIn(unsigned.inputs[0].prevout, b"", 0xFFFFFFFD, witness),), unsigned.outputs, 0))
    with RegtestBuilder(datadir) as builder:
        builder.mine(txs, coinbase_script=b"\x51", fees_sat=fee_sat * len(txs))
        return builder.height


def run(location: str, datadir: Path, real_count: int, other_count: int, other_gap: int) -> None:
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve(RESERVE, name="Bench reserve")
        real = {f"w{i:02d}": real_wallet(f"w{i:02d}") for i in range(real_count)}
        others = {f"other{i:02d}": other_wallet(i) for i in range(other_count)}

        def register_all():
            for name, wallet in real.items():
                register_wallet(book, name, wallet.multipath_descriptor(), network=REGTEST, reserve=RESERVE)
            for name, wallet in others.items():
                register_wallet(book, name, wallet.multipath_descriptor(), network=REGTEST, reserve=RESERVE,
                                gap_limit=other_gap)

        register_s, _ = timed(register_all)
        print(f"book: {describe(location)}")
        print(f"registered {len(real) + len(others)} wallets in {register_s:.1f} s "
              f"({len(real)} paid on the chain, gap limit 20; {len(others)} unused, gap limit {other_gap})")

        # (a) the initial sync
        open_s, (kernel, files) = timed(lambda: open_sources(datadir))
        tip = kernel.tip().height
        sync_s, report = timed(lambda: sync(book.store, files, network=REGTEST))
        with book.store.read() as conn:
            script_count = conn.execute(sa.select(sa.func.count()).select_from(wallet_scripts)).scalar()
            watched = [bytes(s) for s in conn.execute(sa.select(wallet_scripts.c.script_pubkey)).scalars()]
        print(f"chain: {tip + 1:,} blocks; {script_count:,} derived scripts after the sync\n")
        print(f"(a) initial sync, blocks 0..{tip}:        {sync_s:8.2f} s   "
              f"{report.credits:,} coins received, {report.debits:,} spent; "
              f"{report.earlier_blocks_searched:,} earlier blocks searched again for scripts derived on the way")
        print(f"    opening KernelSource + BlockFileSource: {open_s:8.3f} s")

        # (c) the raw scanner over the same range with the same scripts: the baseline
        scan_s, events = timed(lambda: list(Scanner(watched).scan(files, 0, tip)))
        found = (sum(isinstance(e, Credit) for e in events), sum(not isinstance(e, Credit) for e in events))
        print(f"(c) raw scanner, same blocks and scripts:   {scan_s:8.2f} s   "
              f"{found[0]:,} credits, {found[1]:,} debits")
        assert found == (report.credits, report.debits), (found, report)
        print(f"    sync / scanner: {sync_s / scan_s:.1f}x")
        close_sources(kernel, files)

        # (b) one new block at a time, mined onto the copy
        print()
        for fresh in (True, False):
            new_height = mine_new_block(datadir, book, real, NEW_BLOCK_PAYMENTS, fresh=fresh)
            open_s, (kernel, files) = timed(lambda: open_sources(datadir))
            assert kernel.tip().height == new_height
            step_s, step = timed(lambda files=files: sync(book.store, files, network=REGTEST))
            close_sources(kernel, files)
            assert step.blocks_scanned == 1 and step.tip_height == new_height
            with book.store.read() as conn:
                after = conn.execute(sa.select(sa.func.count()).select_from(wallet_scripts)).scalar()
            verdict = "within" if step_s < 0.050 else "MISSES"
            kind = "fresh addresses" if fresh else "reused addresses"
            print(f"(b) incremental sync of block {new_height}: {min(len(real), NEW_BLOCK_PAYMENTS)} "
                  f"payments to {kind} ({step.credits} coins received, {step.debits} spent, "
                  f"{after - script_count} scripts derived, {step.earlier_blocks_searched:,} earlier blocks "
                  "searched for them)")
            print(f"    sync step at {after:,} scripts:           {step_s * 1000:8.1f} ms   "
                  f"({verdict} the 50 ms target)")
            print(f"    opening KernelSource + BlockFileSource: {open_s * 1000:8.1f} ms")
            script_count = after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 blocks, 5 wallets (checks the bench runs)")
    parser.add_argument("--postgres", metavar="URL",
                        help="a PostgreSQL server URL that may create and drop a database (default: a SQLite file)")
    args = parser.parse_args()
    blocks, real_count, other_count, other_gap = (200, 3, 2, 100) if args.quick else (2000, 20, 30, 1000)

    cached, _ = bench_chain(blocks, 10)
    with tempfile.TemporaryDirectory(prefix="boveda-bench-sync-") as folder:
        datadir = Path(folder) / "datadir"
        shutil.copytree(cached, datadir)
        if args.postgres is None:
            run(str(Path(folder) / "book.db"), datadir, real_count, other_count, other_gap)
            return
        import psycopg

        name = f"boveda_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            run(f"{args.postgres.rsplit('/', 1)[0]}/{name}", datadir, real_count, other_count, other_gap)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
