"""`boveda labels import/export` as a user runs them, on a synced regtest book: the BIP's examples
round-trip, a bad file is refused in one line with the book untouched, `--holding` exports only that
holding's labels, and `wallet addresses` shows them."""

from __future__ import annotations

import json
import re

import pytest
from _following import invoke, one_line_error
from _reserve_chain import CASE, RESERVE, build_reserve_chain
from test_labels_file import BIP_EXAMPLE, XPRV

from boveda.book import Book
from boveda.service.wallets import wallet_view


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return build_reserve_chain(tmp_path_factory.mktemp("labels") / "chain")


@pytest.fixture
def book_path(chain, tmp_path) -> str:
    return chain.copy_book(tmp_path / "book")


def boveda(book_path: str, *args: str):
    return invoke("--book", book_path, *args)


def audit_head(book_path: str):
    with Book.open(book_path) as book:
        return book.audit_head()


def test_the_bips_examples_import_and_export_byte_identically(book_path, tmp_path):
    done = boveda(book_path, "labels", "import", str(BIP_EXAMPLE))
    assert done.returncode == 0, done.stderr
    assert "imported 7 records" in done.stdout and "7 labels added, 0 updated" in done.stdout
    out = tmp_path / "out.jsonl"
    assert boveda(book_path, "labels", "export", "--out", str(out)).returncode == 0
    assert out.read_bytes() == BIP_EXAMPLE.read_bytes()
    printed = boveda(book_path, "labels", "export")
    assert printed.stdout.encode() == BIP_EXAMPLE.read_bytes()
    again = boveda(book_path, "labels", "export", "--out", str(out))
    assert "exists" in one_line_error(again)


def test_a_bad_file_is_refused_in_one_line_naming_the_line_and_nothing_is_imported(book_path, tmp_path):
    assert boveda(book_path, "labels", "import", str(BIP_EXAMPLE)).returncode == 0
    head, before = audit_head(book_path), boveda(book_path, "labels", "export").stdout
    bad = tmp_path / "bad.jsonl"
    lines = BIP_EXAMPLE.read_text().splitlines()
    lines.insert(3, json.dumps({"type": "xpub", "ref": XPRV, "label": "oops"}))
    lines.append('{"type":"output","ref":"' + "ab" * 32 + ':1","spendable":"no"}')
    bad.write_text("\n".join(lines) + "\n")
    for extra in ((), ("--replace",)):
        error = one_line_error(boveda(book_path, "labels", "import", str(bad), *extra), XPRV[4:30])
        assert "(2 bad lines), no label imported: line 4: the ref of this xpub record is a private key" in error
        assert 'line 9: "spendable" must be true or false' in error
        assert audit_head(book_path) == head and boveda(book_path, "labels", "export").stdout == before


def test_export_for_a_holding_keeps_only_its_addresses_transactions_keys_and_origins(chain, book_path, tmp_path):
    with Book.open(book_path) as book:
        descriptors = {w.name: w.descriptor for w in book.wallets()}
        cold_txids = [h.txid_hex for h in wallet_view(book, "cold").history]
    hot_xpub = re.search(r"[tx]pub\w+", descriptors["hot"]).group()
    hot_origin = "wpkh(" + re.search(r"\[[^\]]+\]", descriptors["hot"]).group() + ")"
    records = [
        {"type": "addr", "ref": chain.address("hot", 0), "label": "hot receive 0"},
        {"type": "addr", "ref": chain.address("seized", 0), "label": "seized receive 0"},
        {"type": "tx", "ref": chain.funding_txid, "label": "funding: both holdings"},
        {"type": "tx", "ref": cold_txids[-1], "label": "top-up of cold"},
        {"type": "output", "ref": f"{cold_txids[-1]}:0", "label": "its output", "spendable": False},
        {"type": "xpub", "ref": hot_xpub, "label": "hot signer"},
        {"type": "tx", "ref": "cd" * 32, "label": "from hot's wallet", "origin": hot_origin},
        {"type": "tx", "ref": "ef" * 32, "label": "someone else's"},
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert boveda(book_path, "labels", "import", str(path)).returncode == 0

    def labels_of(holding: str) -> list[str]:
        done = boveda(book_path, "labels", "export", "--holding", holding)
        assert done.returncode == 0, done.stderr
        return [json.loads(text)["label"] for text in done.stdout.splitlines()]

    assert labels_of(f"reserve:{RESERVE}") == ["hot receive 0", "funding: both holdings", "top-up of cold",
                                               "its output", "hot signer", "from hot's wallet"]
    assert labels_of(f"custody:{CASE}") == ["seized receive 0", "funding: both holdings"]
    assert "no holding reserve:NOPE" in one_line_error(boveda(book_path, "labels", "export", "--holding", "reserve:NOPE"))
    assert "reserve:CODE or custody:CASE" in one_line_error(
        boveda(book_path, "labels", "export", "--holding", "external:victims"))


def test_wallet_addresses_shows_each_addresss_label(chain, book_path, tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"type": "addr", "ref": chain.address("hot", 1).upper(), "label": "Payroll \u202e"})
                    + "\n" + json.dumps({"type": "addr", "ref": chain.address("hot", 0), "label": "Donations"}) + "\n")
    assert "U+202E" in one_line_error(boveda(book_path, "labels", "import", str(path)))
    path.write_text(path.read_text().replace("\\u202e", "desk"))
    assert boveda(book_path, "labels", "import", str(path)).returncode == 0
    table = boveda(book_path, "wallet", "addresses", "hot").stdout.splitlines()
    assert table[0].split()[-1] == "LABEL"
    row = {line.split()[2]: line for line in table[1:] if line.split()[0] == "0"}
    assert row[chain.address("hot", 0)].endswith("Donations")
    assert row[chain.address("hot", 1)].endswith("Payroll desk")
    assert not row[chain.address("hot", 2)].rstrip().endswith(("Donations", "desk"))



def test_statements_show_the_label_of_each_labelled_transaction(chain, book_path, tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"type": "tx", "ref": chain.funding_txid, "label": "Funding from the treasury"}) + "\n")
    assert boveda(book_path, "labels", "import", str(path)).returncode == 0
    document = json.loads(boveda(book_path, "statement", "--reserve", RESERVE, "--format", "json").stdout)
    assert document["labels"] == {chain.funding_txid: "Funding from the treasury"}
    table = boveda(book_path, "statement", "--reserve", RESERVE).stdout
    row = next(line for line in table.splitlines() if chain.funding_txid[:16] in line)
    assert row.rstrip().endswith("Funding from the treasury")
    rows = boveda(book_path, "statement", "--reserve", RESERVE, "--format", "csv").stdout.splitlines()
    assert rows[0].split(",")[-1] == "label"
    funded = next(r for r in rows if chain.funding_txid in r)
    assert funded.split(",")[-1] == "Funding from the treasury"
    html = boveda(book_path, "statement", "--reserve", RESERVE, "--format", "html").stdout
    assert '<span class="label">Funding from the treasury</span>' in html
    journal = boveda(book_path, "journal").stdout.splitlines()
    assert journal[0].split()[-1] == "LABEL"
    assert any(chain.funding_txid in line and line.rstrip().endswith("Funding from the treasury") for line in journal)
    shown = boveda(book_path, "wallet", "show", "hot").stdout
    assert any(chain.funding_txid in line and line.rstrip().endswith("Funding from the treasury")
               for line in shown.splitlines())
