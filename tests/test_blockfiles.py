"""BlockFileSource against Bitcoin Core's own engine, on regtest chains it validated."""

import random
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

import _chains
from boveda.bitcoin.block import Block
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import (
    NO_XOR_KEY,
    BlockFileSource,
    block_records,
    deobfuscate,
    read_block_file,
    read_undo_file,
    read_xor_key,
)
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import RegtestBuilder
from boveda.chain.source import BlockRef, ChainSource
from boveda.chain.undo import compress_script, parse_block_undo
from boveda.errors import ChainError

REGTEST = Network.REGTEST


@pytest.fixture(scope="module")
def spending_chain(tmp_path_factory):
    return _chains.build_spending_chain(tmp_path_factory.mktemp("spending"))


@pytest.fixture(scope="module")
def reorg_chain(tmp_path_factory):
    return _chains.build_reorg_chain(tmp_path_factory.mktemp("reorg"))


def _blocks_dir(chain):
    return chain.datadir / "regtest" / "blocks"


def _file_hashes(chain) -> list[bytes]:
    blocks_dir = _blocks_dir(chain)
    key = read_xor_key(blocks_dir)
    return [sha256d(raw[:80]) for raw in read_block_file(blocks_dir / "blk00000.dat", REGTEST, xor_key=key)]


# --- the same chain as the kernel --------------------------------------------------------


@pytest.mark.parametrize("with_kernel", [True, False], ids=["kernel", "by-work"])
def test_blocks_equal_the_kernels_block_by_block(spending_chain, with_kernel):
    with KernelSource(spending_chain.datadir, REGTEST) as kernel:
        tip = kernel.tip()
        with BlockFileSource(spending_chain.datadir, REGTEST, kernel=kernel if with_kernel else None) as source:
            assert isinstance(source, ChainSource)
            assert source.tip() == tip
            for ours, theirs in zip(source.blocks(0, tip.height), kernel.blocks(0, tip.height), strict=True):
                assert ours == theirs
    assert tip.height == len(spending_chain.blocks)
    assert tip.hash == spending_chain.blocks[-1].hash


def test_raw_blocks_are_the_stored_blocks_and_their_undo(spending_chain):
    with KernelSource(spending_chain.datadir, REGTEST) as kernel:
        with BlockFileSource(spending_chain.datadir, REGTEST, kernel=kernel) as source:
            raws = list(source.raw_blocks(0, source.tip().height))
            assert [raw.hash for raw in raws] == [kernel.hash_at(h) for h in range(len(raws))]
            # The coins' heights and coinbase flags as the kernel reports them.
            for raw in raws[1:]:
                spent = kernel.read_spent_outputs(raw.height)
                expected = [
                    [(coin.confirmation_height, coin.is_coinbase) for coin in tx.coins] for tx in spent.transactions
                ]
                decoded = [[(coin.height, coin.is_coinbase) for coin in tx] for tx in parse_block_undo(raw.undo)]
                assert decoded == expected
    assert [raw.height for raw in raws] == list(range(len(raws)))
    assert raws[0].undo == b""
    built = {block.hash: block.serialize() for block in spending_chain.blocks}
    for raw in raws[1:]:
        assert raw.block == built[raw.hash]
        assert sha256d(raw.block[:80]) == raw.hash


def test_the_chain_covers_every_undo_script_form(spending_chain):
    """Guards the test data: the kernel-written undo data uses every compressed form."""
    with BlockFileSource(spending_chain.datadir, REGTEST) as source:
        forms = set()
        for spent_block in source.blocks(1, source.tip().height):
            for coins in spent_block.prevouts:
                forms.update(min(compress_script(coin.script_pubkey)[0], 6) for coin in coins)
    assert forms == {0, 1, 2, 3, 4, 5, 6}


