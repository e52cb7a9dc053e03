"""The compiled raw walk against the pure-Python one: identical events, unspent outputs and errors.

The pure walk (`Walk.PURE`, scanner.py) is the reference; the compiled walk (`Walk.COMPILED`,
chain/_walk.c) must agree with it on every real mainnet block, on kernel-built regtest chains
(and both with the kernel route), on every CompactSize form, and on fuzzed and truncated
bytes, where both raise the same CodecError and leave the scanner as it was.
"""

from __future__ import annotations

import functools
import os
import random
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_scanner import play  # one player of simulated operations for both scanner test modules

from boveda.bitcoin.block import Block
from boveda.bitcoin.codec import encode_compact_size
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.chain import scanner as scanner_module
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.chain.scanner import Credit, Debit, Scanner, TxFacts, Walk, default_walk
from boveda.chain.source import SpentBlock
from boveda.errors import ChainError, CodecError
from boveda.keys.software_wallet import WalletKind

compiled = pytest.importorskip("boveda.chain._walk", reason="the compiled walk was not built (no C compiler)")

REPO = Path(__file__).resolve().parents[1]
# The repo's parent folder holds shared/ (in CI it is copied beside the clone).
MAINNET_DIR = REPO.parent / "shared" / "data" / "mainnet"
needs_mainnet = pytest.mark.skipif(not MAINNET_DIR.is_dir(), reason=f"mainnet test data not found at {MAINNET_DIR}")
UNWATCHED = b"\x6a\x0bnot watched"  # an OP_RETURN script: the made-up prevouts nobody watches


@functools.cache
def mainnet_blocks() -> list[tuple[int, bytes]]:
    """(height, bytes) of every block in shared/data/mainnet, by height."""
    found = [(int(path.name.split("-")[0]), path.read_bytes()) for path in MAINNET_DIR.glob("*.blk")]
    return sorted(found)


def run_walk(walk: Walk, blocks, watch, unspent=(), *, with_tx_facts=True, watch_more=None):
    """Per block its events or its CodecError's message, then the unspent outputs left.

    `watch_more` maps a height to scripts added before that block.
    """
    scanner = Scanner(watch, unspent, with_tx_facts=with_tx_facts, walk=walk)
    outcomes = []
    for height, data in blocks:
        if watch_more and height in watch_more:
            scanner.watch_more(watch_more[height])
        before = scanner.unspent
        try:
            outcomes.append(scanner.scan_raw_block(height, data))
        except CodecError as exc:
            outcomes.append(str(exc))
            assert set(scanner.unspent) == set(before), "a block that does not decode must change nothing"
    return outcomes, scanner.unspent


def assert_walks_agree(blocks, watch, unspent=(), **options):
    """Both walks' outcomes, which must be identical; returns the pure walk's."""
    pure = run_walk(Walk.PURE, blocks, watch, unspent, **options)
    fast = run_walk(Walk.COMPILED, blocks, watch, unspent, **options)
    assert fast == pure
    return pure


@functools.cache
def parsed(height: int) -> Block:
    return Block.parse(dict(mainnet_blocks())[height])


@functools.cache
def outputs_of(height: int) -> dict[OutPoint, TxOut]:
    return {OutPoint(tx.txid, vout): out for tx in parsed(height).transactions for vout, out in enumerate(tx.outputs)}


def spends_of(block: Block, every: int) -> list[Credit]:
    """Made-up credits for every `every`-th outpoint the block spends: a seed that yields debits."""
    made_here = {tx.txid for tx in block.transactions}  # a coin the block makes itself is no seed
    prevouts = [i.prevout for tx in block.transactions[1:] for i in tx.inputs if i.prevout.txid not in made_here]
    return [Credit(p.txid, p.vout, 1_000 + i, bytes([0x51, i % 256]), 1) for i, p in enumerate(prevouts[::every])]


def spent_block_route(height: int, block: Block, watch, unspent):
    """The kernel route's events for a block whose prevouts are the seed's or the block's own
    outputs (any other is unwatched)."""
    assert UNWATCHED not in watch
    known = {c.outpoint: TxOut(c.value_sat, c.script_pubkey) for c in unspent} | outputs_of(height)
    prevouts = tuple(tuple(known.get(i.prevout, TxOut(0, UNWATCHED)) for i in tx.inputs) for tx in block.transactions[1:])
    return Scanner(watch | {c.script_pubkey for c in unspent}, unspent, with_tx_facts=True).scan_spent_block(
        SpentBlock(height, block, prevouts))


