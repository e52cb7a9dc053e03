"""`boveda sync` speed: 50 wallets with ~100,000 derived scripts synced over the bench chain, then new
blocks one at a time; each figure beside its baseline measured in the same run.

    .venv/bin/python bench/sync.py            # 2,000 blocks x 10 payments (built once, cached)
    .venv/bin/python bench/sync.py --quick    # 200 blocks x 10 payments, 5 wallets: checks the bench runs
    .venv/bin/python bench/sync.py --postgres postgresql://postgres@127.0.0.1:5432/test
                                              # the books in new PostgreSQL schemas (dropped afterwards)

(a) The initial sync, by a `Syncer` that is then kept, and by `sync()` for a second book. Baselines:
the compiled walk over the same blocks with the scripts the sync ended with (target: sync <= 3x),
and deriving, in batches, the scripts the sync derived (work the walk alone never does).
(b) New blocks mined onto the copy one at a time: the kept Syncer's step (what the follower does;
target p50 <= 10 ms) and a one-off `sync()` of the same block in the second book. Baseline: the
compiled walk of that block with every watched script.
(c) 100,000 scripts of unused wallets over bench/scan.py's chain (2,000 x 270 payments, none to
them): the initial sync where the walk, not derivation, is the work, against the same baseline.

Why not bench/scan.py's chain (2,000 x 270): its payments all go to the 20 simulation wallets
w00..w19, one fresh address each, so those wallets alone would derive ~1,000,000 scripts. Here
the same helper builds 2,000 blocks of 10 payments, so the 20 real wallets derive ~2,000 scripts
each (default gap limit 20) and 30 unused wallets 2,000 each (gap limit 1,000): ~100,000.

The cached chain is never opened in place (the kernel rewrites LevelDB files even to read):
the bench works on a copy in a temporary folder, and mines the new blocks onto that copy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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
from boveda.chain.scanner import Credit, Scanner, Walk
from boveda.keys.software_wallet import Branch, SoftwareWallet, WalletKind, seed_from_label
from boveda.wallets.descriptors import parse_descriptor
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import Syncer, sync, sync_lock
from boveda.wallets.tables import txos, wallet_scripts

REGTEST = Network.REGTEST
SEED = 7  # bench/_chain.py's default: its wallets are seeded from "bench-7/<name>/0"
RESERVE = "BENCH"
OTHER_KINDS = (WalletKind.WPKH, WalletKind.WSH_SORTEDMULTI, WalletKind.TR)
NEW_BLOCK_PAYMENTS = 10


class Took(float):
    """Seconds of wall time, with the CPU seconds of this process beside them (`cpu`): on a shared
    machine the wall time also holds the waits for a CPU; the CPU time does not (nor the disk's)."""

    cpu: float


def timed(action):
    started, started_cpu = time.perf_counter(), time.process_time()
    result = action()
    took = Took(time.perf_counter() - started)
    took.cpu = time.process_time() - started_cpu
    return took, result


def ratio(numerator: Took, denominator: Took) -> str:
    return f"{numerator / denominator:.1f}x (CPU {numerator.cpu / denominator.cpu:.1f}x)"


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


def derived_per_branch(store) -> dict[tuple[str, int], int]:
    with store.read() as conn:
        return {(w, b): top + 1 for w, b, top in conn.execute(
            sa.select(wallet_scripts.c.wallet, wallet_scripts.c.branch, sa.func.max(wallet_scripts.c.idx))
            .group_by(wallet_scripts.c.wallet, wallet_scripts.c.branch))}


def derivation_baseline(descriptors: dict[str, str], before: dict, after: dict) -> tuple[Took, int]:
    """(time, scripts): deriving, in one batch per branch, the scripts a sync derived."""
    parsed = {name: parse_descriptor(text, REGTEST) for name, text in descriptors.items()}
    return timed(lambda: sum(len(parsed[name].derive(Branch(branch), before.get((name, branch), 0), stop))
                             for (name, branch), stop in after.items()))


def p50_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def register_all(book: Book, real: dict, others: dict, other_gap: int) -> None:
    for name, wallet in real.items():
        register_wallet(book, name, wallet.multipath_descriptor(), network=REGTEST, reserve=RESERVE)
    for name, wallet in others.items():
        register_wallet(book, name, wallet.multipath_descriptor(), network=REGTEST, reserve=RESERVE,
                        gap_limit=other_gap)


def run(locations: tuple[str, str], datadir: Path, real_count: int, other_count: int, other_gap: int,
        new_blocks: int) -> None:
    """Book A is synced by a kept Syncer (as the follower keeps one), book B by a one-off sync() per call."""
    books = []
    real = {f"w{i:02d}": real_wallet(f"w{i:02d}") for i in range(real_count)}
    others = {f"other{i:02d}": other_wallet(i) for i in range(other_count)}
    for location in locations:
        Book.init(location)
        book = Book.open(location)
        book.add_reserve(RESERVE, name="Bench reserve")
        register_s, _ = timed(lambda book=book: register_all(book, real, others, other_gap))
        books.append(book)
    kept, oneoff = books
    print(f"books: {describe(locations[0])}, {describe(locations[1])}")
    print(f"registered {len(real) + len(others)} wallets in {register_s:.1f} s "
          f"({len(real)} paid on the chain, gap limit 20; {len(others)} unused, gap limit {other_gap})")
    descriptors = {w.name: w.descriptor for w in kept.wallets()}
    before = derived_per_branch(kept.store)

    # (a) the initial sync, and the compiled walk over the same blocks with the scripts it ended with
    kernel, files = open_sources(datadir)
    tip = kernel.tip().height
    syncer = Syncer(kept.store, network=REGTEST)
    sync_s, report = timed(lambda: syncer.sync_to_tip(files))
    oneoff_s, _ = timed(lambda: sync(oneoff.store, files, network=REGTEST))
    with kept.store.read() as conn:
        watched = [bytes(s) for s in conn.execute(sa.select(wallet_scripts.c.script_pubkey)).scalars()]
    after = derived_per_branch(kept.store)
    walk_s, events = timed(lambda: list(Scanner(watched, walk=Walk.COMPILED).scan(files, 0, tip)))
    derive_s, derived = derivation_baseline(descriptors, before, after)
    found = (sum(isinstance(e, Credit) for e in events), sum(not isinstance(e, Credit) for e in events))
    assert found == (report.credits, report.debits), (found, report)
    print(f"chain: {tip + 1:,} blocks ({sum(files.location(h).length for h in range(tip + 1)) / 1e6:.1f} MB); "
          f"{len(watched):,} derived scripts after the sync, {derived:,} of them derived by it\n")
    both = Took(walk_s + derive_s)
    both.cpu = walk_s.cpu + derive_s.cpu
    print(f"(a) initial sync, blocks 0..{tip}:      {sync_s:7.2f} s (CPU {sync_s.cpu:.2f} s)   {report.credits:,} coins "
          f"received, {report.debits:,} spent; {oneoff_s:.2f} s (CPU {oneoff_s.cpu:.2f} s) for the second book, by sync()")
    print(f"    baseline: compiled walk, same blocks and scripts:  {walk_s:7.3f} s (CPU {walk_s.cpu:.3f} s)   "
          f"sync / walk = {ratio(sync_s, walk_s)}   target <= 3x")
    print(f"    baseline: deriving the {derived:,} scripts it derived:   {derive_s:7.3f} s (CPU {derive_s.cpu:.3f} s)   "
          f"sync / (walk + deriving) = {ratio(sync_s, both)}")
    close_sources(kernel, files)

    # (b) one new block at a time, mined onto the copy; both books follow it
    base = Scanner(watched, walk=Walk.COMPILED)
    steps: dict[bool, list[Took]] = {True: [], False: []}
    oneoffs: list[Took] = []
    walks: list[Took] = []
    for index in range(new_blocks):
        fresh = index % 2 == 0
        new_height = mine_new_block(datadir, kept, real, NEW_BLOCK_PAYMENTS, fresh=fresh)
        kernel, files = open_sources(datadir)
        raw = next(files.raw_blocks(new_height, new_height, with_undo=False))
        base.scan_raw_block(raw.height, raw.block)  # indexes the baseline's scripts once, then times a walk
        walk_block_s, _ = timed(lambda raw=raw: base.scan_raw_block(raw.height, raw.block))
        with sync_lock(kept.store):  # the follower holds it for as long as it runs
            step_s, step = timed(lambda files=files: syncer.sync_to_tip(files))
        oneoff_s, again = timed(lambda files=files: sync(oneoff.store, files, network=REGTEST))
        close_sources(kernel, files)
        assert step.blocks_scanned == again.blocks_scanned == 1 and (step.credits, step.debits) == (again.credits,
                                                                                                    again.debits)
        steps[fresh].append(step_s)
        oneoffs.append(oneoff_s)
        walks.append(walk_block_s)
    scripts_now = sum(derived_per_branch(kept.store).values())
    all_steps = steps[True] + steps[False]
    print(f"\n(b) {new_blocks} new blocks, one at a time ({NEW_BLOCK_PAYMENTS} payments each; fresh addresses and "
          f"reused ones in turn), at {scripts_now:,} watched scripts, p50:")
    cpu = {name: [t.cpu for t in times] for name, times in (("steps", all_steps), ("oneoffs", oneoffs))}
    print(f"    kept Syncer, one block:               {p50_ms(all_steps):7.2f} ms (CPU {p50_ms(cpu['steps']):.2f})   "
          f"fresh {p50_ms(steps[True]):.2f}, reused {p50_ms(steps[False]):.2f}; max {max(all_steps) * 1000:.2f}   "
          "target <= 10 ms")
    print(f"    one-off sync() of that block:         {p50_ms(oneoffs):7.2f} ms (CPU {p50_ms(cpu['oneoffs']):.2f})")
    print(f"    baseline: compiled walk of the block: {p50_ms(walks):7.3f} ms   "
          f"kept Syncer / walk = {statistics.median(all_steps) / statistics.median(walks):.0f}x")
    for book in books:
        book.close()


def walk_bound(location: str, folder: Path, quick: bool) -> None:
    """(c) The same kind of watch set over bench/scan.py's chain, whose payments go to other wallets: a
    sync with nothing to derive, against the compiled walk of the same blocks and scripts."""
    blocks, txs, count, gap = (200, 50, 5, 100) if quick else (2000, 270, 50, 1000)
    cached, _ = bench_chain(blocks, txs)
    datadir = folder / f"datadir-{blocks}x{txs}"
    shutil.copytree(cached, datadir)
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve(RESERVE, name="Bench reserve")
        register_all(book, {}, {f"other{i:02d}": other_wallet(i) for i in range(count)}, gap)
        kernel, files = open_sources(datadir)
        tip = kernel.tip().height
        megabytes = sum(files.location(h).length for h in range(tip + 1)) / 1e6
        sync_s, report = timed(lambda: sync(book.store, files, network=REGTEST))
        with book.store.read() as conn:
            watched = [bytes(s) for s in conn.execute(sa.select(wallet_scripts.c.script_pubkey)).scalars()]
        walk_s, events = timed(lambda: list(Scanner(watched, walk=Walk.COMPILED).scan(files, 0, tip)))
        close_sources(kernel, files)
    assert not events and (report.credits, report.debits) == (0, 0)
    print(f"\n(c) {len(watched):,} scripts of {count} unused wallets over bench/scan.py's chain ({tip + 1:,} blocks, "
          f"{megabytes:.0f} MB; no payment to them):")
    print(f"    initial sync:                                      {sync_s:7.3f} s (CPU {sync_s.cpu:.3f} s)")
    print(f"    baseline: compiled walk, same blocks and scripts:  {walk_s:7.3f} s (CPU {walk_s.cpu:.3f} s)   "
          f"sync / walk = {ratio(sync_s, walk_s)}   target <= 3x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 blocks, 5 wallets (checks the bench runs)")
    parser.add_argument("--postgres", metavar="URL",
                        help="a PostgreSQL database URL where the books get schemas of their own, dropped afterwards "
                             "(default: SQLite files)")
    parser.add_argument("--new-blocks", type=int, default=11, help="new blocks for (b) (default 11)")
    args = parser.parse_args()
    blocks, real_count, other_count, other_gap = (200, 3, 2, 100) if args.quick else (2000, 20, 30, 1000)

    cached, _ = bench_chain(blocks, 10)
    with tempfile.TemporaryDirectory(prefix="boveda-bench-sync-") as folder:
        datadir = Path(folder) / "datadir"
        shutil.copytree(cached, datadir)
        if args.postgres is None:
            run((str(Path(folder) / "kept.db"), str(Path(folder) / "oneoff.db")), datadir, real_count, other_count,
                other_gap, args.new_blocks)
            walk_bound(str(Path(folder) / "walk-bound.db"), Path(folder), args.quick)
            return
        import psycopg

        schemas = [f"boveda_bench_{uuid.uuid4().hex[:12]}" for _ in range(3)]
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            for schema in schemas:
                admin.execute(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in args.postgres else "?"
        urls = [f"{args.postgres}{separator}options=-csearch_path%3D{schema}" for schema in schemas]
        try:
            run((urls[0], urls[1]), datadir, real_count, other_count, other_gap, args.new_blocks)
            walk_bound(urls[2], Path(folder), args.quick)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                for schema in schemas:
                    admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
