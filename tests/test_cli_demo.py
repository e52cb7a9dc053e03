"""`boveda demo`, run as a user runs it: a real process, its output and its exit code."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The console script the package installs, as a user calls it.
BOVEDA = [str(Path(sys.executable).with_name("boveda"))]


def run(*args, cwd=None):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*BOVEDA, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_demo_builds_scans_and_agrees_with_the_builder(tmp_path):
    folder = tmp_path / "demo"
    result = run("demo", "--dir", str(folder))
    assert result.returncode == 0, result.stderr
    assert f"Building into {folder}" in result.stdout
    assert (folder / "bitcoin" / "regtest" / "blocks" / "blk00000.dat").is_file()
    rows = [line for line in result.stdout.splitlines() if "reserve:" in line or "custody:" in line]
    assert len(rows) == 7
    assert all(" yes " in row for row in rows), result.stdout
    vault = next(row for row in rows if "sv-vault" in row)
    assert "6126.49985990" in vault  # SV's holdings after the 14-address split


def test_demo_tells_its_story_in_plain_words_and_unwrapped_commands(tmp_path):
    """Issue 14, item 7: planted findings explained, the difference accounted for, lots shown, counts in the
    singular where there is one, and every copy-paste command on one line when stdout is not a terminal."""
    result = subprocess.run([*BOVEDA, "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={k: v for k, v in os.environ.items() if k != "COLUMNS"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "planted 3 kinds of irregularity" in out and "what each would mean in real life" in out
    for kind in ("claimed purchase is internal (3 findings)", "unrecorded outflow (1 finding)",
                 "amount mismatch (1 finding)"):
        assert kind in out
    assert "matches the builder" in out and "builder agrees" not in out
    assert "+ 0.00008000 (network fees those flagged transactions paid" in out
    assert "taproot outputs (P2TR) carry their public key" in out
    assert {"allocated:reserve", "allocated:restitution", "allocated:sharing", "forfeited"} <= set(out.split())
    assert "1 movement —" in out and "1 address," in out and "1 movements" not in out and "1 addresses" not in out
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and folders[0].name.startswith("boveda-demo-")  # what .gitignore's boveda-demo-*/ covers
    checks = [line.strip() for line in out.splitlines() if "check it yourself:" in line]
    assert len(checks) == 2
    for line in checks:
        command = line.split("check it yourself: ", 1)[1].split()
        assert command[0] == "boveda" and command[-2:] == ["--network", "regtest"]  # whole, on one line
        assert Path(command[2]).is_file()


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "something").write_text("keep me")
    result = run("demo", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "is not empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "something").read_text() == "keep me"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[scenario\n", "not valid TOML"),
        ('[scenario]\nname = "x"\n', "missing 'start_date'"),
        ('[scenario]\nname = "x"\nstart_date = 2025-01-01\n[[events]]\nday = 0\naction = "buy"\n', "unknown action"),
    ],
)
def test_a_malformed_scenario_is_one_line_and_exit_2(tmp_path, text, message):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text)
    result = run("demo", "--dir", str(tmp_path / "out"), "--scenario", str(scenario))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_scenario_file(tmp_path):
    result = run("demo", "--dir", str(tmp_path / "out"), "--scenario", str(tmp_path / "absent.toml"))
    assert result.returncode == 2 and "no scenario file at" in result.stderr


def test_a_scenario_the_chain_cannot_carry_names_the_event(tmp_path):
    scenario = tmp_path / "broke.toml"
    scenario.write_text(
        '[scenario]\nname = "x"\nstart_date = 2025-01-01\n'
        '[[wallets]]\nname = "a"\nowner = "external:a"\n'
        '[[events]]\nday = 0\naction = "pay"\nfrom = "a"\nto = "miner"\namount_btc = "1"\n'
    )
    result = run("demo", "--dir", str(tmp_path / "out"), "--scenario", str(scenario))
    assert result.returncode == 2
    assert "day 0, pay a→miner" in result.stderr and "cannot pay" in result.stderr