# --- real mainnet blocks ------------------------------------------------------------------


@needs_mainnet
@pytest.mark.parametrize("with_tx_facts", [True, False])
def test_both_walks_agree_on_every_mainnet_block_and_match_the_parsed_route(with_tx_facts):
    for height, data in mainnet_blocks():
        block = parsed(height)
        scripts = [out.script_pubkey for tx in block.transactions for out in tx.outputs]
        seed = spends_of(block, 5)
        for watch in (set(scripts[::9]), set(scripts) | {random.Random(height).randbytes(22) for _ in range(20_000)}):
            watch |= {c.script_pubkey for c in seed}
            (events,), _ = assert_walks_agree([(height, data)], watch, seed, with_tx_facts=with_tx_facts)
            expected = spent_block_route(height, block, watch, seed)
            if not with_tx_facts:
                expected = [e for e in expected if not isinstance(e, TxFacts)]
            assert events == expected
            assert any(isinstance(e, Debit) for e in events) == bool(seed)


@needs_mainnet
def test_both_walks_agree_with_no_watch_set_and_on_a_block_twice():
    blocks = mainnet_blocks()
    assert_walks_agree(blocks, set())
    height, data = blocks[-1]
    watch = {out.script_pubkey for tx in Block.parse(data).transactions for out in tx.outputs}
    # The second time every output is credited again over itself (the dict keeps its place).
    outcomes, unspent = assert_walks_agree([(height, data), (height, data)], watch)
    assert outcomes[0] == outcomes[1] and unspent


# --- every CompactSize form ---------------------------------------------------------------


def wide_compact_size(n: int, width: int) -> bytes:
    """`n` in the CompactSize form of `width` bytes (1, 3, 5 or 9), canonical or not."""
    if width == 1:
        assert n < 0xFD
        return bytes((n,))
    prefix, fmt = {3: (0xFD, "<H"), 5: (0xFE, "<I"), 9: (0xFF, "<Q")}[width]
    return bytes((prefix,)) + struct.pack(fmt, n)


def serialize_wide(block: Block, width: int) -> bytes:
    """The block with every CompactSize (counts, script and witness lengths) in one form."""
    def cs(n):
        return encode_compact_size(n) if width == 1 else wide_compact_size(n, width)

    def tx_bytes(tx: Transaction) -> bytes:
        parts = [struct.pack("<i", tx.version)]
        if tx.has_witness:
            parts.append(b"\x00\x01")
        parts.append(cs(len(tx.inputs)))
        for txin in tx.inputs:
            parts += (txin.prevout.serialize(), cs(len(txin.script_sig)), txin.script_sig, struct.pack("<I", txin.sequence))
        parts.append(cs(len(tx.outputs)))
        for out in tx.outputs:
            parts += (struct.pack("<q", out.value_sat), cs(len(out.script_pubkey)), out.script_pubkey)
        if tx.has_witness:
            for txin in tx.inputs:
                parts.append(cs(len(txin.witness)))
                parts += (cs(len(item)) + item for item in txin.witness)
        parts.append(struct.pack("<I", tx.locktime))
        return b"".join(parts)

    return block.header.serialize() + cs(len(block.transactions)) + b"".join(tx_bytes(tx) for tx in block.transactions)


@needs_mainnet
@pytest.mark.parametrize("width", [1, 3, 5, 9])
def test_every_compact_size_form_gives_the_same_events(width):
    for height, data in mainnet_blocks():
        if len(data) > 300_000:
            continue  # the small blocks, segwit ones included, are enough
        block = parsed(height)
        scripts = {out.script_pubkey for tx in block.transactions for out in tx.outputs}
        seed = spends_of(block, 3)
        (canonical,), _ = assert_walks_agree([(height, data)], scripts, seed)
        (wide,), _ = assert_walks_agree([(height, serialize_wide(block, width))], scripts, seed)
        # A txid hashes the bytes as stored: in the wide form the txids differ, so what was paid
        # is compared, and what was spent of coins the block did not make itself.
        made_here = {tx.txid for tx in block.transactions}
        moved = [[what_moved(e) for e in events if not (isinstance(e, Debit) and e.outpoint.txid in made_here)]
                 for events in (wide, canonical)]
        assert moved[0] == moved[1]
        assert any(isinstance(e, Debit) for e in wide) == bool(seed)
        if width == 1:
            assert serialize_wide(block, 1) == data and wide == canonical


