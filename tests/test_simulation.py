"""The simulation grows kernel-validated chains and keeps books that match what the kernel stored."""

import tempfile
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import OutPoint
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest import simulation as simulation_module
from boveda.chain.regtest.builder import COINBASE_MATURITY, GENESIS_TIME, block_subsidy_sat
from boveda.chain.regtest.simulation import Credit, Debit, Simulation
from boveda.keys.software_wallet import WalletKind
from boveda.errors import BuilderError

COIN = 100_000_000
WALLETS = {"alice": WalletKind.WPKH, "bob": WalletKind.WSH_SORTEDMULTI, "carol": WalletKind.TR}


def _simulation(datadir) -> Simulation:
    sim = Simulation(datadir)
    for name, kind in WALLETS.items():
        sim.add_wallet(name, kind)
    return sim


@pytest.fixture
def sim(tmp_path):
    sim = _simulation(tmp_path)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    sim.pay("miner", [(sim.receive_script(name), 20 * COIN) for name in WALLETS])
    sim.mine()
    yield sim
    sim.close()


# -- what the kernel stored, read back independently --------------------------------------


def kernel_books(sim: Simulation):
    """Credits and debits per script and balances per wallet and height, from KernelSource."""
    credits, debits = defaultdict(set), defaultdict(set)
    balances = {name: [0] for name in sim.wallet_names}  # by height, genesis first
    with sim.released() as datadir, KernelSource(datadir, Network.REGTEST) as source:
        tip = source.tip()
        assert tip.hash == sim.tip_hash and tip.height == sim.height
        running = defaultdict(int)
        for spent_block in source.blocks(1, tip.height):
            height = spent_block.height
            for tx_index, tx in enumerate(spent_block.block.transactions):
                txid = tx.txid
                for vout, txout in enumerate(tx.outputs):
                    if txout.script_pubkey[:1] == b"\x6a":
                        continue
                    credits[txout.script_pubkey].add(Credit(txid, vout, txout.value_sat, height))
                    running[sim.owner_of(txout.script_pubkey)] += txout.value_sat
                if tx_index == 0:
                    continue
                for txin, prevout in zip(tx.inputs, spent_block.prevouts[tx_index - 1]):
                    debits[prevout.script_pubkey].add(Debit(txin.prevout, prevout.value_sat, txid, height))
                    running[sim.owner_of(prevout.script_pubkey)] -= prevout.value_sat
            for name in sim.wallet_names:
                balances[name].append(running[name])
    return credits, debits, balances


def assert_books_match_kernel(sim: Simulation) -> None:
    credits, debits, balances = kernel_books(sim)
    assert set(credits) == set(sim.scripts())
    for script_pubkey in set(credits) | set(debits):
        history = sim.history(script_pubkey)
        assert set(history.credits) == credits[script_pubkey]
        assert set(history.debits) == debits[script_pubkey]
    for name in sim.wallet_names:
        assert [sim.balance_sat(name, h) for h in range(sim.height + 1)] == balances[name]


def assert_books_consistent(sim: Simulation) -> None:
    unspent = defaultdict(int)
    for coin in sim.utxos():
        unspent[coin.script_pubkey] += coin.value_sat
    for script_pubkey in sim.scripts():
        assert sim.history(script_pubkey).balance_sat == unspent[script_pubkey]
    # Fees go back to the miners, so the coins in existence are exactly the subsidies paid.
    assert sum(unspent.values()) == sum(block_subsidy_sat(h) for h in range(1, sim.height + 1))
    for name in sim.wallet_names:
        assert sim.balance_sat(name) == sum(c.value_sat for c in sim.utxos(name))


# -- behaviour ------------------------------------------------------------------------


def test_a_used_datadir_is_refused(tmp_path):
    first = Simulation(tmp_path)
    first.mine()
    first.close()
    with pytest.raises(BuilderError, match="already holds a chain"):
        Simulation(tmp_path)


