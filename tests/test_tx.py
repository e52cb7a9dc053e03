"""Transactions and blocks: round trips, refusals, and identifiers."""

import pytest
from hypothesis import given, strategies as st

from boveda.bitcoin.block import Block, BlockHeader, merkle_root
from boveda.bitcoin.codec import Reader, encode_compact_size, read_compact_size
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.tx import (
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
    decode_witness,
    encode_witness,
    txid_from_hex,
)
from boveda.errors import CodecError

# Bitcoin's first non-coinbase transaction (block 170), as published everywhere.
BLOCK_170_TX_HEX = (
    "0100000001c997a5e56e104102fa209c6a852dd90660a20b2d9c352423edce25857fcd3704000000004847304402204e45e16932b8af514961a1d3"
    "a1a25fdf3f4f7732e9d624c6c61548ab5fb8cd410220181522ec8eca07de4860a4acdd12909d831cc56cbbac4622082221a8768d1d0901ffffffff"
    "0200ca9a3b00000000434104ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7"
    "303b8a0626f1baded5c72a704f7e6cd84cac00286bee0000000043410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a"
    "5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac00000000"
)
BLOCK_170_TXID = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"

hashes = st.binary(min_size=32, max_size=32)
scripts = st.binary(max_size=300)
txins = st.builds(
    TxIn,
    st.builds(OutPoint, hashes, st.integers(0, 2**32 - 1)),
    scripts,
    st.integers(0, 2**32 - 1),
    st.lists(st.binary(max_size=80), max_size=4).map(tuple),
)
txouts = st.builds(TxOut, st.integers(0, 21_000_000 * 100_000_000), scripts)
transactions = st.builds(
    Transaction,
    st.integers(-(2**31), 2**31 - 1),
    st.lists(txins, min_size=1, max_size=5).map(tuple),
    st.lists(txouts, max_size=5).map(tuple),
    st.integers(0, 2**32 - 1),
)


def test_known_transaction_has_its_published_txid():
    tx = Transaction.from_hex(BLOCK_170_TX_HEX)
    assert tx.txid_hex == BLOCK_170_TXID
    assert tx.outputs[0].value_sat == 10 * 100_000_000
    assert tx.serialize().hex() == BLOCK_170_TX_HEX


@given(transactions)
def test_transaction_round_trips(tx):
    assert Transaction.parse(tx.serialize()) == tx
    assert Transaction.parse(tx.serialize(with_witness=False)).txid == tx.txid


@given(transactions)
def test_txid_ignores_witness_and_wtxid_does_not(tx):
    stripped = Transaction(tx.version, tuple(TxIn(i.prevout, i.script_sig, i.sequence) for i in tx.inputs), tx.outputs, tx.locktime)
    assert stripped.txid == tx.txid
    assert (stripped.wtxid == tx.wtxid) == (not tx.has_witness)


@given(transactions, st.binary(min_size=1, max_size=4))
def test_trailing_bytes_are_refused(tx, extra):
    with pytest.raises(CodecError, match="trailing"):
        Transaction.parse(tx.serialize() + extra)


@given(transactions)
def test_every_truncation_is_refused(tx):
    raw = tx.serialize()
    for cut in range(0, len(raw), max(1, len(raw) // 7)):
        with pytest.raises(CodecError):
            Transaction.parse(raw[:cut])


@given(st.integers(0, 2**64 - 1))
def test_compact_size_round_trips(n):
    assert Reader(encode_compact_size(n)).compact_size() == n


@pytest.mark.parametrize("raw", ["fd0100", "fdfc00", "feffff0000", "ffffffffff00000000"])
def test_non_canonical_compact_size_is_refused(raw):
    with pytest.raises(CodecError, match="non-canonical"):
        Reader(bytes.fromhex(raw)).compact_size()


@given(st.integers(0, 2**64 - 1), st.binary(max_size=3), st.binary(max_size=3))
def test_compact_size_reads_at_a_position_and_says_where_it_ends(n, before, after):
    data = before + encode_compact_size(n) + after
    assert read_compact_size(data, len(before)) == (n, len(data) - len(after))


def test_compact_size_refusals_name_the_offset():
    with pytest.raises(CodecError, match="truncated CompactSize at offset 2"):
        read_compact_size(b"\x00\x00\xfe\x01\x02\x03", 2)
    with pytest.raises(CodecError, match="truncated CompactSize at offset 1"):
        read_compact_size(b"\x05\xfd\x00\x01", 1, end=3)  # the bytes are there, but past `end`
    with pytest.raises(CodecError, match="truncated CompactSize at offset 0"):
        read_compact_size(b"")
    with pytest.raises(CodecError, match="non-canonical CompactSize 252 at offset 0"):
        read_compact_size(bytes.fromhex("fdfc00"))
    for n in (-1, 2**64):
        with pytest.raises(CodecError, match="0..2\\^64-1"):
            encode_compact_size(n)


@given(st.lists(st.binary(max_size=300), max_size=5).map(tuple))
def test_witness_stacks_round_trip_and_refuse_trailing_bytes(witness):
    encoded = encode_witness(witness)
    assert decode_witness(encoded) == witness
    with pytest.raises(CodecError, match="trailing bytes after witness stack"):
        decode_witness(encoded + b"\x00")
    for cut in range(len(encoded)):
        with pytest.raises(CodecError):
            decode_witness(encoded[:cut])


def test_transaction_and_header_refusals_are_codec_errors():
    with pytest.raises(CodecError, match="not a transaction in hex"):
        Transaction.from_hex(BLOCK_170_TX_HEX[:-1] + "g")
    with pytest.raises(CodecError, match="a block header is 80 bytes, got 79"):
        BlockHeader.parse(bytes(79))
    with pytest.raises(CodecError, match="at least one hash"):
        merkle_root([])


def test_txid_from_hex_refuses_bad_input():
    assert txid_from_hex(BLOCK_170_TXID)[::-1].hex() == BLOCK_170_TXID
    for bad in ["", "xyz", BLOCK_170_TXID[:-2], BLOCK_170_TXID + "00"]:
        with pytest.raises(CodecError, match="not a txid"):
            txid_from_hex(bad)


def test_merkle_root_duplicates_the_odd_node():
    a, b, c = (sha256d(bytes([i])) for i in range(3))
    assert merkle_root([a]) == a
    assert merkle_root([a, b, c]) == sha256d(sha256d(a + b) + sha256d(c + c))


@given(st.builds(BlockHeader, st.integers(-(2**31), 2**31 - 1), hashes, hashes, st.integers(0, 2**32 - 1),
                 st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
def test_header_round_trips(header):
    assert BlockHeader.parse(header.serialize()) == header


@given(transactions)
def test_block_round_trips_and_refuses_trailing_bytes(tx):
    header = BlockHeader(1, bytes(32), merkle_root([tx.txid]), 0, 0x207FFFFF, 0)
    block = Block(header, (tx,))
    assert Block.parse(block.serialize()) == block
    assert block.computed_merkle_root() == header.merkle_root
    with pytest.raises(CodecError):
        Block.parse(block.serialize() + b"\x00")
