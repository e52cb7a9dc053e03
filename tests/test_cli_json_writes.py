"""Every write command takes --json and prints the new ids as one JSON document, so scripts need not parse
text; `prices import` reads a CSV all or nothing, and names the bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _book_fixtures import DESCRIPTOR, backend, book_location, postgres_url, run_cli, txid  # noqa: F401


def _json(location: str, *args: str) -> dict:
    result = run_cli(location, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_write_command_prints_its_new_ids(book_location: str, tmp_path: Path) -> None:  # noqa: F811
    loc = book_location
    assert run_cli(loc, "init").exit_code == 0
    assert _json(loc, "reserve", "add", "US-SBR", "--name", "US", "--no-sale") == {"reserve": "US-SBR"}
    assert _json(loc, "reserve", "add", "SV", "--name", "El Salvador") == {"reserve": "SV"}
    assert _json(loc, "partner", "add", "DE", "--name", "Germany") == {"partner": "DE"}
    assert _json(loc, "case", "add", "1:21-cr-00399", "--agency", "FBI") == {
        "case": "1:21-cr-00399", "account": "custody:1:21-cr-00399"}
    assert _json(loc, "lot", "seize", "--case", "1:21-cr-00399", "--amount", "10", "--txid", txid(1),
                 "--date", "2025-01-02") == {"lot_id": 1, "entry_id": 1, "state": "seized"}
    pending = _json(loc, "lot", "forfeiture-pending", "1", "--order", "Complaint")
    assert pending == {"lot_id": 1, "state": "forfeiture_pending", "transition_id": 1, "entry_id": None,
                       "remainder_lot_ids": []}
    assert _json(loc, "lot", "forfeit", "1", "--order", "Final order")["transition_id"] == 2
    shared = _json(loc, "lot", "allocate", "1", "--to", "sharing:DE", "--percent", "10", "--order", "MLAT")
    assert shared == {"lot_id": 1, "state": "allocated:sharing", "transition_id": 3, "entry_id": 2,
                      "remainder_lot_ids": [2]}
    assert _json(loc, "lot", "seize", "--case", "1:21-cr-00399", "--amount", "1", "--txid", txid(2))["lot_id"] == 3
    assert _json(loc, "lot", "release", "3", "--order", "Petition granted")["entry_id"] == 4
    assert _json(loc, "purchase", "add", "--reserve", "SV", "--amount", "1.1", "--txid", txid(3),
                 "--date", "2025-03-01") == {"entry_id": 5, "kind": "purchase"}
    assert _json(loc, "transfer", "add", "--from", "reserve:SV", "--to", "external:exchange:kraken", "--amount", "0.1",
                 "--txid", txid(4), "--reason", "sale", "--date", "2025-03-02") == {"entry_id": 6, "kind": "sale"}
    wallet = _json(loc, "wallet", "add", "sv-cold", "--reserve", "SV", "--descriptor", DESCRIPTOR)["wallet"]
    assert (wallet["name"], wallet["owner"]) == ("sv-cold", "reserve:SV")
    assert _json(loc, "entry", "adjust", "5", "--amount", "1", "--reason", "typo") == {
        "entry_id": 7, "corrects_entry_id": 5, "kind": "purchase", "amount_sat": 100_000_000}
    assert _json(loc, "entry", "reverse", "6", "--reason", "never sold", "--order", "Memo 3") == {
        "entry_id": 8, "corrects_entry_id": 6, "kind": "sale"}
    prices = tmp_path / "p.csv"
    prices.write_text("date,currency,price\n2025-03-01,USD,85000.10\n2025-03-02,USD,86000\n", encoding="utf-8")
    imported = _json(loc, "prices", "import", str(prices), "--source", "BCR")
    assert imported == {"audit_seq": imported["audit_seq"], "prices": 2, "stored": 2, "currencies": ["USD"],
                        "from": "2025-03-01", "to": "2025-03-02"}
    assert imported["audit_seq"] == _json(loc, "audit", "head")["seq"]
    listed = _json(loc, "prices", "list")["prices"]
    assert listed[0] == {"date": "2025-03-01", "currency": "USD", "price_minor": 8_500_010, "price": "85000.10",
                         "source": "BCR"}
    assert run_cli(loc, "audit", "verify").exit_code == 0


def test_init_import_and_labels_import_print_json_too(book_location: str, tmp_path: Path) -> None:  # noqa: F811
    made = _json(book_location, "init")
    assert made["schema"] and made["created"] in (True, False)
    assert _json(book_location, "reserve", "add", "SV", "--name", "El Salvador") == {"reserve": "SV"}
    export = tmp_path / "book.json"
    assert run_cli(book_location, "export", str(export)).exit_code == 0
    copy = str(tmp_path / "copy.db")
    imported = _json(copy, "import", str(export), "--quiet")
    assert imported["events_applied"] == imported["events_in_file"] == 1
    assert imported["head"]["seq"] == 1
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"type": "tx", "ref": "%s", "label": "Purchase"}\n' % txid(9))
    done = _json(book_location, "labels", "import", str(labels))
    assert (done["records"], done["added"], done["updated"]) == (1, 1, 0) and len(done["file_sha256"]) == 64


def test_a_bad_price_file_imports_nothing_and_names_the_line(book_location: str, tmp_path: Path) -> None:  # noqa: F811
    loc = book_location
    run_cli(loc, "init")
    head = _json(loc, "audit", "head")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,currency,price\n2025-03-01,USD,85000\n2025-03-02,USD,85,000.5\n", encoding="utf-8")
    refused = run_cli(loc, "prices", "import", str(bad), "--source", "BCR")
    assert refused.exit_code == 2 and "line 3: expected 3 columns" in refused.output
    assert "nothing was imported" in refused.output
    unsourced = tmp_path / "unsourced.csv"
    unsourced.write_text("date,currency,price\n2025-03-01,USD,85000\n", encoding="utf-8")
    refused = run_cli(loc, "prices", "import", str(unsourced))
    assert refused.exit_code == 2 and "line 2: no source" in refused.output
    assert _json(loc, "audit", "head") == head and _json(loc, "prices", "list") == {"prices": []}


def test_another_price_for_a_stored_day_needs_replace(book_location: str, tmp_path: Path) -> None:  # noqa: F811
    loc = book_location
    run_cli(loc, "init")
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("date,currency,price,source\n2025-03-01,USD,85000,BCR\n", encoding="utf-8")
    second.write_text("date,currency,price,source\n2025-03-01,USD,85100,BCR revised\n", encoding="utf-8")
    _json(loc, "prices", "import", str(first))
    head = _json(loc, "audit", "head")
    refused = run_cli(loc, "prices", "import", str(second))
    assert refused.exit_code == 2 and "import with --replace to change it" in refused.output
    assert _json(loc, "audit", "head") == head
    assert _json(loc, "prices", "import", str(second), "--replace")["stored"] == 1
    assert _json(loc, "prices", "list")["prices"][0]["source"] == "BCR revised"


@pytest.mark.parametrize("args", [["reserve", "add", "SV", "--name", "x"]])
def test_the_operator_given_with_by_is_recorded(book_location: str, args: list[str]) -> None:  # noqa: F811
    run_cli(book_location, "init")
    assert run_cli(book_location, "--by", "maria", "--approved-by", "jose", *args).exit_code == 0
    event = json.loads(run_cli(book_location, "audit", "export", "--json").stdout)["events"][-1]
    assert (event["operator"], event["approved_by"]) == ("maria", "jose")