def test_a_sub_range_reads_the_same_blocks(spending_chain):
    with BlockFileSource(spending_chain.datadir, REGTEST) as source:
        whole = list(source.blocks(0, source.tip().height))
        assert list(source.blocks(105, 108)) == whole[105:109]
        assert source.hash_at(107) == spending_chain.blocks[106].hash
        with pytest.raises(ChainError, match=r"height 112 is outside the active chain \(0\.\.111\)"):
            source.hash_at(112)
        with pytest.raises(ChainError, match="outside the active chain"):
            next(source.raw_blocks(100, 112))


# --- reorganisations and stale blocks ----------------------------------------------------


def test_files_hold_stale_blocks_out_of_height_order(reorg_chain):
    hashes = _file_hashes(reorg_chain)
    stale = [block.hash for block in reorg_chain.stale]
    assert set(stale) <= set(hashes)
    assert len(hashes) == 1 + len(reorg_chain.blocks) + len(stale)
    # Branch A's blocks (heights 103-105) sit before branch B's block at height 103.
    assert hashes.index(stale[2]) < hashes.index(reorg_chain.blocks[102].hash)
    undo_records = list(read_undo_file(_blocks_dir(reorg_chain) / "rev00000.dat", REGTEST,
                                       xor_key=read_xor_key(_blocks_dir(reorg_chain))))
    # Branch A was connected before the reorg, so its undo data stays in the file.
    assert len(undo_records) == len(reorg_chain.blocks) + 3


@pytest.mark.parametrize("with_kernel", [True, False], ids=["kernel", "by-work"])
def test_follows_the_active_chain_after_a_reorg(reorg_chain, with_kernel):
    with KernelSource(reorg_chain.datadir, REGTEST) as kernel:
        tip = kernel.tip()
        with BlockFileSource(reorg_chain.datadir, REGTEST, kernel=kernel if with_kernel else None) as source:
            # Without a kernel the over-paying block (most work, never connected) must not be the tip.
            assert source.tip() == tip == BlockRef(107, reorg_chain.blocks[-1].hash)
            assert [source.hash_at(h) for h in range(1, 108)] == [b.hash for b in reorg_chain.blocks]
            for ours, theirs in zip(source.blocks(0, tip.height), kernel.blocks(0, tip.height), strict=True):
                assert ours == theirs


def test_undo_of_a_stale_sibling_is_not_taken(reorg_chain):
    """Blocks 104 of branches A and B each spent a coinbase; the active one gets its own undo record."""
    with BlockFileSource(reorg_chain.datadir, REGTEST) as source:
        (spent_block,) = source.blocks(104, 104)
    spending_tx = reorg_chain.blocks[103].transactions[1]
    assert spent_block.block.transactions[1] == spending_tx
    # B's block 104 spends the coinbase of height 1; A's spent that of height 2.
    assert spent_block.prevouts == ((reorg_chain.blocks[0].transactions[0].outputs[0],),)


class _StubKernel:
    """A ChainSource that claims whatever chain it is given."""

    def __init__(self, hashes, network=REGTEST):
        self.network = network
        self._hashes = hashes

    def tip(self):
        return BlockRef(len(self._hashes) - 1, self._hashes[-1])

    def hash_at(self, height):
        return self._hashes[height]

    def blocks(self, start_height, stop_height):
        raise NotImplementedError

    def close(self):
        pass


def test_kernel_disagreement_is_a_chain_error(reorg_chain):
    with BlockFileSource(reorg_chain.datadir, REGTEST) as source:
        active = [source.hash_at(h) for h in range(source.tip().height + 1)]
    with pytest.raises(ChainError, match="is not in the blk files"):
        BlockFileSource(reorg_chain.datadir, REGTEST, kernel=_StubKernel(active[:-1] + [bytes(32)]))
    with pytest.raises(ChainError, match="at height 107, not 108"):
        BlockFileSource(reorg_chain.datadir, REGTEST, kernel=_StubKernel([bytes(32)] + active))
    with pytest.raises(ChainError, match="reads main, not regtest"):
        BlockFileSource(reorg_chain.datadir, REGTEST, kernel=_StubKernel(active, Network.MAIN))
    # A stale branch the kernel would call active: the files follow its tip, then reads check each height.
    stale_tip = reorg_chain.stale[2].hash  # branch A's block 105
    lying = active[:103] + [reorg_chain.stale[0].hash, reorg_chain.stale[1].hash, stale_tip]
    with BlockFileSource(reorg_chain.datadir, REGTEST, kernel=_StubKernel(lying)) as source:
        assert source.tip() == BlockRef(105, stale_tip)
        assert len(list(source.raw_blocks(100, 105))) == 6
    lying_later = _StubKernel(active)
    with BlockFileSource(reorg_chain.datadir, REGTEST, kernel=lying_later) as source:
        lying_later._hashes = active[:50] + [bytes(32)] + active[51:]
        with pytest.raises(ChainError, match="disagree at height 50"):
            list(source.raw_blocks(0, 60))


