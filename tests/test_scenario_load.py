"""Scenario files: the shipped one loads; each kind of malformed file gets a one-line error."""

from pathlib import Path

import pytest

from boveda.errors import ScenarioError
from boveda.scenario.load import load_scenario, parse_scenario
from boveda.scenario.model import Action, WalletKind

ARTICLE = Path(__file__).resolve().parents[1] / "src" / "boveda" / "scenarios" / "article.toml"

MINIMAL = """
[scenario]
name = "t"
start_date = 2025-01-01
[[reserves]]
code = "SV"
name = "El Salvador"
[[wallets]]
name = "hot"
owner = "reserve:SV"
[[events]]
day = 0
action = "pay"
from = "miner"
to = "hot"
amount_btc = "1.5"
"""


def write(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_article_scenario_loads_with_its_actors_and_irregularities():
    scenario = load_scenario(ARTICLE)
    assert {r.code for r in scenario.reserves} == {"SV", "US-SBR"}
    assert len(scenario.cases) == 3
    assert scenario.wallet("sv-cold").kind is WalletKind.WSH_SORTEDMULTI
    assert [e.day for e in scenario.events] == sorted(e.day for e in scenario.events)
    planted = [e for e in scenario.events if e.note.startswith("planted")]
    assert len(planted) >= 3
    splits = [e for e in scenario.events if e.action is Action.SPLIT]
    assert splits[0].outputs == 14


def test_amounts_are_exact_satoshis(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL))
    assert scenario.events[0].amount_sat == 150_000_000


def test_repeat_expands_into_consecutive_days(tmp_path):
    scenario = load_scenario(write(tmp_path, MINIMAL.replace('day = 0', 'day = 2\nrepeat = 3')))
    assert [e.day for e in scenario.events] == [2, 3, 4]


@pytest.mark.parametrize(
    "change, message",
    [
        (("[scenario]", "[scenari]"), "missing 'scenario'"),
        (('name = "t"', 'name = 5'), "'name' must be str"),
        (("start_date = 2025-01-01", 'start_date = "yesterday"'), "'start_date' must be date"),
        (('action = "pay"', 'action = "buy"'), "unknown action 'buy'"),
        (('amount_btc = "1.5"', 'amount_btc = "1.123456789"'), "amount_btc"),
        (('amount_btc = "1.5"', "amount_btc = 1.5"), "'amount_btc' must be str"),
        (('to = "hot"', 'to = "cold"'), "wallet 'cold' is not declared"),
        (('owner = "reserve:SV"', 'owner = "reserve:XX"'), "reserve:XX, which is not declared"),
        (('owner = "reserve:SV"', 'owner = "treasury"'), "owner 'treasury' must be"),
        (('day = 0', 'day = 0\ncolour = "red"'), "unknown key\\(s\\) colour"),
        (('amount_btc = "1.5"', ''), "action 'pay' needs 'amount_btc'"),
        (('name = "hot"', 'name = "miner"'), "wallet name 'miner' is declared twice"),
    ],
)
def test_malformed_scenarios_are_refused_with_where_and_what(tmp_path, change, message):
    old, new = change
    assert old in MINIMAL
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(write(tmp_path, MINIMAL.replace(old, new, 1)))
    assert "\n" not in str(info.value)


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "[scenario\n"))
    with pytest.raises(ScenarioError, match="no scenario file at"):
        load_scenario(tmp_path / "absent.toml")


def test_wsh_needs_a_sane_threshold():
    doc = {"scenario": {"name": "t", "start_date": __import__("datetime").date(2025, 1, 1)},
           "wallets": [{"name": "v", "owner": "external:x", "kind": "wsh", "threshold": 4, "cosigners": 3}]}
    with pytest.raises(ScenarioError, match="threshold <= cosigners"):
        parse_scenario(doc)
