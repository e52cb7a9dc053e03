"""BIP-329 labels files, read line by line: every record type, every rule, every bad line named by its number.

The test vectors are BIP-329's own (tests/data/bip329/bip-0329-example.jsonl, copied from the
"Test Vectors" section of bip-0329.mediawiki in bitcoin/bips).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.labels import LabelsError, LabelType, read_labels
from boveda.labels.jsonline import decode_object, encode_compact
from boveda.labels.records import merged, parse_record

BIP_EXAMPLE = Path(__file__).parent / "data" / "bip329" / "bip-0329-example.jsonl"
TXID = "f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd"
XPUB = ("xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1"
        "EGMcet8")
XPRV = ("xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGB"
        "xrMPHi")
PUBKEY = "0283409659355b6d1cc3c32decd5d561abaac86c37a353b52895a5e6c196d6f448"
ADDRESS = "bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c"


def line(**fields) -> bytes:
    return (json.dumps(fields) + "\n").encode()


def refusal(data: bytes) -> str:
    with pytest.raises(LabelsError) as caught:
        read_labels(data, name="labels.jsonl")
    return str(caught.value)


def test_the_bips_test_vectors_are_read_as_the_bip_describes_them():
    read = read_labels(BIP_EXAMPLE.read_bytes())
    assert [(r.kind, r.label) for r in read.records] == [
        (LabelType.TX, "Transaction"), (LabelType.ADDR, "Address"), (LabelType.PUBKEY, "Public Key"),
        (LabelType.INPUT, "Input"), (LabelType.OUTPUT, "Output"), (LabelType.XPUB, "Extended Public Key"),
        (LabelType.TX, "Account #1 Transaction")]
    assert [r.origin for r in read.records][::6] == ["wpkh([d34db33f/84'/0'/0'])", "wpkh([d34db33f/84'/0'/1'])"]
    assert [r.spendable for r in read.records] == [None] * 4 + [False, None, None]
    assert read.records[0].line == BIP_EXAMPLE.read_text().splitlines()[0]
    assert read.line_count == 7 and read.ignored == ()


def test_a_sparrow_export_reads_with_its_additional_fields_and_escapes():
    sparrow = (
        '{"type":"tx","ref":"' + TXID + '","label":"Payroll","origin":"wpkh([d34db33f/84\\u0027/0\\u0027/0\\u0027])",'
        '"height":800000,"time":"2025-01-23T11:40:35Z","fee":141,"value":-25000,"rate":{"USD":105620.00}}\n'
        '{"type":"addr","ref":"' + ADDRESS + '","origin":"wpkh([d34db33f/84\\u0027/0\\u0027/0\\u0027])",'
        '"keypath":"/0/5","heights":[800000,800123]}\n'
        '{"type":"output","ref":"' + TXID + ':1","label":"frozen","spendable":false,"keypath":"/1/2","value":5000,'
        '"height":800000,"time":"2025-01-23T11:40:35Z","fmv":{"USD":5.28}}\n'
        '{"type":"spscan","ref":"spscan1qexample","label":"silent payments"}\n')
    read = read_labels(sparrow.encode())
    assert [r.kind for r in read.records] == [LabelType.TX, LabelType.ADDR, LabelType.OUTPUT]
    assert read.records[0].origin == "wpkh([d34db33f/84'/0'/0'])"
    assert read.records[1].label is None  # Gson leaves a null label out: the record keeps any stored one
    assert [(i.line_number, i.kind) for i in read.ignored] == [(4, "spscan")]


@pytest.mark.parametrize("record, says", [
    ('{"type":"tx","ref":"' + TXID[:-1] + '"}', "a tx ref is a transaction id of 64 hex digits"),
    ('{"type":"tx","ref":"' + TXID + ':0"}', "a tx ref is a transaction id"),
    ('{"type":"addr","ref":"bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7d"}', "an addr ref is a base58 or bech32 address"),
    ('{"type":"addr","ref":"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"}', "an addr ref"),
    ('{"type":"pubkey","ref":"' + PUBKEY[:-4] + '"}', "a 32, 33 or 65 byte public key in hex"),
    ('{"type":"pubkey","ref":"05' + PUBKEY[2:] + '"}', "not a point on secp256k1"),
    ('{"type":"pubkey","ref":"02' + "ff" * 32 + '"}', "not a point on secp256k1"),
    ('{"type":"input","ref":"' + TXID + '"}', "an input ref is TXID:INDEX"),
    ('{"type":"output","ref":"' + TXID + ':01"}', "without leading zeros"),
    ('{"type":"output","ref":"' + TXID + ':4294967296"}', "an output ref is TXID:INDEX"),
    ('{"type":"xpub","ref":"' + XPUB[:-1] + '"}', "BIP-32 extended public key in base58check"),
    ('{"type":"xpub","ref":"' + XPRV + '"}', "is a private key"),
    ('{"type":"addr","ref":"5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"}', "is a private key"),
    ('{"ref":"' + TXID + '"}', 'has no "type"'),
    ('{"type":"tx"}', 'has no "ref"'),
    ('{"type":7,"ref":"' + TXID + '"}', '"type" must be a string'),
    ('{"type":"tx","ref":7}', '"ref" must be a string, not a number'),
    ('{"type":"tx","ref":"' + TXID + '","label":null}', '"label" must be a string'),
    ('{"type":"tx","ref":"' + TXID + '","label":["a"]}', '"label" must be a string'),
    ('{"type":"tx","ref":"' + TXID + '","spendable":false}', '"spendable" belongs to output records only'),
    ('{"type":"output","ref":"' + TXID + ':1","spendable":"false"}', '"spendable" must be true or false'),
    ('{"type":"tx","ref":"' + TXID + '","origin":"wpkh([d34db33f/84h/0h/0h]xpub6C/0/*)"}', "a key or a child path"),
    ('{"type":"tx","ref":"' + TXID + '","origin":"wpkh([d34db33f/84h/0h/0h])#8lqz2vvm"}', "no checksum"),
    ('{"type":"tx","ref":"' + TXID + '","origin":"wpkh()"}', "names no key origin"),
    ('{"type":"tx","ref":"' + TXID + '","origin":"wpkh([d34db33f/84h]"}', "parentheses do not close it"),
    ('{"type":"tx","ref":"' + TXID + '","height":-1}', '"height" must be a block height'),
    ('{"type":"tx","ref":"' + TXID + '","height":true}', '"height" must be a block height'),
    ('{"type":"tx","ref":"' + TXID + '","time":"yesterday"}', '"time" must be an ISO-8601 timestamp'),
    ('{"type":"tx","ref":"' + TXID + '","fee":1.5}', '"fee" must be a whole number of satoshis'),
    ('{"type":"output","ref":"' + TXID + ':1","value":-5}', '"value" must be a whole number of satoshis, 0 or more'),
    ('{"type":"tx","ref":"' + TXID + '","rate":{"USD":"105620"}}', '"rate" must map currency codes to numbers'),
    ('{"type":"addr","ref":"' + ADDRESS + '","heights":[1,-2]}', '"heights" must be a list of block heights'),
    ('{"type":"tx","ref":"' + TXID + '","label":"a\\u202eb"}', "holds U+202E"),
    ('{"type":"tx","ref":"' + TXID + '","label":"a\\u0000b"}', "holds U+0000"),
    ('{"type":"tx","ref":"' + TXID + '","label":"\\ud800"}', "holds U+D800"),
    ('{"type":"tx","ref":"' + TXID + '","note\\u001b":"x"}', "holds U+001B"),
    ('{"type":"tx","ref":"' + TXID + '"}\t\u2028', "outside a string"),
    ('{"type":"tx","ref":"' + TXID + '","label":"a","label":"b"}', "the key 'label' appears twice"),
    ('{"type":"tx","ref":"' + TXID + '","value":NaN}', "NaN is not a JSON number"),
    ('{"type":"tx","ref":"' + TXID + '"', "not JSON"),
    ('{"type":"tx","ref":"' + TXID + '"} {}', "more than one JSON value"),
    ('["tx"]', "a line must hold a JSON object {…}, not a list"),
    ("   ", "the line is empty"),
])
def test_each_bad_line_is_refused_naming_its_number_and_what_is_wrong(record, says):
    good = line(type="tx", ref=TXID, label="fine")
    message = refusal(good + record.encode() + b"\n" + good)
    assert "labels.jsonl refused (1 bad line), no label imported: line 2: " in message
    assert says in message


def test_a_private_key_is_never_quoted():
    message = refusal(line(type="xpub", ref=XPRV))
    assert XPRV[4:20] not in message and "private key" in message


def test_bytes_that_are_not_utf8_and_a_byte_order_mark_are_refused_by_line():
    assert "line 2: not UTF-8 (byte 33 of the line)" in refusal(line(type="tx", ref=TXID) + b'{"type":"tx","ref":"x","label":"\xff"}\n')
    assert "line 1: the file starts with a byte-order mark" in refusal(b"\xef\xbb\xbf" + line(type="tx", ref=TXID))


def test_several_bad_lines_are_all_counted_and_the_first_three_named():
    bad = line(type="tx", ref="zz")
    message = refusal(bad + line(type="tx", ref=TXID) + bad * 4)
    assert "(5 bad lines)" in message and "and 2 more bad lines" in message
    assert [n for n in (1, 3, 4, 5, 6) if f"line {n}:" in message] == [1, 3, 4]


def test_line_endings_a_carriage_return_and_no_final_newline_are_accepted():
    crlf = read_labels(line(type="tx", ref=TXID).replace(b"\n", b"\r\n") * 2)
    assert [r.line for r in crlf.records] == [json.dumps({"type": "tx", "ref": TXID})] * 2
    assert len(read_labels(line(type="tx", ref=TXID).rstrip(b"\n")).records) == 1
    assert read_labels(b"").records == ()


def test_refs_are_looked_up_in_one_case_whatever_case_the_file_wrote():
    upper = read_labels(line(type="output", ref=TXID.upper() + ":3") + line(type="addr", ref=ADDRESS.upper()))
    assert [r.ref_key for r in upper.records] == [TXID + ":3", ADDRESS]
    assert [r.ref for r in upper.records] == [TXID.upper() + ":3", ADDRESS.upper()]


def test_records_of_the_other_valid_shapes_are_accepted():
    read = read_labels(b"".join([
        line(type="pubkey", ref=PUBKEY[2:]),  # x-only, 32 bytes
        line(type="addr", ref="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        line(type="addr", ref="bcrt1qft5p2uhsdcdc3l2ua4ap5qqfg4pjaqlp250x7us7a8qqhrxrxfsqseac85"),
        line(type="tx", ref=TXID, origin="wsh(sortedmulti(2,[d34db33f/48h/0h/0h/2h],[aabbccdd/48'/0'/0'/2']))"),
        line(type="tx", ref=TXID, origin="tr([d34db33f/86h/0h/0h])", label=""),
        line(type="output", ref=TXID + ":4294967295", spendable=True, extra={"kept": [1, "two"]}),
    ]))
    assert len(read.records) == 6 and read.records[4].label == ""


def test_a_merge_keeps_what_the_new_record_omits_and_otherwise_takes_the_new_line():
    (old,) = read_labels(b'{ "type": "output", "ref": "' + TXID.encode() + b':1", "label": "Output", '
                         b'"spendable": false, "fmv": {"USD": 1233.450} }\n').records
    (relabel,) = read_labels(line(type="output", ref=TXID + ":1", label="Renamed")).records
    both = merged(old, relabel)
    assert (both.label, both.spendable) == ("Renamed", False)
    assert both.line == ('{"type":"output","ref":"' + TXID + ':1","label":"Renamed","spendable":false,'
                         '"fmv":{"USD":1233.450}}')
    (complete,) = read_labels(line(type="output", ref=TXID + ":1", label="All", spendable=True,
                                   fmv={"USD": 1})).records
    assert merged(old, complete) is complete


# -- properties ------------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                              blacklist_characters="\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                                                   "\u2069"), max_size=40)
_TXIDS = st.binary(min_size=32, max_size=32).map(bytes.hex)
_REFS = {
    "tx": _TXIDS,
    "addr": st.sampled_from([ADDRESS, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"]),
    "pubkey": st.sampled_from([PUBKEY, PUBKEY[2:]]),
    "input": st.tuples(_TXIDS, st.integers(0, 2**32 - 1)).map(lambda t: f"{t[0]}:{t[1]}"),
    "output": st.tuples(_TXIDS, st.integers(0, 2**32 - 1)).map(lambda t: f"{t[0]}:{t[1]}"),
    "xpub": st.just(XPUB),
}


@st.composite
def records(draw) -> dict:
    kind = draw(st.sampled_from(sorted(_REFS)))
    record = {"type": kind, "ref": draw(_REFS[kind])}
    if draw(st.booleans()):
        record["label"] = draw(_TEXT)
    if draw(st.booleans()):
        record["origin"] = draw(st.sampled_from(["wpkh([d34db33f/84'/0'/0'])", "tr([0a0b0c0d/86h/1h/7h])"]))
    if kind == "output" and draw(st.booleans()):
        record["spendable"] = draw(st.booleans())
    if draw(st.booleans()):
        record["height"] = draw(st.integers(0, 10**7))
    keys = list(record)
    order = draw(st.permutations(keys))
    return {key: record[key] for key in order}


@st.composite
def lines(draw) -> tuple[dict, str]:
    record = draw(records())
    style = draw(st.sampled_from(["compact", "spaced", "ascii"]))
    if style == "compact":
        return record, encode_compact(record)
    if style == "spaced":
        return record, "{ " + json.dumps(record, ensure_ascii=False)[1:-1] + " }"
    return record, json.dumps(record)


@settings(max_examples=200, deadline=None)
@given(st.lists(lines(), max_size=8))
def test_any_valid_records_are_read_back_as_written(written):
    data = "".join(text + "\n" for _, text in written).encode()
    read = read_labels(data)
    assert [r.line for r in read.records] == [text for _, text in written]
    for (record, _), got in zip(written, read.records):
        assert (got.kind.value, got.ref, got.label, got.origin, got.spendable) == (
            record["type"], record["ref"], record.get("label"), record.get("origin"), record.get("spendable"))
        assert parse_record(got.line) == got and decode_object(got.line) == record
