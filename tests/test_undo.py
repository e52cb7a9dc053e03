"""Undo-data decoding: Core's VarInt, amount and script compression, CBlockUndo records."""

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.bitcoin.tx import TxOut
from boveda.chain.undo import (
    MAX_SCRIPT_SIZE,
    SpentCoin,
    compress_amount,
    compress_script,
    decompress_amount,
    decompress_script,
    encode_varint,
    parse_block_undo,
    read_varint,
    serialize_block_undo,
    undo_checksum,
)
from boveda.errors import CodecError
from boveda.money import MAX_MONEY_SAT

COIN = 100_000_000
# The generator point G (private key 1); its y coordinate is even.
G_X = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
G_Y = bytes.fromhex("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")


def _x_not_on_curve() -> bytes:
    for n in range(1, 1000):
        x = n.to_bytes(32, "big")
        try:
            coincurve.PublicKey(b"\x02" + x)
        except ValueError:
            return x
    raise AssertionError("unreachable")


# --- VarInt ---------------------------------------------------------------------------

# The table in Bitcoin Core's src/serialize.h (comment above WriteVarInt), plus 3e9 from
# src/test/coins_tests.cpp (ccoins_serialization).
VARINT_VECTORS = [
    (0, "00"), (1, "01"), (127, "7f"), (128, "8000"), (255, "807f"), (256, "8100"),
    (16383, "fe7f"), (16384, "ff00"), (16511, "ff7f"), (65535, "82fe7f"), (2**32, "8efefeff00"),
    (3_000_000_000, "8a95c0bb00"),
]


