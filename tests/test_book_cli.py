"""The book's commands as a user runs them: the contract's names, --json listings, exit codes
0/1/2 with one-line errors, and help text with an example for every command."""

from __future__ import annotations

import json

import click
import pytest
from _book_fixtures import (  # noqa: F401  (fixtures)
    DESCRIPTOR,
    backend,
    book_location,
    boveda_cli,
    postgres_url,
    run_cli,
    run_cli_process,
    txid,
)
from click.testing import CliRunner

from boveda.book.store import head_revision


def _ok(location: str, *args: str) -> str:
    result = run_cli(location, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_book_recorded_through_the_cli(book_location: str) -> None:  # noqa: F811
    loc = book_location
    assert f"created schema {head_revision()}" in _ok(loc, "init")
    _ok(loc, "reserve", "add", "US-SBR", "--name", "US Strategic Bitcoin Reserve", "--no-sale")
    _ok(loc, "reserve", "add", "SV", "--name", "El Salvador", "--address-cap", "500")
    _ok(loc, "partner", "add", "DE", "--name", "Germany")
    _ok(loc, "case", "add", "1:21-cr-00399", "--agency", "FBI", "--court", "D.D.C.")
    assert "lot 1 seized: 94636.70000000 BTC" in _ok(
        loc, "lot", "seize", "--case", "1:21-cr-00399", "--amount", "94636.7", "--txid", txid(1),
        "--outpoint", f"{txid(1)}:3", "--date", "2022-02-01")
    _ok(loc, "lot", "forfeiture-pending", "1", "--order", "Complaint 22-cv-1")
    assert "lot 1 is now forfeited" in _ok(loc, "lot", "forfeit", "1", "--order", "Final order")
    out = _ok(loc, "lot", "allocate", "1", "--to", "sharing:DE", "--percent", "10", "--order", "MLAT 2023-17",
              "--txid", txid(2))
    assert "lot 2 holds the remaining 85173.03000000 BTC" in out
    _ok(loc, "lot", "allocate", "2", "--to", "reserve:US-SBR", "--order", "EO 14233")
    _ok(loc, "lot", "seize", "--case", "1:21-cr-00399", "--amount", "1", "--txid", txid(3))
    _ok(loc, "lot", "release", "3", "--order", "Order granting petition")
    _ok(loc, "purchase", "add", "--reserve", "SV", "--amount", "1", "--txid", txid(4), "--price-usd", "104250.50",
        "--date", "2025-03-04", "--exchange", "bitfinex")
    assert "internal_transfer" in _ok(loc, "transfer", "add", "--from", "reserve:SV", "--to", "reserve:US-SBR",
                                      "--amount", "0.25", "--fee", "0.0001", "--txid", txid(5), "--reason", "move")
    _ok(loc, "wallet", "add", "sv-cold", "--reserve", "SV", "--descriptor", DESCRIPTOR, "--birth-height", "800000")

    balances = json.loads(_ok(loc, "balances", "--json"))
    by_account = {b["account"]: b for b in balances["balances"]}
    assert by_account["reserve:US-SBR"]["balance_btc"] == "85173.28000000"
    assert by_account["reserve:SV"]["balance_sat"] == 100_000_000 - 25_000_000 - 10_000
    assert by_account["partner:DE"]["balance_sat"] == 946_367_000_000
    assert by_account["custody:1:21-cr-00399"]["balance_sat"] == 0
    assert balances["audit_head"]["seq"] == 14

    lots = json.loads(_ok(loc, "lots", "--json"))["lots"]
    assert [(x["lot_id"], x["state"], x["parent_lot_id"]) for x in lots] == [
        (1, "allocated:sharing", None), (2, "allocated:reserve", 1), (3, "released", None)]
    assert lots[0]["transitions"][-1]["share_percent"] == "10"
    assert lots[0]["seizure_outpoints"] == [f"{txid(1)}:3"]

    journal = sorted(json.loads(_ok(loc, "journal", "--json"))["entries"], key=lambda e: e["entry_id"])  # by date
    assert [e["kind"] for e in journal] == ["seizure", "sharing", "forfeiture_transfer", "seizure", "release",
                                            "purchase", "internal_transfer"]
    assert journal[5]["price_usd_cents"] == 10_425_050

    text = _ok(loc, "lots")
    assert "allocated:sharing" in text and "MLAT 2023-17" in text
    assert "purchase" in _ok(loc, "journal")
    assert "reserve:US-SBR" in _ok(loc, "balances")
    wallets = json.loads(_ok(loc, "wallet", "list", "--json"))["wallets"]
    assert wallets == [{"name": "sv-cold", "owner": "reserve:SV", "descriptor": DESCRIPTOR, "birth_height": 800000}]
    assert "audit log intact: 14 events" in _ok(loc, "audit", "verify")
    head = json.loads(_ok(loc, "audit", "head", "--json"))
    assert head["seq"] == 14 and _ok(loc, "audit", "head").startswith(head["hash"])


def test_errors_are_one_line_with_exit_2(book_location: str) -> None:  # noqa: F811
    missing = run_cli(book_location, "lots")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: no book at") or "database" in missing.stderr
    assert missing.stderr.count("\n") == 1
    _ok(book_location, "init")
    again = run_cli(book_location, "init")
    assert again.exit_code == 2 and "already exists" in again.stderr
    unknown = run_cli(book_location, "lot", "forfeit", "7", "--order", "x")
    assert unknown.exit_code == 2 and unknown.stderr == "error: unknown lot 7\n"
    usage = run_cli(book_location, "wallet", "add", "w", "--descriptor", DESCRIPTOR)
    assert usage.exit_code == 2  # neither --reserve nor --case


def test_no_book_file_is_created_by_a_reading_command(tmp_path) -> None:
    location = str(tmp_path / "nothing.db")
    result = run_cli(location, "balances")
    assert result.exit_code == 2 and "boveda init" in result.stderr
    assert not (tmp_path / "nothing.db").exists()


def test_an_unreachable_postgres_is_a_one_line_error() -> None:
    result = run_cli("postgresql://nobody:secret@127.0.0.1:1/none", "lots")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: book postgresql://nobody:***@127.0.0.1:1/none")
    assert "secret" not in result.stderr and result.stderr.count("\n") == 1


def test_the_book_comes_from_boveda_book(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    location = str(tmp_path / "env.db")
    runner = CliRunner()
    monkeypatch.setenv("BOVEDA_BOOK", location)
    assert runner.invoke(boveda_cli(), ["init"]).exit_code == 0
    assert runner.invoke(boveda_cli(), ["reserve", "add", "SV", "--name", "El Salvador"]).exit_code == 0
    assert (tmp_path / "env.db").exists()


def test_a_real_process(tmp_path) -> None:
    location = str(tmp_path / "proc.db")
    assert run_cli_process("--book", location, "init").returncode == 0
    refused = run_cli_process("--book", location, "purchase", "add", "--reserve", "SV", "--amount", "1",
                              "--txid", txid(1))
    assert refused.returncode == 2
    assert refused.stderr == "error: unknown reserve 'SV': add it with boveda reserve add\n"
    assert "Traceback" not in refused.stderr


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


BOOK_COMMANDS = [
    "init", "reserve add", "partner add", "case add", "lot seize", "lot forfeiture-pending", "lot forfeit",
    "lot allocate", "lot release", "purchase add", "transfer add", "wallet add", "wallet list", "lots", "journal",
    "balances", "audit verify", "audit head", "audit export", "export", "import",
]


def test_the_contract_commands_exist_with_help_and_an_example() -> None:
    commands = {" ".join(path): command for path, command in _commands(boveda_cli())}
    for name in BOOK_COMMANDS:
        command = commands[name]
        assert command.help, f"boveda {name} has no help text"
        assert "Example:" in command.help and "boveda" in command.help.split("Example:")[1], name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"boveda {name} {param.opts[0]} has no help"
    for name, command in commands.items():
        if isinstance(command, click.Group):
            assert command.help, f"group boveda {name} has no help"


@pytest.mark.parametrize("name", ["lots", "journal", "balances", "wallet list", "audit verify", "audit head",
                                  "audit export"])
def test_every_listing_takes_json(name: str) -> None:
    command = dict((" ".join(p), c) for p, c in _commands(boveda_cli()))[name]
    assert any("--json" in p.opts for p in command.params)


def test_help_renders(tmp_path) -> None:
    result = CliRunner().invoke(boveda_cli(), ["lot", "allocate", "--help"])
    assert result.exit_code == 0 and "sharing:PARTNER" in result.stdout and "Example:" in result.stdout
