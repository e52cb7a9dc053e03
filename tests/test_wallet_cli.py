"""`boveda wallet add`, `sync`, `wallet show`, `wallet addresses`, `exposure`, run as a user runs them:
real processes, their output and exit codes, against a regtest chain — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa
from _book_fixtures import backend, book_location, postgres_url  # noqa: F401
from test_exposure import CAP_SAT, COIN, OVER_CAP, REUSED, REVEALED, TAPROOT, address, exposure_chain
from test_sync import expected_history

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import SoftwareWallet, seed_from_label
from boveda.wallets.descriptors import descriptor_checksum
from boveda.wallets.tables import chain_settings, wallet_scripts, wallet_sync

BOVEDA = [str(Path(sys.executable).with_name("boveda"))]  # the console script, as a user calls it


def boveda(book: str, *args: str) -> subprocess.CompletedProcess:
    env = {"BOVEDA_OPERATOR": "test-operator", **os.environ, "COLUMNS": "200"}  # a PostgreSQL book names who writes
    return subprocess.run([*BOVEDA, "--book", book, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def ok(book: str, *args: str) -> subprocess.CompletedProcess:
    result = boveda(book, *args)
    assert result.returncode == 0, result.stderr
    return result


def refused(book: str, *args: str, reason: str) -> str:
    """Runs a command that must fail with exit 2 and one line on stderr containing `reason`."""
    result = boveda(book, *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert reason in lines[0], lines[0]
    return lines[0]


def as_json(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout)


# -- bad descriptors ---------------------------------------------------------------------------


def _with_checksum(body: str) -> str:
    return f"{body}#{descriptor_checksum(body)}"


def test_bad_descriptors_are_refused_in_one_line_and_leave_the_book_unchanged(book_location):  # noqa: F811
    good = SoftwareWallet.wpkh(seed_from_label("cli/bad")).multipath_descriptor()
    body, checksum = good.split("#")
    cases = [
        ([f"{body}#{'q' if checksum[0] != 'q' else 'p'}{checksum[1:]}", "--network", "regtest"],
         "does not match the descriptor"),
        ([_with_checksum(body.replace("<0;1>/*", "0h/*")), "--network", "regtest"], "hardened step 0h after an xpub"),
        ([_with_checksum(body.replace("wpkh(", "wpkhx(", 1)), "--network", "regtest"], "unknown function wpkhx()"),
        ([good], "is a tpub (test network keys) but the wallet is on main"),  # no --network: checked for main
    ]
    ok(book_location, "init")
    ok(book_location, "reserve", "add", "R", "--name", "Reserve")
    head = ok(book_location, "audit", "head").stdout
    for (descriptor, *network), reason in cases:
        refused(book_location, "wallet", "add", "w", "--reserve", "R", "--descriptor", descriptor, *network,
                reason=reason)
    assert ok(book_location, "audit", "head").stdout == head
    with Book.open(book_location) as book, book.store.read() as conn:
        assert book.wallets() == ()
        for table in (wallet_scripts, wallet_sync, chain_settings):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0, table.name


# -- end to end ---------------------------------------------------------------------------------


def utxos_at(sim: Simulation, name: str, height: int) -> set[tuple]:
    """The wallet's coins after block `height`, from the simulation's per-script books."""
    coins = set()
    for script in sim.wallet_scripts(name):
        history = sim.history(script)
        spent = {(d.outpoint.txid, d.outpoint.vout) for d in history.debits if d.height <= height}
        coins |= {(c.txid_hex, c.vout, c.value_sat, c.height, address(script))
                  for c in history.credits if c.height <= height and (c.txid, c.vout) not in spent}
    return coins


def assert_shows(state: dict, sim: Simulation, name: str, height: int) -> None:
    assert (state["name"], state["height"], state["balance_sat"]) == (name, height, sim.balance_sat(name, height))
    assert {(u["txid"], u["vout"], u["value_sat"], u["height"], u["address"]) for u in state["utxos"]} == utxos_at(
        sim, name, height)
    expected = {key: delta for key, delta in expected_history(sim, name).items() if key[1] <= height}
    assert {(h["txid"], h["height"]): h["delta_sat"] for h in state["history"]} == expected


def test_register_sync_show_and_report_as_a_user(book_location, tmp_path):  # noqa: F811
    chain = exposure_chain(tmp_path / "chain")
    sim = chain.sim
    datadir = str(tmp_path / "chain")
    ok(book_location, "init")
    ok(book_location, "reserve", "add", "R", "--name", "Reserve", "--address-cap", "2")
    ok(book_location, "wallet", "add", "cold", "--reserve", "R", "--network", "regtest",
       "--descriptor", sim.wallet("cold").multipath_descriptor())
    for name in ("vault", "tap"):  # the book now knows its network
        ok(book_location, "wallet", "add", name, "--reserve", "R", "--descriptor", sim.wallet(name).multipath_descriptor())

    # While the simulation holds the chain, the datadir is in use.
    refused(book_location, "sync", "--datadir", datadir, "--network", "regtest", reason="in use by a running bitcoind")
    with sim.released():
        refused(book_location, "sync", "--datadir", str(tmp_path / "absent"), "--network", "regtest",
                reason="no data directory at")
        refused(book_location, "sync", "--datadir", datadir, "--network", "signet",
                reason="this book's wallets are on regtest, not signet")
        synced = ok(book_location, "sync", "--datadir", datadir, "--network", "regtest")
    assert f"synced 3 wallets to height {sim.height}" in synced.stdout
    assert f"{sim.height + 1} blocks scanned" in synced.stdout

    funded = sim.height - 3  # the block that paid every wallet (see exposure_chain)
    for name, height in (("cold", funded - 1), ("cold", funded + 1), ("vault", sim.height - 1)):
        assert_shows(as_json(ok(book_location, "wallet", "show", name, "--at", str(height), "--json")),
                     sim, name, height)

    addresses = as_json(ok(book_location, "wallet", "addresses", "cold", "--json"))
    by_address = {a["address"]: a for a in addresses["addresses"]}
    assert by_address[address(chain.reused)] == {"branch": 0, "index": 0, "address": address(chain.reused),
                                                 "received_count": 2, "balance_sat": COIN // 2}
    assert by_address[address(chain.emptied)]["received_count"] == 1
    assert by_address[address(chain.emptied)]["balance_sat"] == 0
    per_branch = defaultdict(list)
    for line in addresses["addresses"]:
        per_branch[line["branch"]].append(line["index"])
    assert per_branch == {0: list(range(2 + 1 + 20)), 1: list(range(0 + 1 + 20))}  # last used + gap limit 20
    assert sum(a["balance_sat"] for a in addresses["addresses"]) == sim.balance_sat("cold")

    report = as_json(ok(book_location, "exposure", "--reserve", "R", "--json"))
    assert report["address_cap_sat"] == CAP_SAT and report["height"] == sim.height
    assert {a["address"]: a["reasons"] for a in report["addresses"]} == {
        address(chain.big): [OVER_CAP], address(chain.vault_reused): [REVEALED, REUSED],
        address(chain.taproot): [TAPROOT], address(chain.reused): [REVEALED, REUSED],
    }
    assert report["totals"] == {
        "holdings_sat": sum(sim.balance_sat(name) for name in ("cold", "vault", "tap")),
        "revealed_key_sat": COIN // 2 + COIN + 7 * COIN // 10,
        "reused_address_sat": COIN // 2 + COIN,
        "over_cap_sat": 3 * COIN,
    }

    # The datadir and network are remembered, and the failed attempts above changed neither.
    sim.pay("cold", [(sim.receive_script("tap"), COIN // 10)])
    sim.mine_blocks(2)
    with sim.released():
        again = ok(book_location, "sync")
    assert f"synced 3 wallets to height {sim.height}" in again.stdout and "2 blocks scanned" in again.stdout
    assert_shows(as_json(ok(book_location, "wallet", "show", "tap", "--json")), sim, "tap", sim.height)
    # Another network's wallet would never match this book's chain (nor show its addresses right).
    refused(book_location, "wallet", "add", "main-cold", "--reserve", "R", "--network", "main", "--descriptor",
            SoftwareWallet.wpkh(seed_from_label("cli/main"), network=Network.MAIN).multipath_descriptor(),
            reason="this book's wallets are on regtest, not main")
    sim.close()