@pytest.mark.parametrize(("n", "encoded_hex"), VARINT_VECTORS)
def test_varint_matches_core_table(n, encoded_hex):
    assert encode_varint(n).hex() == encoded_hex
    assert read_varint(bytes.fromhex(encoded_hex) + b"\xaa", 0) == (n, len(encoded_hex) // 2)


@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(n):
    encoded = encode_varint(n)
    assert read_varint(encoded, 0) == (n, len(encoded))
    # Every byte but the last has the continuation bit; the last never does.
    assert all(b & 0x80 for b in encoded[:-1]) and not encoded[-1] & 0x80


def test_varint_refuses_truncation_and_overflow():
    with pytest.raises(CodecError, match="truncated"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(CodecError, match="64 bits"):
        read_varint(b"\xff" * 10 + b"\x00", 0)


# --- amounts ----------------------------------------------------------------------------

# Bitcoin Core's src/test/compress_tests.cpp (compress_amounts).
AMOUNT_VECTORS = [(0, 0x0), (1, 0x1), (1_000_000, 0x7), (COIN, 0x9), (50 * COIN, 0x32), (21_000_000 * COIN, 0x1406F40)]


@pytest.mark.parametrize(("value_sat", "compressed"), AMOUNT_VECTORS)
def test_amount_compression_matches_core(value_sat, compressed):
    assert compress_amount(value_sat) == compressed
    assert decompress_amount(compressed) == value_sat


@given(st.integers(0, 2**64 - 1))
def test_amount_round_trip(value_sat):
    assert decompress_amount(compress_amount(value_sat)) == value_sat


@given(st.integers(0, compress_amount(2**64 - 1)))
def test_amount_decompress_then_compress(compressed):
    # Core's test checks every code up to 100,000 decodes and re-encodes to itself.
    try:
        value_sat = decompress_amount(compressed)
    except CodecError:
        assert compressed > compress_amount(MAX_MONEY_SAT)
        return
    assert compress_amount(value_sat) == compressed


def test_amount_codes_up_to_100000_round_trip():
    # Bitcoin Core's src/test/compress_tests.cpp runs the same loop.
    assert all(compress_amount(decompress_amount(code)) == code for code in range(100_000))
    assert decompress_amount(compress_amount(2**64 - 1)) == 2**64 - 1


@given(st.integers(1, 21_000_000).filter(lambda n: n % 10), st.integers(0, 8))
def test_trailing_zeros_cost_one_step_each(digits, zeros):
    # The number of trailing decimal zeros (up to 8) is the low digit of the code.
    assert compress_amount(digits * 10**zeros) == compress_amount(digits) + zeros


# --- scripts ----------------------------------------------------------------------------

hashes20 = st.binary(min_size=20, max_size=20)
xs = st.binary(min_size=32, max_size=32)
private_keys = st.integers(1, 2**255).map(lambda n: coincurve.PrivateKey(n.to_bytes(32, "big")))


def _p2pkh(h: bytes) -> bytes:
    return b"\x76\xa9\x14" + h + b"\x88\xac"


def _p2sh(h: bytes) -> bytes:
    return b"\xa9\x14" + h + b"\x87"


@given(hashes20)
def test_p2pkh_compresses_to_form_0(h):
    assert compress_script(_p2pkh(h)) == b"\x00" + h
    assert decompress_script(b"\x00" + h) == _p2pkh(h)


@given(hashes20)
def test_p2sh_compresses_to_form_1(h):
    assert compress_script(_p2sh(h)) == b"\x01" + h
    assert decompress_script(b"\x01" + h) == _p2sh(h)


@given(st.sampled_from([2, 3]), xs)
def test_compressed_p2pk_keeps_its_prefix_as_form(prefix, x):
    # Core compresses these without checking the key is on the curve.
    script = b"\x21" + bytes((prefix,)) + x + b"\xac"
    assert compress_script(script) == bytes((prefix,)) + x
    assert decompress_script(bytes((prefix,)) + x) == script


@given(private_keys)
def test_uncompressed_p2pk_round_trips_through_point_decompression(key):
    point = key.public_key.format(compressed=False)
    script = b"\x41" + point + b"\xac"
    compressed = compress_script(script)
    assert compressed == bytes((4 | (point[64] & 1),)) + point[1:33]
    assert decompress_script(compressed) == script


def test_uncompressed_p2pk_of_g_uses_form_4():
    script = b"\x41\x04" + G_X + G_Y + b"\xac"
    assert compress_script(script) == b"\x04" + G_X


def test_uncompressed_key_off_the_curve_is_kept_whole():
    # Core's compress_p2pk_scripts_not_on_curve (src/test/compress_tests.cpp).
    x = _x_not_on_curve()
    script = b"\x41\x04" + x + bytes(32) + b"\xac"
    assert compress_script(script) == encode_varint(67 + 6) + script
    for form in (4, 5):
        with pytest.raises(CodecError, match="not on the curve"):
            decompress_script(bytes((form,)) + x)


@given(st.binary(max_size=600))
def test_any_script_round_trips(script):
    compressed = compress_script(script)
    assert decompress_script(compressed) == script
    assert len(compressed) <= len(script) + 3


def test_raw_form_is_size_plus_six():
    assert compress_script(b"") == b"\x06"
    assert compress_script(b"\x51") == b"\x07\x51"
    assert compress_script(b"\x00\x14" + bytes(20)) == b"\x1c\x00\x14" + bytes(20)


def test_overlong_script_decodes_as_op_return_like_core():
    script = b"\x6a" * (MAX_SCRIPT_SIZE + 1)
    assert decompress_script(compress_script(script)) == b"\x6a"


def test_script_running_past_the_data_is_refused():
    # Core's ccoins_serialization: "000007" and "00008a95c0bb00" must fail.
    with pytest.raises(CodecError, match="truncated"):
        decompress_script(b"\x07")
    with pytest.raises(CodecError, match="truncated"):
        decompress_script(bytes.fromhex("8a95c0bb00"))
    with pytest.raises(CodecError, match="truncated"):
        decompress_script(b"\x00" + bytes(19))


# --- coins and block undo ---------------------------------------------------------------


def _undo_of_one_coin(coin_db_hex: str) -> bytes:
    """Turns a coin in the chainstate's form into a one-coin CBlockUndo (adds the dummy version)."""
    coin_db = bytes.fromhex(coin_db_hex)
    code, pos = read_varint(coin_db, 0)
    dummy = b"\x00" if code >> 1 else b""
    return b"\x01\x01" + coin_db[:pos] + dummy + coin_db[pos:]


@pytest.mark.parametrize(
    ("coin_db_hex", "expected"),
    [
        # Bitcoin Core's src/test/coins_tests.cpp, ccoins_serialization.
        (
            "97f23c835800816115944e077fe7c803cfa57f29b36bf87c1d35",
            SpentCoin(
                TxOut(60_000_000_000, _p2pkh(bytes.fromhex("816115944e077fe7c803cfa57f29b36bf87c1d35"))), 203998, False
            ),
        ),
        (
            "8ddf77bbd123008c988f1a4a4de2161e0f50aac7f17e7f9555caa4",
            SpentCoin(TxOut(110_397, _p2pkh(bytes.fromhex("8c988f1a4a4de2161e0f50aac7f17e7f9555caa4"))), 120891, True),
        ),
        ("000006", SpentCoin(TxOut(0, b""), 0, False)),
    ],
)
def test_core_coin_vectors_decode_inside_block_undo(coin_db_hex, expected):
    undo = _undo_of_one_coin(coin_db_hex)
    assert parse_block_undo(undo) == ((expected,),)
    assert serialize_block_undo([[expected]]) == undo


def test_hand_built_undo_with_every_p2pk_form():
    odd_key = next(
        k for k in (coincurve.PrivateKey(n.to_bytes(32, "big")) for n in range(2, 50))
        if k.public_key.format(compressed=False)[64] & 1
    )
    odd_point = odd_key.public_key.format(compressed=False)
    # 2 transactions: the first spent 3 coins, the second 1; written out field by field.
    undo = bytes.fromhex(
        "02"  # two CTxUndo
        "03"  # first: three coins
        "03" "00" "32" "04" + G_X.hex() +  # height 1, coinbase; dummy; 50 BTC; P2PK uncompressed, even y
        "0a" "00" "09" "05" + odd_point[1:33].hex() +  # height 5; 1 BTC; P2PK uncompressed, odd y
        "8000" "00" "07" "02" + G_X.hex() +  # height 64; 0.01 BTC; P2PK compressed 02
        "01"  # second: one coin
        "01" "01" "03" + G_X.hex()  # height 0, coinbase (no dummy); 1 sat; P2PK compressed 03
    )
    assert parse_block_undo(undo) == (
        (
            SpentCoin(TxOut(50 * COIN, b"\x41\x04" + G_X + G_Y + b"\xac"), 1, True),
            SpentCoin(TxOut(COIN, b"\x41" + odd_point + b"\xac"), 5, False),
            SpentCoin(TxOut(1_000_000, b"\x21\x02" + G_X + b"\xac"), 64, False),
        ),
        (SpentCoin(TxOut(1, b"\x21\x03" + G_X + b"\xac"), 0, True),),
    )


def test_empty_block_undo_is_one_zero_byte():
    assert serialize_block_undo([]) == b"\x00"
    assert parse_block_undo(b"\x00") == ()


def test_block_undo_refuses_trailing_and_missing_bytes():
    good = serialize_block_undo([[SpentCoin(TxOut(5, b"\x51"), 7, False)]])
    with pytest.raises(CodecError, match="trailing"):
        parse_block_undo(good + b"\x00")
    for cut in range(len(good)):
        with pytest.raises(CodecError):
            parse_block_undo(good[:cut])


scripts = st.one_of(
    st.binary(max_size=120),
    hashes20.map(_p2pkh),
    hashes20.map(_p2sh),
    st.tuples(st.sampled_from([b"\x02", b"\x03"]), xs).map(lambda p: b"\x21" + p[0] + p[1] + b"\xac"),
    private_keys.map(lambda k: b"\x41" + k.public_key.format(compressed=False) + b"\xac"),
)
coins = st.builds(
    SpentCoin,
    st.builds(TxOut, st.integers(0, MAX_MONEY_SAT), scripts),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)


@settings(max_examples=60)
@given(st.lists(st.lists(coins, min_size=1, max_size=4), max_size=4))
def test_block_undo_round_trip(spent):
    expected = tuple(tuple(tx) for tx in spent)
    assert parse_block_undo(serialize_block_undo(spent)) == expected


def test_undo_checksum_commits_to_the_previous_block():
    undo = serialize_block_undo([[SpentCoin(TxOut(5, b"\x51"), 7, False)]])
    prev = bytes(range(32))
    assert undo_checksum(prev, undo) != undo_checksum(bytes(32), undo)
    assert undo_checksum(prev, undo) != undo_checksum(prev, undo[:-1] + b"\x52")
    assert len(undo_checksum(prev, undo)) == 32
