"""The proof bundle's codec and the signed message: strict parsing that names the field, the schema
file kept in step with the parser, and the message's fixed text."""

from __future__ import annotations

import copy
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.proofs import bundle as bundle_module
from boveda.proofs.bundle import parse_bundle
from boveda.proofs.challenge import ProofError, check_challenge, liabilities_digest, proof_message

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "proof-bundle.schema.json").read_text())
HASH = "ab" * 32

LIABILITY = {"kind": "sharing", "creditor": "partner:SV", "amount_sat": 5, "entry_id": 3,
             "effective_date": "2025-08-01", "authority_ref": "Agreement 1", "txids": []}
DOCUMENT = {
    "version": 1, "reserve": "SV", "network": "regtest", "height": 10, "block_hash": HASH, "challenge": "n",
    "message": "", "scan_from_height": 1,
    "addresses": [{"address": "bcrt1qxyz", "script_pubkey": "0014" + "00" * 20, "wallet": "hot", "balance_sat": 7,
                   "utxos": [{"txid": HASH, "vout": 0, "value_sat": 7, "height": 2}], "proof": "AA==",
                   "proof_format": "simple"}],
    "liabilities": [LIABILITY],
    "totals": {"assets_sat": 7, "liabilities_sat": 5, "net_sat": 2},
}


def with_change(path: tuple, value=None, *, delete: bool = False) -> dict:
    document = copy.deepcopy(DOCUMENT)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return document


def test_a_well_formed_document_parses_and_round_trips():
    bundle = parse_bundle(DOCUMENT)
    assert bundle.network is Network.REGTEST and bundle.addresses[0].utxos[0].value_sat == 7
    assert parse_bundle(bundle.to_json()) == bundle
    assert bundle.to_json() | {"message": ""} == DOCUMENT


@pytest.mark.parametrize(
    "path, value, named",
    [
        (("version",), 3, "bundle version 3 is not known"),
        (("version",), "1", "bundle field version must be an integer"),
        (("height",), 1.5, "bundle field height must be an integer"),
        (("height",), True, "bundle field height must be an integer"),
        (("height",), -1, "bundle field height must be at least 0"),
        (("network",), "testnet3", "bundle field network must be one of"),
        (("block_hash",), "AB" * 32, "bundle field block_hash must be 64 lowercase hex digits"),
        (("challenge",), "two\nlines", "bundle field challenge"),
        (("addresses", 0, "balance_sat"), "7", "bundle field addresses[0].balance_sat must be an integer"),
        (("addresses", 0, "utxos", 0, "value_sat"), 7.0, "addresses[0].utxos[0].value_sat must be an integer"),
        (("addresses", 0, "proof_format"), "legacy", "addresses[0].proof_format must be one of"),
        (("addresses", 0, "proof_format"), None, "addresses[0].proof_format must be one of"),
        (("addresses", 0, "script_pubkey"), "0g", "addresses[0].script_pubkey must be lowercase hex"),
        (("liabilities", 0, "amount_sat"), 1e3, "liabilities[0].amount_sat must be an integer"),
        (("liabilities", 0, "kind"), "loan", "liabilities[0].kind must be one of"),
        (("liabilities", 0, "effective_date"), "1 Aug", "liabilities[0].effective_date must be a date"),
        (("totals", "net_sat"), "2", "bundle field totals.net_sat must be an integer"),
        (("addresses",), {}, "bundle field addresses must be a list"),
        (("extra",), 1, "bundle field extra is not part of bundle version 1"),
        (("addresses", 0, "extra"), 1, "bundle field addresses[0].extra is not part of"),
    ],
)
def test_a_malformed_field_is_refused_by_name(path, value, named):
    with pytest.raises(ProofError, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_bundle(with_change(path, value))


@pytest.mark.parametrize("path", [("version",), ("height",), ("totals",), ("addresses", 0, "utxos"),
                                  ("totals", "assets_sat"), ("liabilities", 0, "txids")])
def test_a_missing_field_is_refused_by_name(path):
    with pytest.raises(ProofError, match="is missing") as error:
        parse_bundle(with_change(path, delete=True))
    assert path[-1] in str(error.value)


def test_only_an_object_is_a_bundle():
    for document in ([], "bundle", 1, None):
        with pytest.raises(ProofError):
            parse_bundle(document)


def test_the_schema_file_names_exactly_the_fields_the_parser_reads():
    defs = SCHEMA["$defs"]
    assert tuple(SCHEMA["required"]) == bundle_module._TOP == tuple(SCHEMA["properties"])
    assert set(SCHEMA["properties"]["totals"]["required"]) == set(DOCUMENT["totals"])
    assert set(defs["address"]["required"]) == set(DOCUMENT["addresses"][0]) == set(defs["address"]["properties"])
    assert set(defs["utxo"]["required"]) == set(DOCUMENT["addresses"][0]["utxos"][0])
    assert set(defs["liability"]["required"]) == set(LIABILITY) == set(defs["liability"]["properties"])
    assert defs["liability"]["properties"]["kind"]["enum"] == list(bundle_module.LIABILITY_KINDS)
    assert SCHEMA["properties"]["network"]["enum"] == [n.value for n in Network]
    assert SCHEMA["properties"]["version"]["const"] == bundle_module.BUNDLE_VERSION


def test_the_documentation_describes_every_field():
    text = (ROOT / "docs" / "proof-bundle.md").read_text()
    for field in (*bundle_module._TOP, "script_pubkey", "balance_sat", "utxos", "proof_format", "creditor",
                  "assets_sat", "liabilities_sat", "net_sat"):
        assert f"`{field}" in text or f".{field}`" in text, field


def test_the_message_has_its_documented_fixed_form():
    message = proof_message(reserve="SV", network=Network.REGTEST, height=486, block_hash_hex=HASH,
                            challenge="asked by X", liabilities_sha256=liabilities_digest([]))
    assert message == (
        "Bóveda proof of reserves v1\nreserve: SV\nnetwork: regtest\nheight: 486\n"
        f"block: {HASH}\nchallenge: asked by X\n"
        "liabilities: 4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"  # SHA-256 of "[]"
    )


BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@given(st.text(min_size=1, max_size=300))
def test_a_challenge_is_one_printable_line(text):
    if len(text) > 256 or any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") or c in BIDI_CONTROLS
                              for c in text):
        with pytest.raises(ProofError):
            check_challenge(text)
    else:
        assert check_challenge(text) == text


def test_declared_liabilities_change_the_message():
    base = {"reserve": "SV", "network": Network.MAIN, "height": 1, "block_hash_hex": HASH, "challenge": "c"}
    assert proof_message(**base, liabilities_sha256=liabilities_digest([])) != proof_message(
        **base, liabilities_sha256=liabilities_digest([LIABILITY]))
