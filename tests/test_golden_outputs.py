"""The demo's output and every `--json` document on the demo book stay byte-identical across refactors.

The golden files in tests/data/golden/ were written by the code before the layers were
restructured; a difference is a change of a public contract. Only what differs between two
runs of the same code is normalised: the folder, the audit log's timestamps and the hashes
that cover them, proof nonces, and the run time. Regenerate on purpose with
``BOVEDA_REGOLD=1 python -m pytest tests/test_golden_outputs.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "data" / "golden"
BOVEDA = [str(Path(sys.executable).with_name("boveda"))]

# (golden file name, command after `boveda --book BOOK`)
JSON_COMMANDS = (
    ("lots", ["lots", "--json"]),
    ("journal", ["journal", "--json"]),
    ("balances", ["balances", "--json"]),
    ("wallet-list", ["wallet", "list", "--json"]),
    ("wallet-show-sv-vault", ["wallet", "show", "sv-vault", "--json"]),
    ("wallet-show-sv-vault-at-300", ["wallet", "show", "sv-vault", "--at", "300", "--json"]),
    ("wallet-addresses-sv-hot", ["wallet", "addresses", "sv-hot", "--json"]),
    ("exposure-SV", ["exposure", "--reserve", "SV", "--json"]),
    ("exposure-US-SBR", ["exposure", "--reserve", "US-SBR", "--json"]),
    ("reconcile-SV", ["reconcile", "--reserve", "SV", "--json"]),
    ("reconcile-US-SBR", ["reconcile", "--reserve", "US-SBR", "--json"]),
    ("reconcile-SV-at-400", ["reconcile", "--reserve", "SV", "--at", "400", "--json"]),
    ("statement-SV", ["statement", "--reserve", "SV", "--format", "json"]),
    ("statement-SV-august", ["statement", "--reserve", "SV", "--from", "2025-08-01", "--to", "2025-08-15",
                             "--format", "json"]),
    ("statement-US-SBR", ["statement", "--reserve", "US-SBR", "--format", "json"]),
    ("statement-SV-csv", ["statement", "--reserve", "SV", "--format", "csv"]),
    ("statement-SV-table", ["statement", "--reserve", "SV"]),
    ("audit-head", ["audit", "head", "--json"]),
    ("audit-verify", ["audit", "verify", "--json"]),
    ("audit-export", ["audit", "export", "--json"]),
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "TZ": "UTC"}
    return subprocess.run([*BOVEDA, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def normalise(text: str, folder: Path) -> str:
    text = text.replace(str(folder), "<DEMO>")
    text = re.sub(r"Done in [0-9.]+ s", "Done in <T> s", text)
    text = re.sub(r'"recorded_at": ?"[^"]*"', '"recorded_at": "<TIME>"', text)
    text = re.sub(r'"(hash|prev_hash|head|hash_hex|head_hash|audit_head)": ?"[0-9a-f]{64}"', r'"\1": "<HASH>"', text)
    text = re.sub(r'"challenge": "[0-9a-f]{32}"', '"challenge": "<NONCE>"', text)
    text = re.sub(r"head [0-9a-f]{64}", "head <HASH>", text)
    text = re.sub(r"^[0-9a-f]{64}$", "<HASH>", text, flags=re.MULTILINE)
    return text


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden") / "demo"
    result = run("demo", "--dir", str(folder), cwd=folder.parent)
    assert result.returncode == 0, result.stderr
    return folder, result.stdout


def check(name: str, actual: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("BOVEDA_REGOLD") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name}: output differs from {path} (a public contract changed)"


def test_the_demo_prints_what_it_always_printed(demo_book):
    folder, stdout = demo_book
    check("demo", normalise(stdout, folder))


@pytest.mark.parametrize("name,command", JSON_COMMANDS, ids=[name for name, _ in JSON_COMMANDS])
def test_each_json_document_on_the_demo_book_is_unchanged(demo_book, name, command):
    folder, _ = demo_book
    result = run("--book", str(folder / "boveda.db"), *command, cwd=folder)
    assert result.returncode in (0, 1), result.stderr
    if "--json" in command or "json" in command:
        json.loads(result.stdout)  # still one JSON document
    check(name, f"exit {result.returncode}\n" + normalise(result.stdout, folder))


def test_verify_json_of_a_demo_bundle_is_unchanged(demo_book):
    folder, _ = demo_book
    result = run("verify", str(folder / "proof-SV.json"), "--datadir", str(folder / "bitcoin"),
                 "--network", "regtest", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    check("verify-SV", normalise(result.stdout, folder))