# --- a running node, other folder layouts ------------------------------------------------


def test_reads_while_the_node_holds_the_datadir(tmp_path):
    with RegtestBuilder(tmp_path) as builder:
        for _ in range(5):
            builder.mine(coinbase_script=_chains.P2WSH_TRUE)
        with BlockFileSource(tmp_path, REGTEST) as source:
            assert source.tip() == builder.tip
        builder.mine(coinbase_script=_chains.P2WSH_TRUE)
        with BlockFileSource(tmp_path, REGTEST) as source:
            assert source.tip() == builder.tip


def test_shuffled_across_files_with_a_fresh_key(spending_chain, tmp_path):
    """Blocks out of height order over three files, each rev file in its blocks' connect order."""
    with BlockFileSource(spending_chain.datadir, REGTEST) as source:
        raws = list(source.raw_blocks(0, source.tip().height))
        expected = list(source.blocks(0, source.tip().height))
    rng = random.Random(7)
    placement = [rng.randrange(3) for _ in raws]
    blk_files = [[] for _ in range(3)]
    for raw in rng.sample(raws, len(raws)):
        blk_files[placement[raw.height]].append(raw.block)
    rev_files = [[] for _ in range(3)]
    for raw in raws[1:]:
        prev_hash = raws[raw.height - 1].hash
        rev_files[placement[raw.height]].append((raw.undo, sha256d(prev_hash + raw.undo)))
    xor_key = bytes.fromhex("0123456789abcdef")
    _chains.write_blocks_folder(tmp_path / "regtest" / "blocks", REGTEST.magic, blk_files, rev_files, xor_key=xor_key)
    with BlockFileSource(tmp_path, REGTEST) as shuffled:
        assert list(shuffled.blocks(0, shuffled.tip().height)) == expected
        assert {shuffled.location(h).file_number for h in range(len(raws))} == {0, 1, 2}


# --- errors ------------------------------------------------------------------------------


def _one_line_chain_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_missing_datadir(tmp_path):
    with pytest.raises(ChainError) as excinfo:
        BlockFileSource(tmp_path / "nowhere", REGTEST)
    assert "no data directory at" in _one_line_chain_error(excinfo)


def test_wrong_network(spending_chain):
    with pytest.raises(ChainError) as excinfo:
        BlockFileSource(spending_chain.datadir, Network.MAIN)
    assert "no main block data" in _one_line_chain_error(excinfo)
    assert "regtest" in str(excinfo.value)


def test_empty_blocks_folder(tmp_path):
    (tmp_path / "regtest" / "blocks" / "index").mkdir(parents=True)
    with pytest.raises(ChainError) as excinfo:
        BlockFileSource(tmp_path, REGTEST)
    assert "no blk*.dat block files in" in _one_line_chain_error(excinfo)


def test_another_networks_files(spending_chain, tmp_path):
    blocks_dir = tmp_path / "signet" / "blocks"
    shutil.copytree(_blocks_dir(spending_chain), blocks_dir)
    with pytest.raises(ChainError) as excinfo:
        BlockFileSource(tmp_path, Network.SIGNET)
    message = _one_line_chain_error(excinfo)
    assert "blk00000.dat holds regtest records" in message and "not signet" in message