def what_moved(event):
    if isinstance(event, Credit):
        return ("credit", event.vout, event.value_sat, event.script_pubkey)
    if isinstance(event, Debit):
        return ("debit", event.outpoint, event.value_sat, event.script_pubkey)
    return ("facts", event.tx_index, event.input_count, event.output_count, event.output_total_sat)


# --- kernel-built regtest chains ------------------------------------------------------------


WALLETS = {"alice": WalletKind.WPKH, "bob": WalletKind.WSH_SORTEDMULTI, "carol": WalletKind.TR}
names = st.sampled_from(["miner", *WALLETS])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), names, names, st.integers(1, 900), st.integers(1, 3)),
        st.tuples(st.just("sweep"), names, names),
        st.tuples(st.just("mine"), st.integers(1, 2)),
    ),
    min_size=1, max_size=12,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.sets(st.sampled_from(sorted(WALLETS)), min_size=1), st.integers(0, 6), st.booleans())
def test_both_walks_agree_on_kernel_built_chains_and_match_the_kernel_route(ops, watched, split, with_tx_facts):
    with tempfile.TemporaryDirectory() as datadir:
        sim = Simulation(datadir)
        try:
            for name, kind in WALLETS.items():
                sim.add_wallet(name, kind)
            sim.mine_blocks(COINBASE_MATURITY + 2)
            play(sim, ops)
            watch = {s for name in watched for s in sim.wallet_scripts(name)}
            with sim.released(), KernelSource(datadir, Network.REGTEST) as kernel:
                tip = kernel.tip().height
                via_kernel = list(Scanner(watch, with_tx_facts=with_tx_facts).scan(kernel, 0, tip))
                with BlockFileSource(datadir, Network.REGTEST, kernel=kernel) as files:
                    blocks = [(raw.height, raw.block) for raw in files.raw_blocks(0, tip, with_undo=False)]
        finally:
            sim.close()
    outcomes, unspent = assert_walks_agree(blocks, watch, with_tx_facts=with_tx_facts)
    assert [e for events in outcomes for e in events] == via_kernel
    # Seeded from the first part, the rest gives the same events and leaves the same coins.
    middle = COINBASE_MATURITY + split
    head, head_unspent = run_walk(Walk.COMPILED, blocks[: middle + 1], watch, with_tx_facts=with_tx_facts)
    tail, tail_unspent = assert_walks_agree(blocks[middle + 1:], watch, head_unspent, with_tx_facts=with_tx_facts)
    assert head + tail == outcomes
    assert set(tail_unspent) == set(unspent)


def test_scripts_watched_from_a_later_block_on_are_seen_from_then_on(tmp_path):
    sim = Simulation(tmp_path)
    for name, kind in WALLETS.items():
        sim.add_wallet(name, kind)
    sim.mine_blocks(COINBASE_MATURITY + 2)
    play(sim, [("pay", "miner", "alice", 500, 2), ("mine", 1), ("pay", "alice", "bob", 300, 2), ("mine", 1),
               ("pay", "bob", "carol", 300, 1)])
    with sim.released(), BlockFileSource(tmp_path, Network.REGTEST) as files:
        blocks = [(raw.height, raw.block) for raw in files.raw_blocks(0, files.tip().height, with_undo=False)]
    later = {COINBASE_MATURITY + 4: set(sim.wallet_scripts("bob")), COINBASE_MATURITY + 5: set(sim.wallet_scripts("carol"))}
    first = set(sim.wallet_scripts("alice"))
    sim.close()
    outcomes, _ = assert_walks_agree(blocks, first, watch_more=later)
    assert {e.script_pubkey for events in outcomes for e in events if isinstance(e, Credit)} & later[COINBASE_MATURITY + 5]


# --- malformed bytes ------------------------------------------------------------------------


