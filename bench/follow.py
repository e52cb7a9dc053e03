"""Follow latency: from `generatetoaddress` returning to the follower's synced block, and to its alert.

    .venv/bin/python bench/follow.py                  # 100 blocks, 100,000 watched scripts (target p99 < 250 ms)
    .venv/bin/python bench/follow.py --scripts 1000   # the same with a small watch set, for comparison
    .venv/bin/python bench/follow.py --quick          # 10 blocks, 2,000 scripts: does it run?

A kernel-built chain gives one reserve wallet one coin per measured block; a real bitcoind serves a
copy of it; the book watches `--scripts` derived scripts (the reserve's, with a wide gap limit, and
decoys). Each round broadcasts an unauthorised spend of one of the reserve's coins (its
`pending_outflow` alert comes from the mempool at once), then times `generatetoaddress 1`: to the
follower's log line for the block (synced and committed), and to its `unrecorded_outflow` alert
(the block's holdings reconciled). The follower wakes on ZMQ, on its own thread in this process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))

from _bitcoind import Bitcoind, find_bitcoind

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.node_events import NodeEventKind, NodeEvents, Topic
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.follower.log import FollowLog
from boveda.follower.loop import Follower, FollowOptions
from boveda.keys.software_wallet import WalletKind
from boveda.service.chain import ChainOptions, book_route, rpc_client
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync

REGTEST = Network.REGTEST
COIN = 100_000_000
ANYONE = "bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85"
MAX_GAP = 10_000


def build(folder: Path, blocks: int, scripts: int):
    """The chain, the book watching `scripts` scripts, and the simulation that signs the reserve's spends."""
    sim = Simulation(folder / "bitcoin", seed_label="bench-follow")
    sim.add_wallet("vault", WalletKind.WPKH)
    decoys = max(0, (scripts - 1) // (2 * MAX_GAP))  # each wallet watches two branches of up to MAX_GAP
    for i in range(decoys):
        sim.add_wallet(f"decoy{i}", WalletKind.WPKH)
    sim.add_wallet("outsider", WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 1 + blocks // 40)
    birth = sim.height
    for start in range(0, blocks, 40):
        sim.pay("miner", [(sim.receive_script("vault"), COIN // 10) for _ in range(min(40, blocks - start))])
    sim.mine()
    sim.close()
    location = str(folder / "book.db")
    Book.init(location)
    per_wallet = max(1, min(MAX_GAP, scripts // (2 * (1 + decoys))))
    started = time.perf_counter()
    with Book.open(location) as book:
        book.add_reserve("R", name="Bench reserve")
        for name in ["vault"] + [f"decoy{i}" for i in range(decoys)]:
            register_wallet(book, name, sim.wallet(name).multipath_descriptor(), network=REGTEST, reserve="R",
                            birth_height=birth, gap_limit=per_wallet)
        with KernelSource(sim.datadir, REGTEST) as kernel, \
                BlockFileSource(sim.datadir, REGTEST, kernel=kernel) as files:
            sync(book.store, files, network=REGTEST)
        with book.store.read() as conn:
            watched = conn.exec_driver_sql("SELECT count(*) FROM wallet_scripts").scalar()
    print(f"book: {watched:,} watched scripts in {1 + decoys} wallets (derived in {time.perf_counter() - started:.1f} s)")
    return sim, location


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--scripts", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.scripts = 10, 2_000
    binary = find_bitcoind()
    if binary is None:
        sys.exit("no bitcoind: set BITCOIND or put one in ../shared/bin")
    with tempfile.TemporaryDirectory(prefix="boveda-bench-follow-") as folder:
        sim, location = build(Path(folder), args.blocks, args.scripts)
        node = Bitcoind(binary, sim.datadir)
        node.start()
        try:
            run(args, sim, node, location)
        finally:
            node.stop()


def run(args, sim: Simulation, node: Bitcoind, location: str) -> None:
    node.cli("generatetoaddress", 1, ANYONE)  # out of initial block download
    lines: list[dict] = []
    arrived = threading.Condition()

    def write(line: str) -> None:
        with arrived:
            lines.append(json.loads(line))
            arrived.notify_all()

    book = Book.open(location)
    follower = Follower(book, rpc_client(book_route(book, ChainOptions(rpc_url=node.rpc_url))),
                        FollowOptions(zmq_urls=(node.zmq_url,)), FollowLog(write, as_json=True))
    thread = threading.Thread(target=follower.run, daemon=True)
    thread.start()

    def wait_for(found, timeout_s: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout_s
        with arrived:
            while True:
                for line in reversed(lines):
                    if found(line):
                        return line
                if not arrived.wait(max(0.0, deadline - time.monotonic())):
                    raise SystemExit(f"timed out; last lines: {[line['message'] for line in lines[-5:]]}")

    tip = node.cli("getblockcount")
    wait_for(lambda line: line["event"] == "block" and line["height"] == tip)
    coins = sorted(sim.utxos("vault"), key=lambda u: (u.height, u.outpoint.vout))
    to_block, to_alert, to_pending, to_notice = [], [], [], []
    hashblock = NodeEvents(node.zmq_url, (Topic.HASHBLOCK,))  # the baseline: the node's own notification
    assert hashblock.wait_connected(10)
    for coin in coins[: args.blocks]:
        tx = sim.pay("vault", [(sim.receive_script("outsider"), COIN // 20)], utxos=[coin.outpoint])
        sim.discard_pending()
        sent = time.time()
        node.cli("sendrawtransaction", tx.serialize().hex())
        txid = tx.txid_hex
        pending = wait_for(lambda line, txid=txid: line["event"] == "alert" and line["alert"]["txid"] == txid)
        to_pending.append(pending["unix_time"] - sent)
        started = time.time()
        (mined,) = node.cli("generatetoaddress", 1, ANYONE)
        while not any(e.kind is NodeEventKind.NEW_TIP and e.hash_hex == mined for e in hashblock.wait(10)):
            pass
        to_notice.append(time.time() - started)
        block = wait_for(lambda line, mined=mined: line["event"] == "block" and line["hash"] == mined)
        alert = wait_for(lambda line, txid=txid: line["event"] == "alert" and line["alert"]["txid"] == txid
                         and line["alert"]["kind"] == "unrecorded_outflow")
        to_block.append(block["unix_time"] - started)
        to_alert.append(alert["unix_time"] - started)
    hashblock.close()
    follower.stop("bench done")
    thread.join(30)
    book.close()
    print(f"{len(to_block)} blocks, each with one unauthorised spend of the reserve; times in ms:")
    for name, values in (("baseline: generatetoaddress -> ZMQ hashblock", to_notice),
                         ("generatetoaddress -> block synced", to_block),
                         ("generatetoaddress -> critical alert", to_alert),
                         ("sendrawtransaction -> pending_outflow alert", to_pending)):
        ms = [v * 1000 for v in values]
        print(f"  {name:<46} p50 {statistics.median(ms):7.1f}   p99 {percentile(ms, 0.99):7.1f}   "
              f"max {max(ms):7.1f}")
    print("target: p99 < 250 ms to the synced block and to the alert")


if __name__ == "__main__":
    main()
