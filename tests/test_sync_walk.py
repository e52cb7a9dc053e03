"""The one-pass sync counts what the gap-limit windows say, however it is cut: short chunks looked up by
key, long chunks with scripts derived ahead, or a kept `Syncer` stepping block by block — held against
a plain model of the rule on chains that pay addresses out of order."""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sync import (
    COIN,
    KINDS,
    assert_book_equals_simulation,
    chain_facts,
    funded_simulation,
    new_book,
    pay_around,
    register,
    run_sync,
)

from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import Branch
from boveda.wallets import sync as sync_module
from boveda.wallets import walk as walk_module
from boveda.wallets import watch as watch_module
from boveda.wallets.sync import Syncer
from boveda.wallets.tables import txos, wallet_scripts

REGTEST = Network.REGTEST
DERIVED_FOR_THE_MODEL = 120  # indexes per branch the model knows; the chains pay below it


def expected(sim: Simulation, name: str, gap: int, birth: int, *, beyond_gap: bool) -> tuple[set, set]:
    """(coins, windows) of wallet `name` by the rule, from the kernel's blocks: a payment counts when its
    index is below its branch's window as its block leaves it (beyond_gap: as the whole chain leaves it),
    a spend when its coin counted. Coins as (txid, vout, value, height, spent_txid, spent_height)."""
    wallet = sim.wallet(name)
    where = {wallet.script_pubkey(branch, index): (branch, index)
             for branch in (Branch.RECEIVE, Branch.CHANGE) for index in range(DERIVED_FOR_THE_MODEL)}
    with sim.released() as datadir, KernelSource(datadir, REGTEST) as kernel:
        blocks = list(kernel.blocks(birth, kernel.tip().height))

    def closed(ends: dict, paid: list) -> dict:
        ends = dict(ends)
        moved = True
        while moved:
            moved = False
            for branch, index in paid:
                if index < ends[branch] < index + 1 + gap:
                    ends[branch], moved = index + 1 + gap, True
        return ends

    ends = {Branch.RECEIVE: gap, Branch.CHANGE: gap}
    if beyond_gap:
        ends = closed(ends, [where[o.script_pubkey] for b in blocks for tx in b.block.transactions
                             for o in tx.outputs if o.script_pubkey in where])
    coins: dict[tuple, list] = {}
    for spent_block in blocks:
        transactions = spent_block.block.transactions
        if not beyond_gap:
            ends = closed(ends, [where[o.script_pubkey] for tx in transactions for o in tx.outputs
                                 if o.script_pubkey in where])
        for tx in transactions:
            for txin in tx.inputs:
                coin = coins.get((txin.prevout.txid, txin.prevout.vout))
                if coin is not None and coin[4] is None:
                    coin[4:] = [tx.txid, spent_block.height]
            for vout, out in enumerate(tx.outputs):
                if out.script_pubkey in where:
                    branch, index = where[out.script_pubkey]
                    if index < ends[branch]:
                        coins[(tx.txid, vout)] = [vout, out.value_sat, spent_block.height, branch, None, None]
    return ({(txid, c[0], c[1], c[2], c[4], c[5]) for (txid, _), c in coins.items()},
            {(int(branch), index) for branch, end in ends.items() for index in range(end)})


def stored(book, name: str) -> tuple[set, set]:
    with book.store.read() as conn:
        coins = {(bytes(r[0]), r[1], r[2], r[3], None if r[4] is None else bytes(r[4]), r[5]) for r in conn.execute(
            sa.select(txos.c.txid, txos.c.vout, txos.c.value_sat, txos.c.height, txos.c.spent_txid,
                      txos.c.spent_height).where(txos.c.wallet == name))}
        scripts = {(r[0], r[1]) for r in conn.execute(
            sa.select(wallet_scripts.c.branch, wallet_scripts.c.idx).where(wallet_scripts.c.wallet == name))}
    return coins, scripts


def step_by_step(book, sim: Simulation, *, beyond_gap: bool, first_stop: int) -> None:
    """One kept Syncer, as the follower keeps it: to `first_stop`, then one block a call."""
    syncer = Syncer(book.store, network=REGTEST, beyond_gap=beyond_gap)
    with sim.released() as datadir, BlockFileSource(datadir, REGTEST) as files:
        syncer.sync_to_tip(files, stop_height=first_stop)
        while syncer.step(files).blocks_scanned:
            pass


_operation = st.one_of(
    st.tuples(st.just("in order"), st.integers(1, 3)),  # alice's next receive addresses, one payment each
    st.tuples(st.just("at"), st.integers(0, 60)),  # alice paid at any receive index, out of order
    st.tuples(st.just("run"), st.integers(0, 20), st.integers(2, 45)),  # consecutive indexes in one transaction
    st.tuples(st.just("spend"), st.integers(0, 5)),  # alice spends one of her coins, change to her next
    st.tuples(st.just("mine"), st.integers(1, 3)),
)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(_operation, min_size=3, max_size=16), gap=st.sampled_from([1, 2, 5]),
       birth=st.integers(0, 60), ahead_min=st.sampled_from([2, 32]))