def fuzz_corpus_blocks() -> list[tuple[int, bytes]]:
    """The smaller real blocks, to mutate."""
    return [(h, d) for h, d in mainnet_blocks() if len(d) < 300_000]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One of: a cut, flipped bytes, a byte run inserted or removed, a CompactSize made huge."""
    kind = rng.randrange(5)
    position = rng.randrange(len(data))
    if kind == 0:
        return data[:position]
    if kind == 1:
        mutable = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            mutable[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(mutable)
    if kind == 2:
        return data[:position] + rng.randbytes(rng.randrange(1, 9)) + data[position:]
    if kind == 3:
        return data[:position] + data[position + rng.randrange(1, 9):]
    return data[:position] + bytes((rng.choice((0xFD, 0xFE, 0xFF)),)) + b"\xff" * 8 + data[position + 1:]


@needs_mainnet
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(0, 3), st.booleans())
def test_fuzzed_and_truncated_blocks_give_the_same_error_or_events_in_both_walks(rng, mutations, with_tx_facts):
    height, data = rng.choice(fuzz_corpus_blocks())
    block = parsed(height)
    watch = {out.script_pubkey for tx in block.transactions for out in tx.outputs[::2]}
    seed = spends_of(block, 2)
    damaged = data
    for _ in range(mutations + 1):
        damaged = mutate(damaged, rng) if damaged else damaged
    # The damaged block between two good ones: the error must leave the coins as they were.
    assert_walks_agree([(height, data), (height + 1, damaged), (height + 2, data)], watch, seed,
                       with_tx_facts=with_tx_facts)


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_random_bytes_give_the_same_outcome_in_both_walks(data):
    (outcome,), _ = assert_walks_agree([(0, data)], {b"\x51", b""}, [Credit(bytes(32), 0, 5, b"\x51", 0)])
    assert isinstance(outcome, (str, list))


def test_a_truncated_block_names_its_height_in_both_walks():
    block = bytes(80) + b"\x01" + struct.pack("<i", 1) + b"\x01" + bytes(36)
    for walk in Walk:
        with pytest.raises(CodecError, match="^block at height 7 is truncated$"):
            Scanner({b"\x51"}, walk=walk).scan_raw_block(7, block)
        with pytest.raises(CodecError, match="^block at height 7 has 3 bytes after its transactions$"):
            Scanner({b"\x51"}, walk=walk).scan_raw_block(7, bytes(80) + b"\x00" + b"abc")


# --- the compiled walker as a mapping, and the choice of walk -------------------------------


@given(st.lists(st.tuples(st.sampled_from(["put", "pop", "del"]), st.integers(0, 40)), max_size=200))
def test_the_walkers_unspent_mapping_keeps_a_dicts_contents_and_order(ops):
    reference: dict[bytes, Credit] = {}
    walker = Scanner(set(), walk=Walk.COMPILED)._unspent
    for n, (op, i) in enumerate(ops):
        key = OutPoint(bytes([i]) * 32, i).serialize()
        if op == "put":
            credit = Credit(bytes([i]) * 32, i, n, b"\x51", n)
            reference[key] = credit
            walker[key] = credit
        elif op == "pop":
            assert walker.pop(key, None) == reference.pop(key, None)
        elif key in reference:
            del reference[key]
            del walker[key]
        assert len(walker) == len(reference) and (key in walker) == (key in reference)
    assert list(walker.values()) == list(reference.values())
    with pytest.raises(TypeError):
        walker[b"short"] = Credit(bytes(32), 0, 1, b"", 0)


def test_a_watch_set_with_other_hashable_objects_is_asked_as_a_set():
    script = b"\x00\x14" + bytes(range(20))
    tx = Transaction(1, (TxIn(OutPoint(bytes(32), 0)),), (TxOut(7, script), TxOut(8, b"\x51")))
    data = bytes(80) + b"\x01" + tx.serialize()
    watch = {memoryview(script)}  # equal to the bytes, with the same hash
    (events,), _ = assert_walks_agree([(0, data)], watch)
    assert [(e.vout, e.value_sat) for e in events if isinstance(e, Credit)] == [(0, 7)]


def test_boveda_pure_python_forces_the_pure_walk(monkeypatch):
    monkeypatch.delenv("BOVEDA_PURE_PYTHON", raising=False)
    assert default_walk() is Walk.COMPILED
    assert Scanner(set()).walk is Walk.COMPILED
    monkeypatch.setenv("BOVEDA_PURE_PYTHON", "1")
    assert default_walk() is Walk.PURE
    assert Scanner(set()).walk is Walk.PURE


def test_the_walks_sha256d_matches_hashlib_with_and_without_the_cpu_extensions():
    import hashlib

    rng = random.Random(3)
    for size in [*range(130), 1_000, 65_536 + 7]:
        data = rng.randbytes(size)
        expected = hashlib.sha256(hashlib.sha256(data).digest()).digest()
        assert compiled.sha256d(data) == expected
        assert compiled.sha256d(data, portable=True) == expected


def test_xor_deobfuscation_matches_the_reference():
    from boveda.chain.blockfiles import deobfuscate

    rng = random.Random(4)
    key = rng.randbytes(8)
    for size in (0, 1, 7, 8, 9, 1_000):
        data = rng.randbytes(size)
        for offset in range(9):
            assert compiled.xor(data, key, offset) == deobfuscate(data, key, offset)


# --- under AddressSanitizer and UBSan ----------------------------------------------------


def _sanitizer_runtime() -> str | None:
    compiler = shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC") else "cc")
    if compiler is None:
        return None
    found = subprocess.run([compiler, "-print-file-name=libasan.so"], check=False, capture_output=True, text=True).stdout.strip()
    return found if found and os.path.isabs(found) and os.path.exists(found) else None


@needs_mainnet
def test_the_compiled_walk_reads_no_byte_out_of_bounds_under_asan_and_ubsan(tmp_path):
    libasan = _sanitizer_runtime()
    if libasan is None:
        pytest.skip("no C compiler with an AddressSanitizer runtime")
    build = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sanitized_walk.py"), "--build-only", "--out", str(tmp_path)],
        check=False, capture_output=True, text=True, cwd=REPO,
    )
    if build.returncode != 0:
        pytest.skip(f"the sanitizer build failed: {build.stderr.strip().splitlines()[-1:]}")
    env = dict(os.environ, LD_PRELOAD=libasan, PYTHONMALLOC="malloc", ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    run = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sanitized_walk.py"), "--out", str(tmp_path), "--cases", "150"],
        check=False, capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )
    assert run.returncode == 0, textwrap.shorten(run.stderr, 3000)
    assert "runtime error" not in run.stderr and "AddressSanitizer" not in run.stderr
    assert "cases agree" in run.stdout


def test_asking_for_the_compiled_walk_where_it_was_not_built_is_a_chain_error(monkeypatch):
    monkeypatch.setattr(scanner_module, "_compiled", None)
    assert default_walk() is Walk.PURE
    with pytest.raises(ChainError, match="not built"):
        Scanner(set(), walk=Walk.COMPILED)


@needs_mainnet
def test_the_kernel_route_and_the_compiled_walk_share_one_scanners_unspent_outputs():
    (height, data), (next_height, next_data) = mainnet_blocks()[-2:]
    block = Block.parse(data)
    watch = {out.script_pubkey for tx in block.transactions for out in tx.outputs}
    watch |= {out.script_pubkey for tx in Block.parse(next_data).transactions for out in tx.outputs}
    spent = SpentBlock(height, block, tuple(tuple(TxOut(0, UNWATCHED) for _ in tx.inputs) for tx in block.transactions[1:]))
    pure, fast = (Scanner(watch, walk=walk) for walk in (Walk.PURE, Walk.COMPILED))
    assert pure.scan_spent_block(spent) == fast.scan_spent_block(spent)
    assert pure.unspent == fast.unspent and pure.unspent
    assert pure.scan_raw_block(next_height, next_data) == fast.scan_raw_block(next_height, next_data)
    assert pure.unspent == fast.unspent


@given(data=st.binary(max_size=300), key=st.binary(min_size=8, max_size=8), offset=st.integers(0, 2**40))
@settings(max_examples=300, deadline=None)
def test_the_compiled_xor_deobfuscates_as_numpy_does(data, key, offset):
    from boveda.chain import blockfile_records

    compiled = blockfile_records._compiled_xor
    if compiled is None:
        pytest.skip("no compiled walk on this machine")
    blockfile_records._compiled_xor = None  # the numpy way
    try:
        expected = blockfile_records.deobfuscate(data, key, offset)
    finally:
        blockfile_records._compiled_xor = compiled
    assert blockfile_records.deobfuscate(data, key, offset) == expected
    assert expected == bytes(b ^ key[(offset + i) % 8] for i, b in enumerate(data))
