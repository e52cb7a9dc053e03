"""Corrections, operators, the journal's filters and --json on the demo book, as a user runs them:
reconcile finds the planted 1.1-vs-1.0 purchase → `entry adjust` → reconcile shows it resolved, citing the
correction; the audit log holds both events with their operator and still verifies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from boveda.cli.main import cli

MISMATCH_ENTRY = 32  # the scenario's planted purchase: the book says 1.1 BTC, the chain 1 BTC


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from boveda.demo import run_demo

    folder = tmp_path_factory.mktemp("corrections") / "demo"
    run_demo(folder)
    return folder


@pytest.fixture
def demo_book(demo_template: Path, tmp_path: Path) -> str:
    """A copy of the demo's book (its chain facts included), for one test to change."""
    target = tmp_path / "boveda.db"
    shutil.copyfile(demo_template / "boveda.db", target)
    return str(target)


def boveda(book: str, *args: str, operator: str | None = "ana") -> Result:
    return CliRunner(env={"BOVEDA_OPERATOR": operator}).invoke(cli, ["--book", book, *args], catch_exceptions=False)


def _json(result: Result) -> dict:
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _head(book: str) -> dict:
    return _json(boveda(book, "audit", "head", "--json"))


def test_an_adjustment_resolves_the_planted_mismatch_and_keeps_both_entries(demo_book: str) -> None:
    before = _json(boveda(demo_book, "reconcile", "--reserve", "SV", "--json"))
    (mismatch,) = [d for d in before["discrepancies"] if d["kind"] == "amount_mismatch"]
    assert (mismatch["entry_id"], mismatch["book_amount_sat"], mismatch["chain_amount_sat"]) == (
        MISMATCH_ENTRY, 110_000_000, 100_000_000)
    assert "resolved" not in before

    adjusted = boveda(demo_book, "--approved-by", "luis", "entry", "adjust", str(MISMATCH_ENTRY), "--amount", "1.0",
                      "--reason", "typed 1.1 for 1.0", "--resolves", f"amount_mismatch {mismatch['txid']}", "--json")
    assert adjusted.exit_code == 0, adjusted.output
    correction = json.loads(adjusted.stdout)
    assert correction["corrects_entry_id"] == MISMATCH_ENTRY and correction["amount_sat"] == 100_000_000

    after = _json(boveda(demo_book, "reconcile", "--reserve", "SV", "--json"))
    assert not [d for d in after["discrepancies"] if d["kind"] == "amount_mismatch"]
    (resolved,) = after["resolved"]
    assert resolved["discrepancy"]["entry_id"] == MISMATCH_ENTRY
    assert resolved["correction_entry_ids"] == [correction["entry_id"]]
    assert resolved["resolves"] == [f"amount_mismatch {mismatch['txid']}"]
    text = boveda(demo_book, "reconcile", "--reserve", "SV").stdout
    assert (f"Resolved: entry #{MISMATCH_ENTRY} recorded +1.10000000 BTC where the chain shows +1.00000000 BTC"
            in text and f"corrected by entry #{correction['entry_id']}" in text)

    journal = {e["entry_id"]: e for e in _json(boveda(demo_book, "journal", "--txid", mismatch["txid"],
                                                      "--json"))["entries"]}
    assert journal[MISMATCH_ENTRY]["amount_sat"] == 110_000_000  # the original, never edited
    assert journal[MISMATCH_ENTRY]["corrected_by"] == [correction["entry_id"]]
    assert (journal[correction["entry_id"]]["operator"], journal[correction["entry_id"]]["approved_by"]) == (
        "ana", "luis")

    events = [e for e in _json(boveda(demo_book, "audit", "export", "--json"))["events"]
              if e["kind"] == "entry.recorded" and e["payload"]["id"] in (MISMATCH_ENTRY, correction["entry_id"])]
    assert [(e["payload"]["id"], e["operator"], e.get("approved_by")) for e in events] == [
        (MISMATCH_ENTRY, "demo", None), (correction["entry_id"], "ana", "luis")]
    lines = boveda(demo_book, "audit", "export").stdout.splitlines()
    assert "  by ana approved by luis  " in lines[-1] and "  by demo  " in lines[0]
    verify = boveda(demo_book, "audit", "verify")
    assert verify.exit_code == 0 and "audit log intact" in verify.stdout