def test_every_way_of_cutting_the_sync_counts_what_the_windows_say(operations, gap, birth, ahead_min):
    with tempfile.TemporaryDirectory() as folder:
        sim = funded_simulation(Path(folder) / "chain")
        wallet = sim.wallet("alice")
        try:
            for op in operations:
                if op[0] == "in order":
                    sim.pay("miner", [(sim.receive_script("alice"), COIN // 100) for _ in range(op[1])])
                elif op[0] == "at":
                    sim.pay("miner", [(wallet.script_pubkey(Branch.RECEIVE, op[1]), COIN // 50)])
                elif op[0] == "run":
                    sim.pay("miner", [(wallet.script_pubkey(Branch.RECEIVE, i), COIN // 200)
                                      for i in range(op[1], op[1] + op[2])])
                elif op[0] == "spend":
                    coins = sim.spendable("alice")
                    if coins:
                        coin = coins[op[1] % len(coins)]
                        sim.pay("alice", [(sim.receive_script("bob"), coin.value_sat // 2)], utxos=[coin.outpoint])
                else:
                    sim.mine_blocks(op[1])
            sim.mine()
            middle = (birth + sim.height) // 2
            for beyond_gap in (False, True):
                want = expected(sim, "alice", gap, birth, beyond_gap=beyond_gap)
                facts = []
                for way in ("short chunks", "long chunks", "long chunks via the kernel", "step by step"):
                    book = new_book(str(Path(folder) / f"{way}-{beyond_gap}.db"))
                    register(book, sim, ("alice",), births={"alice": birth}, gap_limit=gap)
                    original = watch_module.AHEAD_MIN
                    watch_module.AHEAD_MIN = ahead_min  # 2: a run of payments outruns what was derived ahead
                    try:
                        if way == "step by step":
                            step_by_step(book, sim, beyond_gap=beyond_gap, first_stop=middle)
                        else:
                            run_sync(book, sim, chunk_blocks=7 if way == "short chunks" else 500,
                                     via_kernel=way.endswith("kernel"), beyond_gap=beyond_gap)
                    finally:
                        watch_module.AHEAD_MIN = original
                    assert stored(book, "alice") == want, (way, beyond_gap)
                    facts.append(chain_facts(book))
                    book.close()
                assert all(f == facts[0] for f in facts[1:])
        finally:
            sim.close()


def test_a_kept_syncer_follows_new_blocks_new_wallets_and_a_reorganisation(tmp_path, monkeypatch):
    sim = funded_simulation(tmp_path / "chain")
    book = new_book(str(tmp_path / "kept.db"))
    register(book, sim, ("alice", "bob"))
    syncer = Syncer(book.store, network=REGTEST)
    loads = []
    everything = sync_module._everything_watched
    monkeypatch.setattr(sync_module, "_everything_watched", lambda *a: loads.append(1) or everything(*a))

    def follow(blocks: int) -> None:
        for _ in range(blocks):
            sim.pay("alice", [(sim.receive_script("bob"), COIN // 9)])
            sim.pay("bob", [(sim.receive_script("alice"), COIN // 11)])
            sim.mine()
            with sim.released() as datadir, BlockFileSource(datadir, REGTEST) as files:
                syncer.sync_to_tip(files)

    follow(3)
    assert len(loads) == 1  # loaded once, then held
    register(book, sim, ("carol",), births={"carol": 50})
    follow(2)
    assert len(loads) == 2  # a wallet was registered: loaded again
    sim.fork(sim.height - 2)
    sim.pay("alice", [(sim.receive_script("carol"), COIN)])
    sim.mine_blocks(4)
    follow(1)
    assert len(loads) == 3  # the stored chain was rolled back
    fresh = new_book(str(tmp_path / "fresh.db"))
    register(fresh, sim, ("alice", "bob"))
    register(fresh, sim, ("carol",), births={"carol": 50})
    run_sync(fresh, sim)
    kept, clean = chain_facts(book), chain_facts(fresh)
    # Scripts derived for addresses used only on the dropped blocks stay derived (watched, harmless).
    assert set(clean.pop("wallet_scripts")) <= set(kept.pop("wallet_scripts"))
    assert kept == clean
    sim.close()


def test_addresses_used_in_order_walk_a_block_twice_only_for_a_branchs_first_payment(tmp_path, monkeypatch):
    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 3)
    for _ in range(3):  # several fresh addresses of one wallet in one block, in one transaction and in several
        sim.pay("miner", [(sim.receive_script("alice"), COIN // 3) for _ in range(6)])
        sim.pay("bob", [(sim.receive_script("alice"), COIN // 5)])
        sim.mine()
    pay_around(sim, 2)
    book = new_book(str(tmp_path / "book.db"))
    register(book, sim, gap_limit=5)
    walked = []
    walk = walk_module._walk
    monkeypatch.setattr(walk_module, "_walk", lambda scanner, item: walked.append(item.height) or walk(scanner, item))
    report = run_sync(book, sim, chunk_blocks=500)
    with book.store.read() as conn:  # the block where each branch was first paid
        first_paid = set(conn.execute(
            sa.select(sa.func.min(txos.c.height)).select_from(txos.join(
                wallet_scripts, wallet_scripts.c.script_pubkey == txos.c.script_pubkey))
            .group_by(wallet_scripts.c.wallet, wallet_scripts.c.branch)).scalars())
    twice = sorted(height for height in set(walked) if walked.count(height) > 1)
    assert sorted(set(walked)) == list(range(sim.height + 1)) and max(map(walked.count, walked)) <= 2
    assert twice and set(twice) <= first_paid
    assert report.credits > 40
    assert_book_equals_simulation(book, sim, tuple(KINDS))

    # A kept syncer, once the branches were used, walks each new block once.
    syncer = Syncer(book.store, network=REGTEST)
    pay_around(sim, 1)
    with sim.released() as datadir, BlockFileSource(datadir, REGTEST) as files:
        syncer.sync_to_tip(files)
    walked.clear()
    for _ in range(3):
        sim.pay("miner", [(sim.receive_script("alice"), COIN // 3) for _ in range(6)])
        pay_around(sim, 1)
        with sim.released() as datadir, BlockFileSource(datadir, REGTEST) as files:
            syncer.sync_to_tip(files)
    assert sorted(walked) == list(range(sim.height - 2, sim.height + 1))
    assert_book_equals_simulation(book, sim, tuple(KINDS))
    sim.close()