def test_damaged_and_truncated_files(spending_chain, tmp_path):
    blocks_dir = _blocks_dir(spending_chain)
    key = read_xor_key(blocks_dir)
    plain = deobfuscate((blocks_dir / "blk00000.dat").read_bytes(), key)
    first, second = list(block_records(plain, REGTEST, xor_key=key))[:2]
    damaged = bytearray(plain)
    damaged[second[0] - 8] ^= 0xFF
    (tmp_path / "damaged.dat").write_bytes(bytes(damaged))
    with pytest.raises(ChainError, match=f"unexpected bytes .* at offset {second[0] - 8}"):
        list(read_block_file(tmp_path / "damaged.dat", REGTEST))
    (tmp_path / "cut.dat").write_bytes(plain[: second[0] + 100])
    with pytest.raises(ChainError, match="truncated"):
        list(read_block_file(tmp_path / "cut.dat", REGTEST))
    assert first == (8, 285)  # the regtest genesis block, just past its record header


# --- the low-level readers ---------------------------------------------------------------


@given(st.binary(max_size=100), st.binary(min_size=8, max_size=8), st.integers(0, 2**31))
def test_deobfuscate_matches_bytewise_xor(data, key, offset):
    assert deobfuscate(data, key, offset) == _chains.xor_reference(data, key, offset)
    assert deobfuscate(deobfuscate(data, key, offset), key, offset) == data


def test_loose_file_readers_on_a_node_folder(spending_chain):
    blocks_dir = _blocks_dir(spending_chain)
    key = read_xor_key(blocks_dir)
    assert key != NO_XOR_KEY  # Core 28+ obfuscates new folders
    blocks = [Block.parse(raw) for raw in read_block_file(blocks_dir / "blk00000.dat", REGTEST, xor_key=key)]
    assert [b.hash for b in blocks[1:]] == [b.hash for b in spending_chain.blocks]
    records = list(read_undo_file(blocks_dir / "rev00000.dat", REGTEST, xor_key=key))
    assert len(records) == len(spending_chain.blocks)
    assert all(record.pairs_with(block.header.prev_hash) for record, block in zip(records, blocks[1:]))
    assert not records[5].pairs_with(blocks[5].header.prev_hash)
    # Read without the key, the same file is not a sequence of records.
    with pytest.raises(ChainError):
        list(read_block_file(blocks_dir / "blk00000.dat", REGTEST))


def test_a_blk_file_cut_or_rewritten_under_an_open_source_is_a_clean_error(spending_chain, tmp_path):
    """The source reads blocks through a map of each file: a file cut short after it was mapped must be read
    by pread (a short read, a clean error), never touched through the map (a fault); one rewritten in place
    is caught by the header check, the same as before the map."""
    datadir = tmp_path / "copy"
    shutil.copytree(spending_chain.datadir, datadir)
    blk = datadir / "regtest" / "blocks" / "blk00000.dat"
    with BlockFileSource(datadir, REGTEST) as source:
        tip = source.tip().height
        assert [r.height for r in source.raw_blocks(1, 2, with_undo=False)] == [1, 2]  # mapped now
        key = read_xor_key(blk.parent)
        records = list(block_records(deobfuscate(blk.read_bytes(), key), REGTEST, xor_key=key))
        with open(blk, "r+b") as f:
            f.truncate(records[len(records) // 2][0] + 10)  # ten bytes into a middle block
        with pytest.raises(ChainError, match="changed at offset"):
            list(source.raw_blocks(1, tip, with_undo=False))
    shutil.copyfile(_blocks_dir(spending_chain) / "blk00000.dat", blk)
    with BlockFileSource(datadir, REGTEST) as source:
        list(source.raw_blocks(1, 1, with_undo=False))
        data = bytearray(blk.read_bytes())
        data[records[len(records) // 2][0] + 4] ^= 0xFF  # inside a middle block's header (its version's last byte)
        blk.write_bytes(bytes(data))
        with pytest.raises(ChainError, match="changed at offset"):
            list(source.raw_blocks(1, source.tip().height, with_undo=False))
