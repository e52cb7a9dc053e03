"""The scanner: credits and debits of a watch set, through both chain sources, against the builder's own books."""

import glob
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin.block import Block
from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import WalletKind
from boveda.chain.scanner import Credit, Debit, Scanner, TxFacts, scan
from boveda.errors import CodecError

COIN = 100_000_000
WALLETS = {"alice": WalletKind.WPKH, "bob": WalletKind.WSH_SORTEDMULTI, "carol": WalletKind.TR, "dave": WalletKind.WPKH}
MAINNET = Path(__file__).resolve().parents[2] / "shared" / "data" / "mainnet"


def per_script(events):
    """script -> (set of credited outpoints with values, set of debited outpoints with values)."""
    credits, debits = defaultdict(set), defaultdict(set)
    for event in events:
        if isinstance(event, TxFacts):
            continue
        if isinstance(event, Credit):
            credits[event.script_pubkey].add((event.txid, event.vout, event.value_sat, event.height))
        else:
            debits[event.script_pubkey].add(
                (event.outpoint.txid, event.outpoint.vout, event.value_sat, event.spending_txid, event.height)
            )
    return dict(credits), dict(debits)


def builder_books(sim, scripts):
    credits, debits = defaultdict(set), defaultdict(set)
    for script in scripts:
        history = sim.history(script)
        credits[script] = {(c.txid, c.vout, c.value_sat, c.height) for c in history.credits}
        debits[script] = {(d.outpoint.txid, d.outpoint.vout, d.value_sat, d.spending_txid, d.height)
                          for d in history.debits}
    return ({s: c for s, c in credits.items() if c}, {s: d for s, d in debits.items() if d})


def scan_both_routes(datadir, watch, start=0, stop=None, unspent=()):
    """Events through the kernel's parsed blocks and through the raw walk over blk files."""
    with KernelSource(datadir, Network.REGTEST) as kernel:
        stop = kernel.tip().height if stop is None else stop
        via_kernel = list(Scanner(watch, unspent, with_tx_facts=True).scan(kernel, start, stop))
        with BlockFileSource(datadir, Network.REGTEST, kernel=kernel) as files:
            via_files = list(Scanner(watch, unspent, with_tx_facts=True).scan(files, start, stop))
        blocks = {b.height: b for b in kernel.blocks(start, stop)}
    # Each touched transaction is summarised once, right after its own credits and debits.
    for events in (via_kernel, via_files):
        facts = [e for e in events if isinstance(e, TxFacts)]
        touched = {e.txid if isinstance(e, Credit) else e.spending_txid for e in events if not isinstance(e, TxFacts)}
        assert [f.txid for f in facts if f.txid in touched] == [f.txid for f in facts]
        assert {f.txid for f in facts} == touched
        for fact in facts:
            tx = blocks[fact.height].block.transactions[fact.tx_index]
            assert tx.txid == fact.txid
            assert (fact.input_count, fact.output_count) == (len(tx.inputs), len(tx.outputs))
            assert fact.output_total_sat == sum(o.value_sat for o in tx.outputs)
    assert [e for e in via_kernel if isinstance(e, TxFacts)] == [e for e in via_files if isinstance(e, TxFacts)]
    return via_kernel, via_files


def new_simulation(datadir):
    sim = Simulation(datadir)
    for name, kind in WALLETS.items():
        sim.add_wallet(name, kind)
    return sim


names = st.sampled_from(["miner", *WALLETS])
operation = st.one_of(
    st.tuples(st.just("pay"), names, names, st.integers(1, 900), st.integers(1, 3)),
    st.tuples(st.just("sweep"), names, names),
    st.tuples(st.just("mix"), names, names),
    st.tuples(st.just("mine"), st.integers(1, 3)),
)


def play(sim, operations):
    for op in operations:
        if op[0] == "mine":
            sim.mine_blocks(op[1])
            continue
        coins = sim.spendable(op[1])
        spendable = sum(c.value_sat for c in coins)
        if spendable < 100_000:
            continue
        if op[0] == "sweep":
            sim.sweep(op[1], sim.receive_script(op[2]))
        elif op[0] == "mix":
            # Inputs from two wallets in one transaction (a coinjoin-like spend).
            others = sim.spendable(op[2])
            if not others or others[0].outpoint == coins[0].outpoint:
                continue
            sim.sweep(op[1], sim.receive_script(op[2]), utxos=[coins[0].outpoint, others[0].outpoint])
        else:
            _, source, target, per_mille, count = op
            each = max(1_000, spendable * per_mille // 1000 // (count + 1))
            sim.pay(source, [(sim.receive_script(target), each) for _ in range(count)])
    sim.mine()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=20), st.sets(st.sampled_from(sorted(WALLETS)), min_size=1))