@pytest.mark.parametrize("steps,message", [
    ([["entry", "reverse", "32", "--reason", "r", "--order", "o"]], "already reversed"),
    ([["entry", "reverse", "32", "--reason", "r", "--order", "o"]], "already reversed"),
    ([], "already claims 1.10000000 BTC: nothing to adjust"),
    ([], "unknown entry #999"),
], ids=["reverse twice", "adjust a reversed entry", "adjust to the same amount", "unknown entry"])
def test_refused_corrections_leave_the_audit_head_unchanged(demo_book: str, steps: list[list[str]],
                                                              message: str, request: pytest.FixtureRequest) -> None:
    for step in steps:
        assert boveda(demo_book, *step).exit_code == 0
    head = _head(demo_book)
    attempt = {
        "reverse twice": ["entry", "reverse", "32", "--reason", "again", "--order", "o"],
        "adjust a reversed entry": ["entry", "adjust", "32", "--amount", "1", "--reason", "x"],
        "adjust to the same amount": ["entry", "adjust", "32", "--amount", "1.1", "--reason", "x"],
        "unknown entry": ["entry", "reverse", "999", "--reason", "x", "--order", "o"],
    }[request.node.callspec.id]
    refused = boveda(demo_book, *attempt)
    assert refused.exit_code == 2 and message in refused.output and refused.output.startswith("error: ")
    assert _head(demo_book) == head


def test_journal_filters_sort_by_date_and_show_fees(demo_book: str) -> None:
    entries = _json(boveda(demo_book, "journal", "--json"))["entries"]
    assert [(e["date"], e["entry_id"]) for e in entries] == sorted((e["date"], e["entry_id"]) for e in entries)
    us = _json(boveda(demo_book, "journal", "--account", "reserve:US-SBR", "--json"))["entries"]
    assert us and all(any(p["account"] == "reserve:US-SBR" for p in e["postings"]) for e in us)
    assert len(us) == sum(any(p["account"] == "reserve:US-SBR" for p in e["postings"]) for e in entries)
    purchases = _json(boveda(demo_book, "journal", "--kind", "purchase", "--from", "2025-08-10", "--to", "2025-08-20",
                             "--json"))["entries"]
    assert purchases and all(e["kind"] == "purchase" and "2025-08-10" <= e["date"] <= "2025-08-20" for e in purchases)
    assert len(purchases) == sum(e["kind"] == "purchase" and "2025-08-10" <= e["date"] <= "2025-08-20"
                                 for e in entries)
    one = entries[-1]["txids"][0]
    assert {e["entry_id"] for e in _json(boveda(demo_book, "journal", "--txid", one, "--json"))["entries"]} == {
        e["entry_id"] for e in entries if one in e["txids"]}

    text = boveda(demo_book, "journal", "--account", "reserve:US-SBR").stdout.splitlines()
    header = text[0]
    assert header.split() == ["ID", "DATE", "KIND", "BTC", "FEE", "FROM", "TO", "TXID", "AUTHORITY", "BY", "NOTE", "LABEL"]
    fee_column = header.index("FEE")
    assert all(line[fee_column - 2:fee_column] == "  " for line in text[1:])  # aligned columns
    assert any(line[fee_column:].startswith("0.00002000") for line in text[1:])  # the fee shown
    assert "no entry matches" in boveda(demo_book, "journal", "--from", "2030-01-01").stdout
    bad = boveda(demo_book, "journal", "--kind", "gift")
    assert bad.exit_code == 2 and "unknown entry kind 'gift'" in bad.output
    backwards = boveda(demo_book, "journal", "--from", "2025-09-01", "--to", "2025-08-01")
    assert backwards.exit_code == 2 and "is after --to" in backwards.output


def test_a_move_between_a_reserves_own_wallets(demo_book: str) -> None:
    wallets = [w["name"] for w in _json(boveda(demo_book, "wallet", "list", "--json"))["wallets"]
               if w["owner"] == "reserve:SV"]
    paying, receiving = wallets[:2]
    balance = {b["account"]: b["balance_sat"] for b in _json(boveda(demo_book, "balances", "--json"))["balances"]}
    moved = boveda(demo_book, "transfer", "add", "--from", "reserve:SV", "--to", "reserve:SV", "--wallets",
                   f"{paying}:{receiving}", "--amount", "2", "--fee", "0.0001", "--txid", "ab" * 32,
                   "--reason", "to cold storage", "--date", "2025-08-30", "--json")
    assert moved.exit_code == 0, moved.output
    entry_id = json.loads(moved.stdout)["entry_id"]
    (entry,) = _json(boveda(demo_book, "journal", "--txid", "ab" * 32, "--json"))["entries"]
    assert (entry["entry_id"], entry["kind"], entry["from_wallet"], entry["to_wallet"], entry["fee_sat"]) == (
        entry_id, "internal_transfer", paying, receiving, 10_000)
    after = {b["account"]: b["balance_sat"] for b in _json(boveda(demo_book, "balances", "--json"))["balances"]}
    assert after["reserve:SV"] == balance["reserve:SV"] - 10_000
    bad = boveda(demo_book, "transfer", "add", "--from", "reserve:SV", "--to", "reserve:SV", "--wallets", paying,
                 "--amount", "1", "--fee", "0.0001", "--txid", "cd" * 32, "--reason", "x")
    assert bad.exit_code == 2 and "--wallets takes FROM:TO" in bad.output


def test_sync_json_prints_a_summary(demo_book: str) -> None:
    summary = _json(boveda(demo_book, "sync", "--json"))["sync"]
    assert summary["blocks_scanned"] == 0 and summary["tip_height"] > 0 and summary["wallets"] == 7
