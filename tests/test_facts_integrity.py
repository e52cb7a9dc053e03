"""Chain facts are evidence too (issue 10, class 4): an insider's edit of any chain-fact row is found —
by `audit verify` through the facts' seal when the seal was left alone, by `facts verify`'s rescan of
the chain when it was recomputed — and `facts repair` rebuilds them in one transaction."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from _book_fixtures import backend, book_location, postgres_url  # noqa: F401  (fixtures)
from _reserve_chain import chain_facts

from boveda.book.store import Store
from boveda.cli.main import run
from boveda.demo import run_demo
from boveda.wallets import facts_store
from boveda.wallets.facts_seal import seal_everything, seal_problems
from boveda.wallets.tables import txos


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("facts") / "demo"
    result = run_demo(folder)
    sv = next(r for r in result.reserves if r.code == "SV").reconciliation
    outflow = next(d for d in sv.discrepancies if d.kind.value == "unrecorded_outflow")
    return folder, outflow


@pytest.fixture
def book(demo, tmp_path):
    """A copy of the demo's book and its chain: (book path, datadir, the unrecorded outflow)."""
    folder, outflow = demo
    shutil.copyfile(folder / "boveda.db", tmp_path / "book.db")
    datadir = shutil.copytree(folder / "bitcoin", tmp_path / "bitcoin")
    return str(tmp_path / "book.db"), datadir, outflow


def boveda(capsys, *args):
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def sql(path: str, *statements: str, params=()) -> None:
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement, params)


def reseal(path: str) -> None:
    """What an insider who knows the rule does after the edit: recompute the seal."""
    with Store(path) as store, store.write() as (conn, _head):
        seal_everything(conn)


def hide_the_outflow(path: str, txid_hex: str) -> int:
    """The adversary's edit of the issue: the outflow's coin marked unspent, its transaction's row deleted.
    Returns the outflow's height."""
    txid = bytes.fromhex(txid_hex)[::-1]
    with sqlite3.connect(path) as db:
        height = db.execute("SELECT spent_height FROM txos WHERE spent_txid = ?", (txid,)).fetchone()[0]
        db.execute("UPDATE txos SET spent_txid = NULL, spent_height = NULL WHERE spent_txid = ?", (txid,))
        db.execute("DELETE FROM txos WHERE txid = ?", (txid,))  # its change
        db.execute("DELETE FROM chain_txs WHERE txid = ?", (txid,))
    return height


