"""The audit anchor end to end against a real bitcoind: `audit anchor` → two officials approve → Core signs →
finalize → broadcast → mine → sync → `audit verify --anchors` names the anchor and passes; an insider who
replaces the database by one with an edited, consistently re-hashed log passes plain `audit verify` and
fails `--anchors`, which names the anchor it breaks."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from _spend_chain import RESERVE, approval_signature, boveda, build_spend_chain

from boveda.book import Book
from boveda.book.audit import canonical_json, event_hash, loads_no_floats
from boveda.cli.main import run
from boveda.service.anchors import anchors_of
from boveda.spend.governance import status

FEE_RATE = "2"


@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    """A spend chain whose book anchored its head from the reserve's P2WPKH wallet, confirmed and synced."""
    folder = tmp_path_factory.mktemp("anchor")
    chain = build_spend_chain(folder)
    backup = folder / "backup-before-anchor.db"
    shutil.copyfile(chain.book_path, backup)  # one event (the custody policy) before the anchored head
    book, url = chain.book_path, chain.node.rpc_url
    code = _run(book, "partner", "add", "Q", "--name", "Another partner")  # the backup lacks this event
    assert code == 0
    with Book.open(book) as opened:
        head = opened.audit_head()
    psbt = folder / "anchor.psbt"
    assert _run(book, "audit", "anchor", "--wallet", "hot", "--fee-rate", FEE_RATE, "--out", str(psbt),
                "--rpc-url", url) == 0
    proposal = _status(book, 1)
    for name in ("alice", "bob"):
        assert _run(book, "spend", "approve", "1", "--by", name, "--signature",
                    approval_signature(name, proposal["digest"])) == 0
    signed = folder / "anchor-signed.psbt"
    signed.write_text(chain.sign_in_core(chain.signers["hot"][0], psbt.read_text().strip(), finalize=True))
    assert _run(book, "spend", "finalize", "1", str(signed)) == 0
    assert _run(book, "spend", "broadcast", "1", "--rpc-url", url) == 0
    chain.mine()
    assert _run(book, "sync", "--rpc-url", url) == 0
    yield chain, head, proposal, psbt, backup
    chain.node.stop()


def _run(book: str, *args: str) -> int:
    return run(["--book", book, *args])


def _status(book: str, proposal_id: int) -> dict:
    with Book.open(book) as opened:
        return status(opened, proposal_id).to_json()


def head_of(book: str) -> str:
    with Book.open(book) as opened:
        return opened.audit_head().hash_hex