def test_scanner_equals_the_builders_books_through_both_sources(operations, watched_wallets):
    with tempfile.TemporaryDirectory() as datadir:
        sim = new_simulation(datadir)
        try:
            sim.mine_blocks(COINBASE_MATURITY + 2)
            play(sim, operations)
            watch = {s for name in watched_wallets for s in sim.wallet_scripts(name)}
            expected = builder_books(sim, watch)
            with sim.released():
                via_kernel, via_files = scan_both_routes(datadir, watch)
        finally:
            sim.close()
    assert per_script(via_kernel) == expected
    assert per_script(via_files) == expected
    for script in watch:
        balance = sum(c[2] for c in expected[0].get(script, ())) - sum(d[2] for d in expected[1].get(script, ()))
        assert balance == sum(c.value_sat for c in sim.utxos() if c.script_pubkey == script)


def test_incremental_scan_seeded_with_unspent_equals_one_full_scan(tmp_path):
    sim = new_simulation(tmp_path)
    sim.mine_blocks(COINBASE_MATURITY + 2)
    play(sim, [("pay", "miner", "alice", 500, 2), ("mine", 1), ("pay", "alice", "bob", 300, 1), ("mine", 2),
               ("sweep", "alice", "carol"), ("pay", "bob", "alice", 200, 1)])
    watch = set(sim.wallet_scripts("alice")) | set(sim.wallet_scripts("bob"))
    middle = COINBASE_MATURITY + 4
    with sim.released() as datadir, KernelSource(datadir, Network.REGTEST) as kernel:
        with BlockFileSource(datadir, Network.REGTEST, kernel=kernel) as files:
            tip = kernel.tip().height
            whole = list(scan(files, watch, 0, tip))
            first = Scanner(watch)
            head = list(first.scan(files, 0, middle))
            tail = list(scan(files, watch, middle + 1, tip, unspent=first.unspent))
            tail_unseeded = list(scan(files, watch, middle + 1, tip))
    sim.close()
    assert head + tail == whole
    assert any(isinstance(e, Debit) for e in tail)
    # Without the seed the raw walk cannot know the coins created before the range.
    assert [e for e in tail_unseeded if isinstance(e, Debit)] != [e for e in tail if isinstance(e, Debit)]


def test_scan_follows_a_reorg(tmp_path):
    sim = new_simulation(tmp_path)
    sim.mine_blocks(COINBASE_MATURITY + 2)
    sim.pay("miner", [(sim.receive_script("alice"), 7 * COIN)])
    sim.mine_blocks(2)
    dropped_tip = sim.height
    sim.fork(dropped_tip - 3)  # the branch drops alice's payment
    sim.mine_blocks(5)
    watch = set(sim.wallet_scripts("alice"))
    expected = builder_books(sim, watch)
    with sim.released():
        via_kernel, via_files = scan_both_routes(tmp_path, watch)
    sim.close()
    assert per_script(via_files) == per_script(via_kernel) == expected
    assert not any(isinstance(e, Credit) and e.value_sat == 7 * COIN for e in via_files)


@pytest.mark.skipif(not MAINNET.is_dir(), reason="../shared/data/mainnet is not beside this checkout")
def test_raw_walk_finds_every_output_of_real_mainnet_blocks():
    for path in sorted(glob.glob(str(MAINNET / "*.blk"))):
        raw = Path(path).read_bytes()
        block = Block.parse(raw)
        outputs = [(tx.txid, vout, out) for tx in block.transactions for vout, out in enumerate(tx.outputs)]
        watch = {out.script_pubkey for _, _, out in outputs[::7]}
        events = Scanner(watch).scan_raw_block(1, raw)
        expected = {(txid, vout, out.value_sat) for txid, vout, out in outputs if out.script_pubkey in watch}
        assert {(e.txid, e.vout, e.value_sat) for e in events if isinstance(e, Credit)} == expected
        spent_in_block = {txin.prevout for tx in block.transactions for txin in tx.inputs}
        debits = [e for e in events if isinstance(e, Debit)]
        assert all(d.outpoint in spent_in_block for d in debits)
        credited = {(txid, vout) for txid, vout, _ in expected}
        assert {(d.outpoint.txid, d.outpoint.vout) for d in debits} == {
            (p.txid, p.vout) for p in spent_in_block if (p.txid, p.vout) in credited
        }


def test_a_truncated_or_padded_block_is_refused():
    raw = next(iter(sorted(MAINNET.glob("169482-*.blk")))).read_bytes() if MAINNET.is_dir() else None
    if raw is None:
        pytest.skip("../shared/data/mainnet is not beside this checkout")
    scanner = Scanner({b"\x00"})
    with pytest.raises(CodecError, match="truncated"):
        scanner.scan_raw_block(5, raw[:-10])
    with pytest.raises(CodecError, match="bytes after"):
        scanner.scan_raw_block(5, raw + b"\x00")