def test_a_synced_book_is_sealed_and_matches_the_chain(book, capsys):
    path, datadir, _ = book
    assert boveda(capsys, "--book", path, "audit", "verify")[0] == 0
    code, out, err = boveda(capsys, "--book", path, "facts", "verify", "--datadir", str(datadir), "--network", "regtest",
                            "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["differences"] == [] and report["blocks_compared"] > 100


def test_the_issue_edit_is_found_by_audit_verify_naming_the_block(book, capsys):
    path, _, outflow = book
    height = hide_the_outflow(path, outflow.txid_hex)
    code, out, err = boveda(capsys, "--book", path, "audit", "verify")
    assert code == 1
    assert f"chain facts of block {height} " in out and "audit verify failed (chain facts)" in err
    assert "boveda facts verify" in out


# Each edit an insider could make to one chain-fact table, without touching the seal; what must be named.
EDITS = {
    "coin value raised": (["UPDATE txos SET value_sat = value_sat + 1 WHERE rowid = (SELECT min(rowid) FROM txos)"],
                          "chain facts of block"),
    "coin deleted": (["DELETE FROM txos WHERE rowid = (SELECT max(rowid) FROM txos)"], "chain facts of block"),
    "coin moved to another wallet": (
        ["UPDATE txos SET wallet = (SELECT max(name) FROM wallets) WHERE rowid = (SELECT min(rowid) FROM txos)"],
        "chain facts of block"),
    "spend forgotten": (["UPDATE txos SET spent_txid = NULL, spent_height = NULL "
                         "WHERE rowid = (SELECT min(rowid) FROM txos WHERE spent_txid IS NOT NULL)"],
                        "chain facts of block"),
    "transaction deleted": (["DELETE FROM chain_txs WHERE rowid = (SELECT min(rowid) FROM chain_txs)"],
                            "chain facts of block"),
    "transaction total changed": (["UPDATE chain_txs SET output_total_sat = 1 WHERE rowid = (SELECT min(rowid) FROM chain_txs)"],
                                  "chain facts of block"),
    "block hash replaced": (["UPDATE chain_blocks SET hash = zeroblob(32) WHERE height = (SELECT min(height) + 5 "
                             "FROM chain_blocks)"], "chain facts of block"),
    "middle block removed": (["DELETE FROM chain_blocks WHERE height = (SELECT min(height) + 3 FROM chain_blocks)"],
                             "chain facts of block"),
    "top block removed": (["DELETE FROM chain_blocks WHERE height = (SELECT max(height) FROM chain_blocks)"],
                          "sealed up to block"),
    "block seal erased": (["UPDATE chain_blocks SET facts_hash = NULL WHERE height = (SELECT max(height) FROM chain_blocks)"],
                          "carry no seal"),
    "coin at a height never synced": (["INSERT INTO txos SELECT txid, 7, wallet, script_pubkey, value_sat, 999999, NULL, NULL "
                                       "FROM txos WHERE rowid = (SELECT min(rowid) FROM txos)"], "not a synced block"),
    "derived script replaced": (["UPDATE wallet_scripts SET script_pubkey = X'00140000000000000000000000000000000000000000' "
                                 "WHERE rowid = (SELECT min(rowid) FROM wallet_scripts)"], "table wallet_scripts"),
    "derived script replaced by text": (["UPDATE wallet_scripts SET script_pubkey = 'abc' "
                                         "WHERE rowid = (SELECT min(rowid) FROM wallet_scripts)"], "table wallet_scripts"),
    "coin txid replaced by text": (["UPDATE txos SET txid = 'abc' WHERE rowid = (SELECT min(rowid) FROM txos)"],
                                   "chain facts of block"),
    "derived script deleted": (["DELETE FROM wallet_scripts WHERE rowid = (SELECT max(rowid) FROM wallet_scripts)"],
                               "table wallet_scripts"),
    "wallet sync height lowered": (["UPDATE wallet_sync SET synced_height = synced_height - 1"], "table wallet_sync"),
    "gap limit lowered": (["UPDATE wallet_sync SET gap_limit = 1"], "table wallet_sync"),
    "genesis setting changed": (["UPDATE chain_settings SET value = 'ff' WHERE key = 'genesis'"], "table chain_settings"),
    "setting added": (["INSERT INTO chain_settings VALUES ('synced_by', 'mallory')"], "table chain_settings"),
    "seal table emptied": (["DELETE FROM chain_facts_seals"], "no seal"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_of_any_chain_fact_table_is_found_by_audit_verify(book, capsys, edit):
    path, _, _ = book
    statements, named = EDITS[edit]
    sql(path, *statements)
    code, out, _ = boveda(capsys, "--book", path, "audit", "verify")
    assert code == 1, out
    assert named in out, out


def test_a_resealed_edit_passes_the_seal_but_not_the_rescan_and_repair_restores_the_outflow(book, capsys):
    path, datadir, outflow = book
    chain = ("--datadir", str(datadir), "--network", "regtest")
    before = chain_facts(path)
    height = hide_the_outflow(path, outflow.txid_hex)
    reseal(path)
    assert boveda(capsys, "--book", path, "audit", "verify")[0] == 0  # the seal alone cannot tell
    code, out, _ = boveda(capsys, "--book", path, "reconcile", "--reserve", "SV", "--json")
    assert "unrecorded_outflow" not in out  # what the edit was for

    code, out, err = boveda(capsys, "--book", path, "facts", "verify", *chain)
    assert code == 1
    assert f"block {height}:" in out and outflow.txid_hex in out
    assert f"first differing block: {height}" in err
    report = json.loads(boveda(capsys, "--book", path, "facts", "verify", *chain, "--json")[1])
    assert report["first_differing_block"] == height and not report["ok"]

    code, out, err = boveda(capsys, "--book", path, "facts", "repair", *chain)
    assert code == 0, err
    assert f"block {height}:" in out
    assert chain_facts(path) == before
    assert boveda(capsys, "--book", path, "audit", "verify")[0] == 0
    assert boveda(capsys, "--book", path, "facts", "verify", *chain)[0] == 0
    code, out, _ = boveda(capsys, "--book", path, "reconcile", "--reserve", "SV", "--json")
    assert code == 1 and "unrecorded_outflow" in out


def test_a_resealed_script_that_the_descriptor_does_not_derive_is_named_by_the_rescan(book, capsys):
    path, datadir, _ = book
    sql(path, "INSERT INTO wallet_scripts SELECT X'00140000000000000000000000000000000000000000', wallet, branch, idx + 100000 "
              "FROM wallet_scripts WHERE rowid = (SELECT min(rowid) FROM wallet_scripts)")
    reseal(path)
    code, out, _ = boveda(capsys, "--book", path, "facts", "verify", "--datadir", str(datadir), "--network", "regtest")
    assert code == 1 and "table wallet_scripts" in out and "0014" + "00" * 20 in out


def test_an_interrupted_repair_leaves_the_facts_as_they_were(book, capsys, monkeypatch):
    path, datadir, outflow = book
    hide_the_outflow(path, outflow.txid_hex)
    reseal(path)
    edited = chain_facts(path)
    real = facts_store.replace_facts

    def dies_half_way(conn, rescan):
        real(conn, rescan)
        raise KeyboardInterrupt

    monkeypatch.setattr(facts_store, "replace_facts", dies_half_way)
    code, _, err = boveda(capsys, "--book", path, "facts", "repair", "--datadir", str(datadir), "--network", "regtest")
    assert code == 130 and "interrupted" in err
    assert chain_facts(path) == edited
    with Store(path) as store, store.read() as conn:
        assert seal_problems(conn) == []


def test_facts_verify_refuses_a_book_never_synced_and_a_chain_that_is_too_short(book, tmp_path, capsys):
    path, datadir, _ = book
    assert boveda(capsys, "--book", str(tmp_path / "new.db"), "init")[0] == 0
    code, _, err = boveda(capsys, "--book", str(tmp_path / "new.db"), "facts", "verify", "--datadir", str(datadir),
                          "--network", "regtest")
    assert code == 2 and "nothing has been synced yet" in err
    sql(path, "UPDATE wallet_sync SET synced_height = synced_height - 1 WHERE rowid = 1")
    code, _, err = boveda(capsys, "--book", path, "facts", "verify", "--datadir", str(datadir), "--network", "regtest")
    assert code == 2 and "run boveda sync first" in err


def test_a_book_synced_before_the_seal_is_sealed_by_its_migration(book, capsys):
    """Revision 0004 run on a book as revision 0003 left it (its columns and table not there yet)."""
    import importlib.util

    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    path, _, _ = book
    sql(path, "ALTER TABLE chain_blocks DROP COLUMN facts_hash", "ALTER TABLE chain_blocks DROP COLUMN facts_chain",
        "DROP TABLE chain_facts_seals", "DROP INDEX ix_txos_height")
    spec = importlib.util.spec_from_file_location(
        "m0004", Path(facts_store.__file__).parent / "migrations" / "0004_facts_digests.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with Store(path) as store, store.engine.connect() as conn:
        with conn.begin(), Operations.context(MigrationContext.configure(conn)):
            migration.upgrade()
    assert boveda(capsys, "--book", path, "audit", "verify")[0] == 0
    sql(path, "UPDATE txos SET value_sat = value_sat + 1 WHERE rowid = 1")
    assert boveda(capsys, "--book", path, "audit", "verify")[0] == 1


def test_on_either_database_an_edit_is_found_and_a_resealed_one_is_named_and_repaired(book_location, tmp_path,  # noqa: F811
                                                                                    capsys):
    from test_sync import funded_simulation, new_book, pay_around, register, run_sync

    sim = funded_simulation(tmp_path / "chain")
    pay_around(sim, 2)
    book = new_book(book_location)
    register(book, sim)
    run_sync(book, sim)
    with sim.released() as datadir:
        chain = ("--datadir", str(datadir), "--network", "regtest")
        paid_at = sim.height - 1
        with book.store.write() as (conn, _head):
            conn.execute(sa.update(txos).where(txos.c.height == paid_at).values(value_sat=txos.c.value_sat * 2))
        code, out, _ = boveda(capsys, "--book", book_location, "audit", "verify")
        assert code == 1 and f"chain facts of block {paid_at} " in out
        with book.store.write() as (conn, _head):
            seal_everything(conn)
        assert boveda(capsys, "--book", book_location, "audit", "verify")[0] == 0
        code, out, err = boveda(capsys, "--book", book_location, "facts", "verify", *chain)
        assert code == 1 and f"first differing block: {paid_at}" in err
        assert boveda(capsys, "--book", book_location, "facts", "repair", *chain)[0] == 0
        assert boveda(capsys, "--book", book_location, "facts", "verify", *chain)[0] == 0
        assert boveda(capsys, "--book", book_location, "audit", "verify")[0] == 0
    book.close()
    sim.close()


def test_a_sync_over_an_edited_seal_neither_crashes_nor_hides_it(tmp_path, capsys):
    from test_sync import funded_simulation, new_book, register, run_sync

    sim = funded_simulation(tmp_path / "chain")
    location = str(tmp_path / "book.db")
    book = new_book(location)
    register(book, sim)
    run_sync(book, sim)
    edited = sim.height
    sql(location, f"UPDATE chain_blocks SET facts_chain = 'abc' WHERE height = {edited}")
    sim.mine()
    assert run_sync(book, sim).tip_height == edited + 1  # resealed above it, no traceback
    code, out, _ = boveda(capsys, "--book", location, "audit", "verify")
    assert code == 1 and f"chain facts of block {edited} " in out
    book.close()
    sim.close()


def test_the_rescan_names_a_resealed_row_of_another_type_without_a_traceback(book, capsys):
    path, datadir, _ = book
    sql(path, "UPDATE txos SET txid = 'abc' WHERE rowid = (SELECT min(rowid) FROM txos)")
    reseal(path)
    assert boveda(capsys, "--book", path, "audit", "verify")[0] == 0
    code, out, err = boveda(capsys, "--book", path, "facts", "verify", "--datadir", str(datadir), "--network", "regtest")
    assert code == 1 and "'abc'" in out and "Traceback" not in err
