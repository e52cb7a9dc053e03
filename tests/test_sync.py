"""`boveda sync`: wallets registered by descriptor, synced from regtest chains into the book, held
against the simulation's own books at every height — on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from _book_fixtures import (  # noqa: F401
    _create_schema,
    _drop_schema,
    _schema_url,
    backend,
    book_location,
    postgres_url,
    require_postgres,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.bitcoin.address import script_to_address
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import OutPoint
from boveda.book import Book
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.errors import WalletError
from boveda.keys.software_wallet import Branch, WalletKind
from boveda.wallets import sync as sync_module
from boveda.wallets.descriptors import WalletDescriptor, descriptor_checksum
from boveda.wallets.facts_seal import seal_problems
from boveda.wallets.registry import register_wallet
from boveda.wallets.report import wallet_state
from boveda.wallets.sync import sync
from boveda.wallets.tables import chain_blocks, chain_txs, txos, wallet_scripts, wallet_sync

REGTEST = Network.REGTEST
COIN = 100_000_000
KINDS = {"alice": WalletKind.WPKH, "bob": WalletKind.WSH_SORTEDMULTI, "carol": WalletKind.TR, "dave": WalletKind.WPKH}
FUNDED_AT = COINBASE_MATURITY + 2  # the block that first pays the wallets


# -- building chains and books ---------------------------------------------------------


def funded_simulation(datadir: Path) -> Simulation:
    """The four wallets, each paid 10 BTC by the miner in block FUNDED_AT."""
    sim = Simulation(datadir)
    for name, kind in KINDS.items():
        sim.add_wallet(name, kind)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    sim.pay("miner", [(sim.receive_script(name), 10 * COIN) for name in KINDS])
    sim.mine()
    assert sim.height == FUNDED_AT
    return sim


def pay_around(sim: Simulation, rounds: int) -> None:
    """Each round: every wallet pays the next one a little (change included), one block."""
    names = list(KINDS)
    for _ in range(rounds):
        for source, target in zip(names, names[1:] + names[:1]):
            sim.pay(source, [(sim.receive_script(target), COIN // 7)])
        sim.mine()


@contextlib.contextmanager
def another_book_location(backend: str, folder: Path) -> Iterator[str]:  # noqa: F811
    """A second, empty book location on the same database kind (for comparing two books)."""
    if backend == "sqlite":
        yield str(folder / f"book-{len(list(folder.glob('book-*.db')))}.db")
        return
    require_postgres()
    schema = _create_schema()
    try:
        yield _schema_url(schema)
    finally:
        _drop_schema(schema)


def new_book(location: str) -> Book:
    Book.init(location)
    book = Book.open(location)
    book.add_reserve("R", name="Reserve")
    return book


def register(book: Book, sim: Simulation, names=tuple(KINDS), *, births=None, gap_limit: int = 20) -> None:
    for name in names:
        register_wallet(book, name, sim.wallet(name).multipath_descriptor(), network=REGTEST, reserve="R",
                        birth_height=(births or {}).get(name, 0), gap_limit=gap_limit)


def run_sync(book: Book, sim: Simulation, *, via_kernel: bool = False, **options):
    """`sync` as the CLI runs it (kernel for the active chain, block files for the walk), or through the kernel alone."""
    with sim.released() as datadir, KernelSource(datadir, REGTEST) as kernel:
        if via_kernel:
            return sync(book.store, kernel, network=REGTEST, **options)
        with BlockFileSource(datadir, REGTEST, kernel=kernel) as files:
            return sync(book.store, files, network=REGTEST, **options)


def expected_history(sim: Simulation, name: str) -> dict[tuple[str, int], int]:
    """(txid, height) -> the wallet's net change, from the simulation's per-script books."""
    deltas: dict[tuple[str, int], int] = defaultdict(int)
    for script in sim.wallet_scripts(name):
        history = sim.history(script)
        for credit in history.credits:
            deltas[(credit.txid_hex, credit.height)] += credit.value_sat
        for debit in history.debits:
            deltas[(debit.spending_txid_hex, debit.height)] -= debit.value_sat
    return dict(deltas)


def expected_utxos(sim: Simulation, name: str) -> set[tuple]:
    return {(u.outpoint.txid[::-1].hex(), u.outpoint.vout, u.value_sat, u.height,
             script_to_address(u.script_pubkey, REGTEST)) for u in sim.utxos(name)}


def chain_order(sim: Simulation) -> dict[str, tuple[int, int]]:
    """txid -> (height, position in its block), as the kernel has them."""
    with sim.released() as datadir, KernelSource(datadir, REGTEST) as kernel:
        return {tx.txid[::-1].hex(): (block.height, index)
                for block in kernel.blocks(0, kernel.tip().height)
                for index, tx in enumerate(block.block.transactions)}


def assert_book_equals_simulation(book: Book, sim: Simulation, names=tuple(KINDS)) -> None:
    order = chain_order(sim)
    with book.store.read() as conn:
        assert seal_problems(conn) == []  # every way a sync writes reseals what it wrote
        for name in names:
            for height in range(sim.height + 1):
                state = wallet_state(conn, name, REGTEST, height)
                assert state.balance_sat == sim.balance_sat(name, height), (name, height)
            state = wallet_state(conn, name, REGTEST)
            assert state.height == sim.height
            assert {(c.txid_hex, c.vout, c.value_sat, c.height, c.address) for c in state.utxos} == expected_utxos(
                sim, name)
            assert {(h.txid_hex, h.height): h.delta_sat for h in state.history} == expected_history(sim, name)
            positions = [order[h.txid_hex] for h in state.history]
            assert positions == sorted(positions)  # chain order
            assert all(height == h.height for (height, _), h in zip(positions, state.history))


def chain_facts(book: Book) -> dict[str, list[tuple]]:
    """Every stored chain fact, in a comparable form."""
    def plain(value):
        return bytes(value) if isinstance(value, (bytes, memoryview)) else value

    with book.store.read() as conn:
        return {
            table.name: sorted(tuple(plain(v) for v in row) for row in conn.execute(sa.select(table)))
            for table in (wallet_scripts, wallet_sync, txos, chain_txs, chain_blocks)
        }


# -- 1. random payments: balances at every height ----------------------------------------

_names = st.sampled_from(["miner", *KINDS])
_operation = st.one_of(
    st.tuples(st.just("pay"), _names, _names, st.integers(1, 900), st.integers(1, 3)),
    st.tuples(st.just("sweep"), _names, _names),
    st.tuples(st.just("mix"), _names, _names),
    st.tuples(st.just("mine"), st.integers(1, 4)),
)


def play(sim: Simulation, operations) -> None:
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
        elif op[0] == "mix":  # inputs of two wallets in one transaction
            others = sim.spendable(op[2])
            if others and others[0].outpoint != coins[0].outpoint:
                sim.sweep(op[1], sim.receive_script(op[2]), utxos=[coins[0].outpoint, others[0].outpoint])
        else:
            _, source, target, per_mille, count = op
            each = max(1_000, spendable * per_mille // 1000 // (count + 1))
            sim.pay(source, [(sim.receive_script(target), each) for _ in range(count)])
    sim.mine()


@settings(max_examples=int(os.environ.get("BOVEDA_SYNC_EXAMPLES", "6")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    operations=st.lists(_operation, min_size=1, max_size=14),
    births=st.fixed_dictionaries({name: st.integers(0, FUNDED_AT) for name in KINDS}),
    gap_limit=st.sampled_from([1, 2, 20]),
    via_kernel=st.booleans(),
    chunk_blocks=st.sampled_from([7, 50]),  # short chunks look scripts up by key, long ones load them all
)
def test_balances_at_every_height_equal_the_builders_books(backend, operations, births, gap_limit, via_kernel,  # noqa: F811
                                                           chunk_blocks):
    with tempfile.TemporaryDirectory() as folder, another_book_location(backend, Path(folder)) as location:
        sim = funded_simulation(Path(folder) / "chain")
        try:
            play(sim, operations)
            book = new_book(location)
            register(book, sim, births=births, gap_limit=gap_limit)
            report = run_sync(book, sim, chunk_blocks=chunk_blocks, via_kernel=via_kernel)
            assert (report.tip_height, report.wallets, report.rolled_back_to) == (sim.height, 4, None)
            assert report.blocks_scanned == sim.height + 1 - min(births.values())
            assert_book_equals_simulation(book, sim)
            book.close()
        finally:
            sim.close()


# -- 2. incremental sync ------------------------------------------------------------------


def test_a_second_sync_scans_only_the_new_blocks_and_equals_a_full_sync(book_location, backend, tmp_path,  # noqa: F811
                                                                        monkeypatch):
    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 2)
    book = new_book(book_location)
    register(book, sim)
    first = run_sync(book, sim, chunk_blocks=50)
    assert first.blocks_scanned == sim.height + 1
    # k more blocks: coins from before the first sync are spent, new addresses paid.
    pay_around(sim, 3)
    sim.sweep("alice", sim.receive_script("bob"))
    sim.mine_blocks(5)
    k = sim.height - first.tip_height
    assert k <= sync_module.LOOKUP_RANGE_BLOCKS

    def load_everything(*_):
        raise AssertionError("a sync of a few blocks loaded every derived script")

    monkeypatch.setattr(sync_module, "_everything_watched", load_everything)
    second = run_sync(book, sim, chunk_blocks=50)
    assert (second.blocks_scanned, second.tip_height, second.rolled_back_to) == (k, sim.height, None)
    assert second.debits > 0 and second.credits > 0
    assert run_sync(book, sim).blocks_scanned == 0
    assert_book_equals_simulation(book, sim)
    with another_book_location(backend, tmp_path) as location:
        fresh = new_book(location)
        register(fresh, sim)
        assert run_sync(fresh, sim, chunk_blocks=7).blocks_scanned == sim.height + 1
        assert chain_facts(fresh) == chain_facts(book)
        fresh.close()
    sim.close()


def test_a_wallet_added_after_a_sync_is_scanned_from_its_birth(book_location, tmp_path):  # noqa: F811
    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 2)
    book = new_book(book_location)
    register(book, sim, ("alice", "bob"))
    first = run_sync(book, sim, chunk_blocks=7)
    pay_around(sim, 1)
    register(book, sim, ("carol",), births={"carol": 50})
    second = run_sync(book, sim, chunk_blocks=7)
    # carol from her birth to the old tip alone, then all three over the new blocks
    assert second.blocks_scanned == (first.tip_height + 1 - 50) + (sim.height - first.tip_height)
    assert_book_equals_simulation(book, sim, ("alice", "bob", "carol"))
    sim.close()


# -- 3. reorganisation --------------------------------------------------------------------


@pytest.mark.parametrize("lookup_range", [sync_module.LOOKUP_RANGE_BLOCKS, 0], ids=["by-key", "load-all"])
def test_a_reorg_six_deep_that_drops_a_payment_is_followed(book_location, backend, tmp_path, monkeypatch,  # noqa: F811
                                                           lookup_range):
    monkeypatch.setattr(sync_module, "LOOKUP_RANGE_BLOCKS", lookup_range)
    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 1)
    dropped = sim.pay("alice", [(sim.receive_script("carol"), 3 * COIN)])
    sim.mine()
    pay_around(sim, 2)
    sim.mine_blocks(3)
    book = new_book(book_location)
    register(book, sim)
    before = run_sync(book, sim, chunk_blocks=7)
    dropped_hex = dropped.txid[::-1].hex()
    with book.store.read() as conn:
        assert any(h.txid_hex == dropped_hex for h in wallet_state(conn, "carol", REGTEST).history)
    old_tip = sim.height
    fork_height = old_tip - 6
    assert fork_height < before.tip_height and sim.balance_sat("carol") > 10 * COIN
    # The branch spends alice's coin elsewhere (a double spend of the dropped payment's input).
    sim.fork(fork_height)
    sim.pay("alice", [(sim.receive_script("dave"), 2 * COIN)])
    sim.mine_blocks(7)
    assert not sim.building_branch and sim.height == old_tip + 1

    after = run_sync(book, sim, chunk_blocks=7)
    assert after.rolled_back_to == fork_height
    assert after.blocks_scanned == sim.height - fork_height
    assert_book_equals_simulation(book, sim)
    with book.store.read() as conn:
        assert all(h.txid_hex != dropped_hex for name in KINDS for h in wallet_state(conn, name, REGTEST).history)
    with another_book_location(backend, tmp_path) as location:
        fresh = new_book(location)
        register(fresh, sim)
        run_sync(fresh, sim, chunk_blocks=7)
        facts, fresh_facts = chain_facts(book), chain_facts(fresh)
        # Scripts derived for addresses used only on the dropped blocks stay derived (watched, harmless).
        assert set(fresh_facts.pop("wallet_scripts")) <= set(facts.pop("wallet_scripts"))
        assert fresh_facts == facts
        fresh.close()
    assert run_sync(book, sim).rolled_back_to is None  # nothing moved since
    sim.close()


# -- 4. addresses used out of order -------------------------------------------------------


def test_addresses_paid_out_of_order_beyond_the_gap_limit_are_found_and_derived_once(book_location,  # noqa: F811
                                                                                    tmp_path, monkeypatch):
    sim = funded_simulation(tmp_path / "chain")
    wallet = sim.wallet("alice")

    def receive(index):
        return wallet.script_pubkey(Branch.RECEIVE, index)

    # Chunks of 7 blocks from 0: [98..104] [105..111] [112..118] [119..125] ...
    sim.mine()
    far = sim.pay("miner", [(receive(25), COIN), (receive(27), 2 * COIN), (receive(30), 3 * COIN)])
    sim.mine()
    assert sim.height == 104  # three addresses past the gap, nothing near them used yet
    sim.mine()
    sim.pay("alice", [(sim.receive_script("bob"), COIN // 2)], utxos=[_outpoint(far, receive(27))])
    sim.mine()
    assert sim.height == 106  # index 27 spent, in a chunk before anything reveals it
    sim.mine_blocks(5)
    sim.pay("miner", [(receive(10), COIN)])
    sim.mine()
    assert sim.height == 112  # index 10 paid in a later chunk: now indexes up to 30 are watched
    sim.pay("alice", [(sim.receive_script("carol"), COIN // 4)], utxos=[_outpoint(far, receive(25))])
    sim.mine()  # 113: index 25 spent in that same chunk
    sim.mine_blocks(7)
    sim.pay("alice", [(sim.receive_script("dave"), COIN // 3)], utxos=[_outpoint(far, receive(30))])
    sim.mine()
    assert sim.height == 121  # index 30 spent in a chunk of its own
    sim.mine()

    derived = []  # every script derived from a descriptor, by registration and by the syncs
    original = WalletDescriptor.derive

    def counting(self, branch, start, stop):
        scripts = original(self, branch, start, stop)
        derived.extend((int(d.branch), d.index) for d in scripts)
        return scripts

    monkeypatch.setattr(WalletDescriptor, "derive", counting)
    # By default the gap limit is kept as BIP-44 states it: the coins beyond it are not found.
    plain = new_book(str(tmp_path / "plain.db"))
    register(plain, sim, ("alice",), gap_limit=20)
    plain_report = run_sync(plain, sim, chunk_blocks=7)
    assert plain_report.earlier_blocks_searched == 0
    with plain.store.read() as conn:
        plain_history = {h.txid_hex for h in wallet_state(conn, "alice", REGTEST).history}
    assert far.txid[::-1].hex() not in plain_history
    plain.close()
    derived.clear()

    book = new_book(book_location)
    register(book, sim, ("alice",), gap_limit=20)
    report = run_sync(book, sim, chunk_blocks=7, beyond_gap=True)
    assert report.earlier_blocks_searched >= 112  # the chunk of index 10 searched blocks 0..111 for 20..30
    assert_book_equals_simulation(book, sim, ("alice",))
    with book.store.read() as conn:
        history = {h.txid_hex for h in wallet_state(conn, "alice", REGTEST).history}
    assert far.txid[::-1].hex() in history

    # Derived once each, contiguous per branch, up to the last used index plus the gap.
    def stored_indexes():
        with book.store.read() as conn:
            rows = conn.execute(sa.select(wallet_scripts.c.branch, wallet_scripts.c.idx, wallet_scripts.c.script_pubkey)
                                .where(wallet_scripts.c.wallet == "alice")).all()
        return rows

    rows = stored_indexes()
    last_used = {branch: max(wallet.key_path(s).index for s in sim.wallet_scripts("alice")
                             if wallet.key_path(s).branch == branch and sim.history(s).credits)
                 for branch in (Branch.RECEIVE, Branch.CHANGE)}
    for branch in (Branch.RECEIVE, Branch.CHANGE):
        indexes = sorted(idx for b, idx, _ in rows if b == branch)
        assert indexes == list(range(last_used[branch] + 1 + 20)), branch
        assert all(bytes(s) == wallet.script_pubkey(Branch(b), idx) for b, idx, s in rows)
    assert sorted(derived) == sorted((b, idx) for b, idx, _ in rows)  # each derived exactly once

    # A later sync derives nothing: every script it needs is in the store.
    derived.clear()
    sim.pay("miner", [(receive(3), COIN)])  # an address already derived, used out of order
    sim.mine()
    again = run_sync(book, sim, chunk_blocks=7, beyond_gap=True)
    assert (again.blocks_scanned, again.earlier_blocks_searched) == (1, 0)
    assert derived == []
    assert sorted(stored_indexes()) == sorted(rows)
    assert_book_equals_simulation(book, sim, ("alice",))
    sim.close()


def _outpoint(tx, script_pubkey):
    vout = next(i for i, out in enumerate(tx.outputs) if out.script_pubkey == script_pubkey)
    return OutPoint(tx.txid, vout)


# -- 5. an interrupted sync ----------------------------------------------------------------


class Interrupted(Exception):
    pass


def test_an_interrupted_sync_keeps_its_committed_chunks_and_resumes(book_location, backend, tmp_path):  # noqa: F811
    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 3)
    book = new_book(book_location)
    register(book, sim)
    chunk = 40

    def stop_in_the_second_chunk(block, tip_height):
        assert tip_height == sim.height
        if block.height == chunk + 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_sync(book, sim, chunk_blocks=chunk, on_block=stop_in_the_second_chunk)
    with book.store.read() as conn:
        heights = conn.execute(sa.select(wallet_sync.c.synced_height)).scalars().all()
        assert heights == [chunk - 1] * len(KINDS)
        assert conn.execute(sa.select(sa.func.max(chain_blocks.c.height))).scalar() == chunk - 1
        assert wallet_state(conn, "alice", REGTEST).height == chunk - 1
        with pytest.raises(WalletError, match="beyond"):
            wallet_state(conn, "alice", REGTEST, chunk)

    seen = []
    resumed = run_sync(book, sim, chunk_blocks=chunk, on_block=lambda block, _tip: seen.append(block.height))
    assert resumed.blocks_scanned == sim.height + 1 - chunk
    assert seen == list(range(chunk, sim.height + 1))
    assert_book_equals_simulation(book, sim)
    with another_book_location(backend, tmp_path) as location:
        clean = new_book(location)
        register(clean, sim)
        run_sync(clean, sim, chunk_blocks=chunk)
        assert chain_facts(clean) == chain_facts(book)
        clean.close()
    sim.close()


# -- registration ------------------------------------------------------------------------


def test_a_script_is_one_wallets_and_a_book_holds_one_network(book_location, tmp_path):  # noqa: F811
    sim = funded_simulation(tmp_path / "chain")
    book = new_book(book_location)
    register(book, sim, ("alice",))
    head = book.audit_head()
    taken = script_to_address(sim.wallet("alice").script_pubkey(Branch.RECEIVE, 7), REGTEST)
    body = f"addr({taken})"
    with pytest.raises(WalletError, match=f"would watch {taken}, already wallet 'alice'"):
        register_wallet(book, "seized", f"{body}#{descriptor_checksum(body)}", network=REGTEST, reserve="R")
    with pytest.raises(WalletError, match="this book's wallets are on regtest, not signet"):
        register_wallet(book, "bob", sim.wallet("bob").multipath_descriptor(), network=Network.SIGNET, reserve="R")
    assert book.audit_head() == head and [w.name for w in book.wallets()] == ["alice"]
    with book.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(wallet_scripts)).scalar() == 40
    sim.close()