def test_coinbase_matures_after_100_blocks(tmp_path):
    sim = Simulation(tmp_path)
    sim.mine_blocks(COINBASE_MATURITY - 1)
    assert sim.spendable("miner") == ()
    with pytest.raises(BuilderError, match="cannot pay"):
        sim.pay("miner", [(b"\x51", COIN)])
    first_coinbase = sim.utxos("miner")[0]
    with pytest.raises(BuilderError, match="immature"):
        sim.pay("miner", [(b"\x51", COIN)], utxos=[first_coinbase.outpoint])
    sim.mine()  # height 100: the height-1 coinbase may be spent in block 101
    assert [c.outpoint for c in sim.spendable("miner")] == [first_coinbase.outpoint]
    sim.pay("miner", [(sim.receive_script("miner"), COIN)])
    sim.mine()
    assert sim.height == 101 and sim.builder.tip.height == 101
    sim.close()


def test_payments_chain_within_one_block(sim):
    sim.pay("alice", [(sim.receive_script("bob"), 5 * COIN)])
    bob_coins = sim.spendable("bob")
    assert any(c.height is None for c in bob_coins)  # the queued payment's output
    sim.sweep("bob", sim.receive_script("carol"))
    spend_again = sim.pay("carol", [(sim.receive_script("alice"), 30 * COIN)])
    assert len(spend_again.inputs) == 2  # carol's confirmed coin and the sweep's output
    block = sim.mine()
    assert len(block.transactions) == 4
    assert sim.balance_sat("bob") == 0
    assert_books_consistent(sim)


def test_balances_fees_and_history(sim):
    height = sim.height
    alice_script = sim.receive_script("alice")
    tx = sim.pay("bob", [(alice_script, 3 * COIN)], fee_sat=1_234)
    sim.mine()
    assert sim.balance_sat("bob") == 20 * COIN - 3 * COIN - 1_234
    assert sim.balance_sat("bob", height) == 20 * COIN
    assert sim.balance_sat("alice") == 23 * COIN
    assert sim.history(alice_script).credits == (Credit(tx.txid, 0, 3 * COIN, height + 1),)
    coinbase = sim.utxos("miner")[-1]
    assert coinbase.is_coinbase and coinbase.value_sat == block_subsidy_sat(height + 1) + 1_234
    assert sim.balance_sat("carol", 0) == 0
    with pytest.raises(BuilderError, match="no wallet named"):
        sim.balance_sat("nobody")


def test_many_inputs_from_several_wallets_and_sweep(sim):
    for _ in range(5):
        sim.pay("miner", [(sim.receive_script("alice"), COIN), (sim.receive_script("carol"), COIN)])
    sim.mine()
    coins = [c.outpoint for c in sim.spendable("alice")] + [c.outpoint for c in sim.spendable("carol")]
    tx = sim.pay("alice", [(sim.receive_script("bob"), 40 * COIN)], utxos=coins)
    assert len(tx.inputs) == 12  # a mixed-input transaction: alice's and carol's coins
    sim.mine()
    assert sim.balance_sat("carol") == 0
    sweep = sim.sweep("alice", sim.receive_script("bob"))
    sim.mine()
    assert sim.balance_sat("alice") == 0 and len(sweep.outputs) == 1
    assert_books_consistent(sim)
    with pytest.raises(BuilderError, match="nothing to sweep"):
        sim.sweep("alice", b"\x51")
    with pytest.raises(BuilderError, match="not an unspent coin"):
        sim.pay("bob", [(b"\x51", 1)], utxos=[OutPoint(bytes(32), 0)])


def test_block_times_model_days(tmp_path):
    sim = Simulation(tmp_path)
    times = [GENESIS_TIME + 86_400 * (day + 1) for day in range(5)]
    blocks = sim.mine_blocks(5, times=times)
    assert [b.header.time for b in blocks] == times
    assert sim.median_time_past() == times[2]
    with pytest.raises(BuilderError, match="must be after"):
        sim.mine(time=times[-1])
    with pytest.raises(BuilderError, match="in the future"):
        sim.mine(time=4_000_000_000)
    assert sim.mine().header.time == times[-1] + sim.block_interval_s
    sim.close()


def test_transaction_weight_and_block_filling(sim, monkeypatch):
    for _ in range(4):
        sim.pay("alice", [(sim.receive_script("bob"), COIN)])
    for pending in sim._pending:
        stripped = len(pending.tx.serialize(with_witness=False))
        assert pending.weight == 3 * stripped + len(pending.tx.serialize())
    monkeypatch.setattr(simulation_module, "_BLOCK_WEIGHT_FOR_TXS", 2 * sim._pending[0].weight + 10)
    assert len(sim.mine().transactions) == 3  # coinbase and two payments
    assert len(sim.pending) == 2
    sim.mine()
    assert sim.pending == ()
    assert_books_consistent(sim)


