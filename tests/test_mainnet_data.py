"""Real mainnet blocks and blk/rev files (shared/data/mainnet, provenance in its SOURCES.md)."""

import random
from pathlib import Path

import pytest

import _chains
from boveda.bitcoin.block import Block
from boveda.bitcoin.codec import encode_compact_size
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.network import Network
from boveda.chain.blockfiles import BlockFileSource, read_block_file, read_undo_file
from boveda.errors import ChainError

# The repo's parent folder holds shared/ (in CI it is copied beside the clone).
MAINNET_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mainnet"
FRAMED_DIR = MAINNET_DIR / "framed"
pytestmark = pytest.mark.skipif(
    not MAINNET_DIR.is_dir(), reason=f"mainnet test data not found at {MAINNET_DIR} (shared/ beside the repo)"
)
MAIN = Network.MAIN

# From the "Blocks" table of SOURCES.md: file, height, hash, size, stripped size, transactions, segwit transactions.
BLOCKS = [
    ("0-000000000019d668.blk", 0, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
     285, 285, 1, 0),
    ("1-00000000839a8e68.blk", 1, "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
     215, 215, 1, 0),
    ("169482-0000000000000756.blk", 169482, "0000000000000756935f1ee9d5987857b604046f846d3df56d024cdb5f368665",
     18678, 18678, 14, 0),
    ("252860-000000000000000e.blk", 252860, "000000000000000ec6e641c32857ce4987411284f7fcd5d22bd569e2fc5c0f7b",
     248484, 248484, 615, 0),
    ("277647-0000000000000000.blk", 277647, "0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8",
     149164, 149164, 213, 0),
    ("300025-0000000000000000.blk", 300025, "0000000000000000821c4e0acc40f88bedbce3b73ba2358b5ade58a9022cc78c",
     284231, 284231, 461, 0),
    ("413567-0000000000000000.blk", 413567, "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069",
     999887, 999887, 1557, 0),
    ("481829-0000000000000000.blk", 481829, "000000000000000000917cba69f69b758fe396c8e30ae97bbcf08c4eb975e726",
     998318, 998282, 2020, 1),
    ("540107-0000000000000000.blk", 540107, "00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab",
     2259447, 577962, 230, 104),
    ("574200-0000000000000000.blk", 574200, "0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2",
     1245250, 915952, 3315, 1341),
    ("702861-0000000000000000.blk", 702861, "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae",
     1381836, 870406, 2500, 2065),
    ("713126-0000000000000000.blk", 713126, "0000000000000000000593310d3b0cdc082af49f38b8a1611239072aef8433a8",
     1415444, 812825, 2967, 2464),
    ("849236-0000000000000000.blk", 849236, "0000000000000000000237152a8a45b8285ea4ce2f2d5358e909bfe8d400220f",
     1588722, 801539, 2410, 2363),
]
GENESIS_HASH_HEX = BLOCKS[0][2]
# From the "framed/" section of SOURCES.md.
NBITCOIN_HEIGHT_300_HEX = "0000000062b69e4a2c3312a5782d7798b0711e9ebac065cd5d19f946439f8609"
HADOOP_RECORDS = [
    (482253, "0000000000000000001f788edab5b60cf396ada8c110d4c32f63c670cd512797"),
    (482202, "000000000000000000a114f77a4e02373cebaaa6aef547625f3706b81ce95964"),
]


def bip34_height(block: Block) -> int:
    """The height pushed first in the coinbase's scriptSig (BIP-34)."""
    script_sig = block.transactions[0].inputs[0].script_sig
    length = script_sig[0]
    assert 1 <= length <= 8, "BIP-34 heights are pushed as a short number"
    return int.from_bytes(script_sig[1 : 1 + length], "little")


def stripped_size(block: Block) -> int:
    return sum(
        [80, len(encode_compact_size(len(block.transactions)))]
        + [len(tx.serialize(with_witness=False)) for tx in block.transactions]
    )


def check_block(block: Block, raw: bytes) -> None:
    """What every real block must satisfy: byte-identical round trip, PoW, merkle and witness commitments."""
    assert block.serialize() == raw
    assert block.header.meets_target()
    assert block.computed_merkle_root() == block.header.merkle_root
    commitment = block.witness_commitment()
    if any(tx.has_witness for tx in block.transactions):
        assert commitment is not None
    if commitment is not None:
        assert block.computed_witness_commitment() == commitment


@pytest.mark.parametrize(
    ("file_name", "height", "hash_hex", "size", "stripped", "tx_count", "segwit_count"), BLOCKS, ids=[b[0] for b in BLOCKS]
)
def test_mainnet_block(file_name, height, hash_hex, size, stripped, tx_count, segwit_count):
    raw = (MAINNET_DIR / file_name).read_bytes()
    block = Block.parse(raw)
    check_block(block, raw)
    assert block.hash_hex == hash_hex
    assert file_name.startswith(f"{height}-{hash_hex[:16]}")
    assert len(raw) == size
    assert stripped_size(block) == stripped
    assert len(block.transactions) == tx_count
    assert sum(tx.has_witness for tx in block.transactions) == segwit_count
    assert block.transactions[0].is_coinbase and not any(tx.is_coinbase for tx in block.transactions[1:])
    if block.header.version >= 2:
        assert bip34_height(block) == height