def rewrite_history(book: str) -> None:
    """The insider's rewrite: reserve R's `no_sale` flag turned off in its `reserve.added` event (event 1), every
    event hash recomputed with the book's own function so the chain links again, the head and the reserves
    table updated to match — a database that is self-consistent in every way the book can check."""
    db = sqlite3.connect(book)
    with db:
        rows = db.execute("SELECT seq, kind, recorded_at, payload, operator, approved_by FROM audit_events "
                          "ORDER BY seq").fetchall()
        prev = "0" * 64
        for seq, kind, recorded_at, payload, operator, approved_by in rows:
            if kind == "reserve.added":
                document = loads_no_floats(payload)
                if document["code"] == RESERVE:
                    payload = canonical_json({**document, "no_sale": False})
            hashed = event_hash(seq, kind, recorded_at, payload, prev, operator, approved_by)
            db.execute("UPDATE audit_events SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                       (payload, prev, hashed, seq))
            prev = hashed
        db.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
        db.execute("UPDATE reserves SET no_sale = 0 WHERE code = ?", (RESERVE,))
    db.close()


def test_a_confirmed_anchor_is_found_on_chain_and_named_by_audit_verify(anchored, capsys):
    chain, head, proposal, _psbt, _backup = anchored
    txid = proposal["unsigned_txid"]
    assert proposal["purpose"] == "audit_anchor" and proposal["amount_sat"] == 0
    assert _status(chain.book_path, 1)["state"] == "broadcast"
    tx = chain.node.cli("getrawtransaction", txid, "true", chain.node.cli("getbestblockhash"))
    assert tx["in_active_chain"] and tx["confirmations"] == 1
    op_return = tx["vout"][0]["scriptPubKey"]["hex"]
    assert op_return == "6a2d" + b"BVDA".hex() + "01" + head.seq.to_bytes(8, "big").hex() + head.hash_hex
    assert len(tx["vout"]) == 2 and tx["vout"][0]["value"] == 0

    code, out, err = boveda(capsys, "--book", chain.book_path, "audit", "verify", "--anchors",
                            "--rpc-url", chain.node.rpc_url)
    assert code == 0, out + err
    height = chain.node.cli("getblockcount")
    assert f"anchor {txid} (height {height}): event {head.seq}" in out
    assert f"event {head.seq}, hash {head.hash_hex} — in the log" in out
    assert "anchors: 1 found on chain" in out and "they hold" in out

    code, out, err = boveda(capsys, "--book", chain.book_path, "audit", "verify", "--anchors", "--json",
                            "--rpc-url", chain.node.rpc_url)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["anchors"]["ok"]
    [found] = report["anchors"]["anchors"]
    assert (found["txid"], found["seq"], found["anchored_hash"], found["log_hash"]) == \
        (txid, head.seq, head.hash_hex, head.hash_hex)

    with Book.open(chain.book_path) as book:
        [recorded] = anchors_of(book)
    assert (recorded.txid_hex, recorded.height, recorded.seq, recorded.head_hex) == \
        (txid, found["height"], head.seq, head.hash_hex) and found["height"] == height


def test_the_anchor_pays_only_the_fee_and_reconciles_as_an_internal_move_with_its_fee_entry(anchored, capsys):
    chain, _head, proposal, _psbt, _backup = anchored
    txid = proposal["unsigned_txid"]
    code, out, err = boveda(capsys, "--book", chain.book_path, "reconcile", "--reserve", RESERVE, "--json")
    assert code == 0, out + err
    report = json.loads(out)
    movement = next(m for m in report["movements"] if m["txid"] == txid)
    assert movement["kind"] == "internal" and movement["fee_sat"] == proposal["fee_sat"]
    assert movement["entry_id"] is not None
    assert not [d for d in report["discrepancies"] if d.get("txid") == txid]


def test_events_appended_after_the_anchor_still_verify(anchored, tmp_path: Path, capsys):
    chain, _head, _proposal, _psbt, _backup = anchored
    book = chain.copy_book(tmp_path / "later")
    for code in ("X", "Y"):
        assert _run(book, "partner", "add", code, "--name", f"Partner {code}") == 0
    code, out, err = boveda(capsys, "--book", book, "audit", "verify", "--anchors", "--rpc-url", chain.node.rpc_url)
    assert code == 0, out + err
    assert "— in the log" in out


def test_an_insider_rewrite_passes_audit_verify_but_not_its_anchor(anchored, tmp_path: Path, capsys):
    chain, head, proposal, _psbt, _backup = anchored
    book = chain.copy_book(tmp_path / "rewritten")
    rewrite_history(book)
    with Book.open(book) as opened:
        assert not opened.reserves()[0].no_sale  # the rewrite took

    code, out, err = boveda(capsys, "--book", book, "audit", "verify")
    assert code == 0, out + err  # the log, its tables and the facts' seal are all self-consistent
    assert head_of(book) != head.hash_hex

    code, out, err = boveda(capsys, "--book", book, "audit", "verify", "--anchors", "--rpc-url", chain.node.rpc_url)
    assert code == 1, out + err
    txid = proposal["unsigned_txid"]
    assert f"anchor {txid}" in out and f"commits event {head.seq} with hash {head.hash_hex}" in out
    assert "the log was rewritten at or before event" in out
    assert "audit verify failed (anchors)" in err and txid in err

    code, out, err = boveda(capsys, "--book", book, "audit", "verify", "--anchors", "--json",
                            "--rpc-url", chain.node.rpc_url)
    report = json.loads(out)
    assert code == 1 and not report["ok"] and report["events_checked"] > 0
    [found] = report["anchors"]["anchors"]
    assert found["txid"] == txid and not found["ok"] and found["log_hash"] != found["anchored_hash"]


def test_a_restored_older_database_is_caught_by_an_anchor_past_its_end(anchored, tmp_path: Path, capsys):
    chain, head, proposal, _psbt, backup = anchored
    book = tmp_path / "restored.db"
    shutil.copyfile(backup, book)
    assert _run(str(book), "sync", "--rpc-url", chain.node.rpc_url) == 0  # the facts now see the anchor's spend
    code, out, err = boveda(capsys, "--book", str(book), "audit", "verify")
    assert code == 0, out + err
    code, out, err = boveda(capsys, "--book", str(book), "audit", "verify", "--anchors",
                            "--rpc-url", chain.node.rpc_url)
    assert code == 1, out + err
    assert f"anchor {proposal['unsigned_txid']}" in out and f"commits event {head.seq}, past the log's end" in out


@pytest.mark.parametrize(("args", "message"), [
    (("--wallet", "nope"), "no wallet 'nope'"),
    (("--wallet", "seized"), "refused by rule anchor-reserve"),
    (("--wallet", "cold"), "refused by rule one-anchor-at-a-time"),  # a first anchor, proposed just before, is open
])
def test_refused_anchors_exit_2_and_leave_the_book_and_the_file_alone(anchored, tmp_path: Path, capsys, args, message):
    chain, _head, _proposal, _psbt, backup = anchored
    book = tmp_path / "book.db"
    shutil.copyfile(backup, book)
    if message.endswith("one-anchor-at-a-time"):
        first = tmp_path / "first.psbt"
        code, out, err = boveda(capsys, "--book", str(book), "audit", "anchor", "--wallet", "hot", "--fee-rate",
                                FEE_RATE, "--out", str(first), "--rpc-url", chain.node.rpc_url)
        assert code == 0, out + err
    before = head_of(str(book))
    out_file = tmp_path / "anchor.psbt"
    code, out, err = boveda(capsys, "--book", str(book), "audit", "anchor", *args, "--fee-rate", FEE_RATE,
                            "--out", str(out_file), "--rpc-url", chain.node.rpc_url)
    assert code == 2, out + err
    assert message in err
    assert head_of(str(book)) == before and not out_file.exists()


def test_a_spend_cannot_take_the_anchor_purpose(anchored, tmp_path: Path, capsys):
    chain, _head, _proposal, _psbt, backup = anchored
    book = tmp_path / "book.db"
    shutil.copyfile(backup, book)
    before = head_of(str(book))
    code, _out, err = boveda(capsys, "--book", str(book), "spend", "propose", "--from", f"reserve:{RESERVE}",
                            "--to", chain.outsider, "--amount", "0.1", "--purpose", "audit_anchor", "--counterparty",
                            "external:victims", "--order", "x", "--fee-rate", FEE_RATE, "--out",
                            str(tmp_path / "p.psbt"), "--rpc-url", chain.node.rpc_url)
    assert code == 2 and "refused by rule purpose" in err and "audit anchor" in err
    assert head_of(str(book)) == before


def test_statements_list_the_anchors_confirmed_by_their_height(anchored, capsys):
    chain, head, proposal, _psbt, _backup = anchored
    txid = proposal["unsigned_txid"]
    code, out, err = boveda(capsys, "--book", chain.book_path, "statement", "--reserve", RESERVE, "--format", "json")
    assert code == 0, err
    [anchor] = json.loads(out)["anchors"]
    assert (anchor["txid"], anchor["seq"], anchor["hash"]) == (txid, head.seq, head.hash_hex)
    table = boveda(capsys, "--book", chain.book_path, "statement", "--reserve", RESERVE)[1]
    assert "AUDIT ANCHORS ON CHAIN" in table and head.hash_hex in table
    html = boveda(capsys, "--book", chain.book_path, "statement", "--reserve", RESERVE, "--format", "html")[1]
    assert "Audit anchors on chain" in html and head.hash_hex in html
    before = json.loads(boveda(capsys, "--book", chain.book_path, "statement", "--reserve", RESERVE, "--format",
                               "json", "--at", str(anchor["height"] - 1))[1])
    assert before["anchors"] == []