def test_discarded_payments_free_their_coins(sim):
    sim.pay("alice", [(sim.receive_script("bob"), COIN)])
    assert sim.spendable("alice")[0].height is None  # only the change is left
    sim.discard_pending()
    assert [c.value_sat for c in sim.spendable("alice")] == [20 * COIN]
    assert sim.pending == ()


def test_reorg_books_follow_the_longer_branch(sim):
    fork_height = sim.height
    old_payment = sim.pay("alice", [(sim.receive_script("bob"), 5 * COIN)])
    sim.mine()
    sim.mine()
    displaced_tip = sim.tip_hash

    sim.fork(fork_height)
    assert sim.building_branch and sim.height == fork_height
    assert sim.balance_sat("bob") == 20 * COIN  # the payment to bob is not on the branch
    sim.pay("alice", [(sim.receive_script("carol"), 7 * COIN)])
    sim.mine()
    sim.mine()
    assert sim.builder.tip.hash == displaced_tip  # equal length: the kernel keeps its chain
    sim.mine()
    assert not sim.building_branch
    assert sim.builder.tip.hash == sim.tip_hash and sim.height == fork_height + 3
    assert sim.balance_sat("bob") == 20 * COIN and sim.balance_sat("carol") == 27 * COIN
    assert all(c.txid != old_payment.txid for s in sim.scripts() for c in sim.history(s).credits)
    assert_books_consistent(sim)
    assert_books_match_kernel(sim)


def test_abandoned_fork_restores_the_books(sim):
    sim.pay("alice", [(sim.receive_script("bob"), 5 * COIN)])
    sim.mine()
    sim.mine()
    height, tip, bob = sim.height, sim.tip_hash, sim.balance_sat("bob")
    sim.fork(height - 2)
    sim.mine()
    with pytest.raises(BuilderError, match="already being built"):
        sim.fork(height - 2)
    sim.abandon_fork()
    assert (sim.height, sim.tip_hash, sim.balance_sat("bob")) == (height, tip, bob)
    assert sim.builder.tip.hash == tip
    sim.pay("bob", [(sim.receive_script("alice"), COIN)])
    sim.mine()
    assert_books_match_kernel(sim)


def test_fork_needs_an_empty_queue_and_a_height_below_the_tip(sim):
    with pytest.raises(BuilderError, match="below the tip"):
        sim.fork(sim.height)
    sim.pay("alice", [(sim.receive_script("bob"), COIN)])
    with pytest.raises(BuilderError, match="queued"):
        sim.fork(sim.height - 1)


# -- the property ---------------------------------------------------------------------

names = st.sampled_from(["miner", *WALLETS])
operation = st.one_of(
    st.tuples(st.just("pay"), names, names, st.integers(1, 1000), st.integers(1, 3)),
    st.tuples(st.just("sweep"), names, names),
    st.tuples(st.just("mine"), st.integers(1, 2)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=25), st.one_of(st.none(), st.integers(1, 4)))
def test_books_match_the_kernel_for_random_payments(operations, reorg_depth):
    with tempfile.TemporaryDirectory() as datadir:
        sim = _simulation(datadir)
        try:
            sim.mine_blocks(COINBASE_MATURITY + 2)
            for op in operations:
                if op[0] == "mine":
                    sim.mine_blocks(op[1])
                    continue
                spendable = sum(c.value_sat for c in sim.spendable(op[1]))
                if spendable < 100_000:
                    continue
                if op[0] == "sweep":
                    sim.sweep(op[1], sim.receive_script(op[2]))
                else:
                    _, source, target, per_mille, count = op
                    each = max(1_000, spendable * per_mille // 1000 // (count + 1))
                    sim.pay(source, [(sim.receive_script(target), each) for _ in range(count)])
            sim.mine()
            if reorg_depth is not None:
                sim.fork(sim.height - reorg_depth)
                if sum(c.value_sat for c in sim.spendable("miner")) > 2 * COIN:
                    sim.pay("miner", [(sim.receive_script("carol"), COIN)])
                sim.mine_blocks(reorg_depth + 1)
                assert not sim.building_branch
            assert_books_consistent(sim)
            assert_books_match_kernel(sim)
        finally:
            sim.close()
