"""The demo's whole pipeline on the shipped scenario: every planted irregularity is found, nothing else,
and the proofs verify; a scenario of consolidations passed off as purchases fails reconciliation."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from boveda.demo import run_demo

BOVEDA = str(Path(sys.executable).with_name("boveda"))


def boveda(*args, cwd=None):
    return subprocess.run([BOVEDA, *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "run")


def test_the_planted_irregularities_and_nothing_else(demo):
    by_reserve = {r.code: r for r in demo.reserves}
    sv = by_reserve["SV"].reconciliation
    assert Counter(d.kind.value for d in sv.discrepancies) == {
        "claimed_purchase_is_internal": 3,  # days 12-14
        "unrecorded_outflow": 1,  # day 20
        "amount_mismatch": 1,  # day 25
    }
    assert sv.has_critical
    assert {d.amount_sat for d in sv.discrepancies if d.kind.value == "claimed_purchase_is_internal"} == {100_000_000}
    unrecorded = next(d for d in sv.discrepancies if d.kind.value == "unrecorded_outflow")
    assert unrecorded.amount_sat == 50_000_000
    assert any("moved between SV's own wallets" in s for s in by_reserve["SV"].sentences)
    us = by_reserve["US-SBR"].reconciliation
    assert us.discrepancies == () and not us.has_critical
    assert us.chain_balance_sat == us.book_balance_sat


def test_the_split_is_within_the_cap_and_every_wallet_agrees_with_the_builder(demo):
    assert all(w.agrees for w in demo.wallets)
    sv = next(r for r in demo.reserves if r.code == "SV")
    assert sv.exposure.over_cap_sat == 0
    assert sv.exposure.address_cap_sat == 500 * 100_000_000
    vault = [w for w in demo.wallets if w.name == "sv-vault"][0]
    assert vault.balance_sat == sv.reconciliation.chain_balance_sat


def test_the_proofs_verify_and_the_audit_log_is_intact(demo):
    assert demo.audit.ok
    assert {p.code for p in demo.proofs} == {"SV", "US-SBR"}
    assert all(p.ok for p in demo.proofs)
    sv = next(p for p in demo.proofs if p.code == "SV")
    assert len(sv.bundle.addresses) == 14
    assert all(a.balance_sat <= 500 * 100_000_000 for a in sv.bundle.addresses)


def test_reconcile_and_statement_commands_on_the_demo_book(demo, tmp_path):
    book = ["--book", demo.book_location]
    sv = boveda(*book, "reconcile", "--reserve", "SV", "--json")
    assert sv.returncode == 1, sv.stderr
    document = json.loads(sv.stdout)
    assert {"reserve", "height", "block_hash", "chain_balance_sat", "book_balance_sat", "movements",
            "discrepancies", "totals"} <= set(document)
    assert document["totals"]["purchase_sat"] > 0
    movement = document["movements"][0]
    assert {"txid", "height", "kind", "amount_sat", "fee_sat", "counterparty", "entry_id"} <= set(movement)
    us = boveda(*book, "reconcile", "--reserve", "US-SBR")
    assert us.returncode == 0, us.stderr
    for fmt in ("table", "json", "csv", "html"):
        out = tmp_path / f"sv.{fmt}"
        result = boveda(*book, "statement", "--reserve", "SV", "--format", fmt, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert out.stat().st_size > 500
    rows = (tmp_path / "sv.csv").read_text().split("\n\n")[0].strip().splitlines()  # then the roll-forward
    assert len(rows) == 1 + len(document["movements"])
    assert (demo.folder / "statement-SV.html").read_text().count("<svg") >= 2


def test_bad_reserve_and_unsynced_height_are_one_line_errors(demo):
    for args, message in ((("reconcile", "--reserve", "XX"), "no reserve 'XX'"),
                          (("reconcile", "--reserve", "SV", "--at", "99999"), "has not been synced"),
                          (("statement", "--reserve", "SV", "--from", "2025-13-01"), "not a date")):
        result = boveda("--book", demo.book_location, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


CONSOLIDATIONS = """
[scenario]
name = "consolidations"
description = "Every recorded purchase is a move between the reserve's own wallets"
start_date = 2025-08-01
blocks_per_day = 2

[[reserves]]
code = "SV"
name = "El Salvador"

[[wallets]]
name = "sv-a"
owner = "reserve:SV"

[[wallets]]
name = "sv-b"
owner = "reserve:SV"
kind = "tr"

[[events]]
day = 0
action = "mine"
blocks = 120

[[events]]
day = 0
action = "pay"
from = "miner"
to = "sv-a"
amount_btc = "40"
book = { kind = "purchase", reserve = "SV", price_usd = 0 }

[[events]]
day = 1
repeat = 5
action = "pay"
from = "sv-a"
to = "sv-b"
amount_btc = "1"
book = { kind = "purchase", reserve = "SV", price_usd = 117000 }
"""


def test_a_reserve_whose_purchases_are_all_consolidations_fails_reconciliation(tmp_path):
    scenario = tmp_path / "consolidations.toml"
    scenario.write_text(CONSOLIDATIONS)
    result = boveda("demo", "--dir", str(tmp_path / "run"), "--scenario", str(scenario))
    assert result.returncode == 0, result.stderr
    reconcile = boveda("--book", str(tmp_path / "run" / "boveda.db"), "reconcile", "--reserve", "SV", "--json")
    assert reconcile.returncode == 1
    found = json.loads(reconcile.stdout)["discrepancies"]
    assert [d["kind"] for d in found] == ["claimed_purchase_is_internal"] * 5
    assert "5.00000000 BTC recorded as purchases" in result.stdout