def test_block_1_builds_on_genesis():
    genesis = Block.parse((MAINNET_DIR / BLOCKS[0][0]).read_bytes())
    block_1 = Block.parse((MAINNET_DIR / BLOCKS[1][0]).read_bytes())
    assert block_1.header.prev_hash == genesis.hash


# --- framed files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nbitcoin_blocks() -> list[tuple[bytes, Block]]:
    raws = [raw for name in ("nbitcoin-blk00000.dat", "nbitcoin-blk00001.dat")
            for raw in read_block_file(FRAMED_DIR / name, MAIN)]
    return [(raw, Block.parse(raw)) for raw in raws]


def test_nbitcoin_block_files_hold_heights_0_to_599(nbitcoin_blocks):
    assert len(nbitcoin_blocks) == 600
    assert nbitcoin_blocks[0][1].hash_hex == GENESIS_HASH_HEX
    assert nbitcoin_blocks[1][0] == (MAINNET_DIR / BLOCKS[1][0]).read_bytes()
    assert nbitcoin_blocks[300][1].hash_hex == NBITCOIN_HEIGHT_300_HEX
    prev_hash = bytes(32)
    for raw, block in nbitcoin_blocks:
        assert block.header.prev_hash == prev_hash
        check_block(block, raw)
        prev_hash = block.hash
    blocks = [block for _, block in nbitcoin_blocks]
    assert sum(len(b.transactions) for b in blocks) == 616
    assert min(h for h, b in enumerate(blocks) if len(b.transactions) > 1) == 170
    outputs = [out.script_pubkey for b in blocks for tx in b.transactions for out in tx.outputs]
    assert len(outputs) == 627
    assert all(s[-1] == 0xAC and s[0] in (33, 65) and len(s) == s[0] + 2 for s in outputs)


def test_hadoop_framed_file_holds_two_blocks_out_of_height_order():
    raws = list(read_block_file(FRAMED_DIR / "hadoopcryptoledger-scriptwitness2.dat", MAIN))
    blocks = [Block.parse(raw) for raw in raws]
    assert [(bip34_height(b), b.hash_hex) for b in blocks] == HADOOP_RECORDS
    for raw, block in zip(raws, blocks):
        check_block(block, raw)
    assert sum(len(b.transactions) for b in blocks) == 4699
    assert sum(tx.has_witness for b in blocks for tx in b.transactions) == 20


def test_nbitcoin_undo_records_pair_with_their_blocks_by_checksum(nbitcoin_blocks):
    records = list(read_undo_file(FRAMED_DIR / "nbitcoin-rev00000.dat", MAIN))
    assert len(records) == 40
    blocks = [block for _, block in nbitcoin_blocks]
    for i, record in enumerate(records):
        assert record.undo == b"\x00"  # blocks 1-40 spend nothing but their coinbase
        # Exactly one of the 600 blocks has this record's checksum: the (i+1)-th.
        assert [h for h, b in enumerate(blocks) if record.pairs_with(b.header.prev_hash)] == [i + 1]


# --- as a node's data directory -----------------------------------------------------------


def test_nbitcoin_files_as_an_obfuscated_shuffled_datadir(nbitcoin_blocks, tmp_path):
    """The 600 blocks spread out of order over two files, XOR-obfuscated and zero-padded as Core
    writes them, with undo data for heights 1-40: the chain a reader can trust ends at 40, the
    last block known to have been connected."""
    raws = [raw for raw, _ in nbitcoin_blocks]
    records = list(read_undo_file(FRAMED_DIR / "nbitcoin-rev00000.dat", MAIN))
    rng = random.Random(2009)
    placement = [rng.randrange(2) for _ in raws]
    blk_files: list[list[bytes]] = [[], []]
    for height in rng.sample(range(600), 600):
        blk_files[placement[height]].append(raws[height])
    rev_files: list[list[tuple[bytes, bytes]]] = [[], []]
    for height, record in enumerate(records, start=1):
        rev_files[placement[height]].append((record.undo, record.checksum))
    xor_key = bytes.fromhex("f00dfacec0ffee99")
    _chains.write_blocks_folder(tmp_path / "blocks", MAIN.magic, blk_files, rev_files, xor_key=xor_key)
    assert (tmp_path / "blocks" / "blk00000.dat").read_bytes()[:4] != MAIN.magic  # really obfuscated

    with BlockFileSource(tmp_path, MAIN) as source:
        assert source.tip().height == 40
        assert [source.hash_at(h) for h in range(41)] == [sha256d(raw[:80]) for raw in raws[:41]]
        read = list(source.raw_blocks(0, 40))
        assert [r.block for r in read] == raws[:41]
        assert [r.undo for r in read] == [b""] + [b"\x00"] * 40
        spent_blocks = list(source.blocks(0, 40))
        assert all(sb.prevouts == () for sb in spent_blocks)
        assert [sb.block.hash for sb in spent_blocks] == [r.hash for r in read]


def test_a_datadir_without_genesis_is_refused(tmp_path):
    raws = list(read_block_file(FRAMED_DIR / "hadoopcryptoledger-scriptwitness2.dat", MAIN))
    _chains.write_blocks_folder(tmp_path / "blocks", MAIN.magic, [raws], [], xor_key=bytes(8))
    with pytest.raises(ChainError, match="no genesis block"):
        BlockFileSource(tmp_path, MAIN)
