"""`boveda height --date` and `boveda statement --from/--to` at the edges of days, on a small kernel-built
chain whose block times are chosen: a block at 23:59:59 UTC belongs to its day, one at 00:00:00 to the
next; `--tz` moves the day's end; a day after the synced tip's day, or before the first synced block, is
refused in one line naming the tip's (or the first block's) date; the fiat figures are exact integers."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

import pytest

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Price
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.cli.main import run
from boveda.keys.software_wallet import WalletKind
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync

COIN = 100_000_000
FEE_SAT = 1_000
PRICE_CENTS = 11_800_012  # 118,000.12 USD per BTC


def _utc(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp())


@dataclass(frozen=True)
class EdgeChain:
    book: str
    heights: dict[str, int]  # block label -> height


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> EdgeChain:
    """Blocks: `funding` 2025-08-01 12:00 UTC (5 BTC bought), `last-second` 23:59:59, `midnight` 2025-08-02
    00:00:00 (1 BTC sold, fee 1,000 sat), `late` 05:30 UTC (23:30 on 2025-08-01 in El Salvador), `tip`
    2025-08-03 10:00."""
    folder = tmp_path_factory.mktemp("periods-cli")
    sim = Simulation(folder / "bitcoin", seed_label="periods cli tests")
    sim.add_wallet("hot", WalletKind.WPKH)
    sim.add_wallet("outsider", WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    heights = {}
    funding = sim.pay("miner", [(sim.receive_script("hot"), 5 * COIN)])
    sim.mine(time=_utc("2025-08-01T12:00:00"))
    heights["funding"] = sim.height
    sim.mine(time=_utc("2025-08-01T23:59:59"))
    heights["last-second"] = sim.height
    sale = sim.pay("hot", [(sim.receive_script("outsider"), COIN)], fee_sat=FEE_SAT)
    sim.mine(time=_utc("2025-08-02T00:00:00"))
    heights["midnight"] = sim.height
    sim.mine(time=_utc("2025-08-02T05:30:00"))
    heights["late"] = sim.height
    sim.mine(time=_utc("2025-08-03T10:00:00"))
    heights["tip"] = sim.height
    sim.close()
    location = str(folder / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("R", name="Edge reserve")
        register_wallet(book, "hot", sim.wallet("hot").multipath_descriptor(), network=Network.REGTEST, reserve="R",
                        birth_height=heights["funding"], gap_limit=20)
        book.add_purchase(reserve="R", amount_sat=5 * COIN, txid=funding.txid_hex, price_usd_cents=10_000_000,
                          date="2025-08-01")
        book.add_transfer(from_account="reserve:R", to_account="external:exchange:desk", amount_sat=COIN,
                          txid=sale.txid_hex, reason="sale", fee_sat=FEE_SAT, date="2025-08-02")
        book.import_prices([Price(datetime.date(2025, 8, 2), "USD", PRICE_CENTS, "Office price file")])
        with KernelSource(sim.datadir, Network.REGTEST) as kernel, \
                BlockFileSource(sim.datadir, Network.REGTEST, kernel=kernel) as files:
            sync(book.store, files, network=Network.REGTEST)
    return EdgeChain(location, heights)


@dataclass(frozen=True)
class Done:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def boveda(edge, capsys):
    """`boveda --book EDGE ARGS…` in-process through `run`, the console script's own error handling."""

    def invoke(*args: str) -> Done:
        capsys.readouterr()
        code = run(["--book", edge.book, *args])
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return invoke


def height_of(boveda, *args: str) -> dict:
    done = boveda("height", *args, "--json")
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def refused(boveda, *args: str) -> str:
    done = boveda(*args)
    assert done.exit_code == 2, (args, done.stdout)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def test_a_block_at_23_59_59_is_the_last_of_its_day_and_midnight_starts_the_next(edge, boveda):
    assert height_of(boveda, "--date", "2025-08-01")["height"] == edge.heights["last-second"]
    assert height_of(boveda, "--date", "2025-08-02")["height"] == edge.heights["late"]
    found = height_of(boveda, "--date", "2025-08-03")
    assert (found["height"], found["block_time_iso"]) == (edge.heights["tip"], "2025-08-03T10:00:00+00:00")


def test_tz_ends_the_day_at_local_midnight(edge, boveda):
    local = height_of(boveda, "--date", "2025-08-01", "--tz", "America/El_Salvador")  # UTC−6: until 06:00 UTC
    assert (local["height"], local["zone"]) == (edge.heights["late"], "America/El_Salvador")
    assert local["block_time_iso"] == "2025-08-01T23:30:00-06:00"
    east = height_of(boveda, "--date", "2025-08-02", "--tz", "Asia/Tokyo")  # UTC+9: until 2025-08-02 15:00 UTC
    assert east["height"] == edge.heights["late"]
    assert "unknown time zone" in refused(boveda, "height", "--date", "2025-08-01", "--tz", "Mars/Olympus_Mons")


def test_a_day_after_the_tip_or_before_the_first_block_is_refused_with_the_date(edge, boveda):
    assert "2025-08-03" in refused(boveda, "height", "--date", "2025-08-04")
    message = refused(boveda, "height", "--date", "2025-07-31")
    assert "before the first synced block" in message and "2025-08-01" in message
    # the tip's day in Tokyo is already 2025-08-03 19:00: its next day is refused there too
    assert "2025-08-03 (Asia/Tokyo)" in refused(boveda, "height", "--date", "2025-08-04", "--tz", "Asia/Tokyo")


def test_a_statement_past_the_tip_is_refused_naming_the_tips_date(edge, boveda):
    for args in (("--from", "2025-08-01", "--to", "2025-08-04"), ("--to", "2025-09-30"), ("--from", "2025-08-04")):
        message = refused(boveda, "statement", "--reserve", "R", *args)
        assert "2025-08-03" in message, (args, message)
    assert "--from" in refused(boveda, "statement", "--reserve", "R", "--from", "2025-08-03", "--to", "2025-08-02")
    assert "give one" in refused(boveda, "statement", "--reserve", "R", "--at", str(edge.heights["tip"]),
                                 "--to", "2025-08-02")
    assert "currency" in refused(boveda, "statement", "--reserve", "R", "--currency", "dollars")


def statement(boveda, *args: str) -> dict:
    done = boveda("statement", "--reserve", "R", *args, "--format", "json")
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def test_a_days_statement_holds_the_blocks_of_that_day_only(edge, boveda):
    day = statement(boveda, "--from", "2025-08-02", "--to", "2025-08-02")
    rf = day["rollforward"]
    assert (rf["opening_height"], rf["closing_height"]) == (edge.heights["last-second"], edge.heights["late"])
    assert day["height"] == edge.heights["late"]
    assert [m["height"] for m in day["movements"]] == [edge.heights["midnight"]]  # the 00:00:00 sale
    for side in ("chain", "book"):
        assert rf[side]["opening_sat"] == 5 * COIN
        assert (rf[side]["inflows_sat"], rf[side]["outflows_sat"], rf[side]["fees_sat"]) == (0, COIN, FEE_SAT)
        assert rf[side]["closing_sat"] == 4 * COIN - FEE_SAT and rf[side]["adds_up"]
    first = statement(boveda, "--from", "2025-08-01", "--to", "2025-08-01")["rollforward"]
    assert first["opening_height"] is None and first["chain"]["inflows_sat"] == 5 * COIN
    assert first["chain"]["closing_sat"] == first["book"]["closing_sat"] == 5 * COIN


def test_the_table_and_csv_show_the_roll_forward(edge, boveda):
    table = boveda("statement", "--reserve", "R", "--from", "2025-08-02", "--to", "2025-08-02").stdout
    assert "ROLL-FORWARD 2025-08-02..2025-08-02" in table and "adds up on both sides" in table
    assert "Opening balance (end of 2025-08-01, block " in table
    csv_text = boveda("statement", "--reserve", "R", "--from", "2025-08-02", "--format", "csv").stdout
    movements, rollforward = csv_text.split("\n\n")
    assert len(movements.splitlines()) == 2  # the header and the sale
    rows = {line.split(",")[0]: line.split(",") for line in rollforward.splitlines()}
    assert rows["outflows"][1] == str(COIN) and rows["fees"][4] == str(FEE_SAT)
    assert rows["closing_balance"][1] == rows["closing_balance"][4] == str(4 * COIN - FEE_SAT)


def test_the_cost_basis_is_exact_and_a_missing_price_is_said(edge, boveda):
    fiat = statement(boveda, "--to", "2025-08-01")["fiat"]
    assert (fiat["currency"], fiat["purchased_sat"], fiat["cost_basis_minor"]) == ("USD", 5 * COIN, 50_000_000)
    assert fiat["price"] is None and fiat["value_minor"] is None  # no price for 2025-08-01
    table = boveda("statement", "--reserve", "R", "--to", "2025-08-01").stdout
    assert "no price for 2025-08-01 in USD" in table and "500,000.00" in table
    eur = statement(boveda, "--to", "2025-08-01", "--currency", "eur")["fiat"]
    assert (eur["currency"], eur["cost_basis_minor"]) == ("EUR", None)


def test_the_value_at_the_period_end_uses_the_price_table_and_rounds_down(edge, boveda):
    fiat = statement(boveda, "--to", "2025-08-02")["fiat"]
    holdings = 4 * COIN - FEE_SAT
    assert fiat["price"] == {"on": "2025-08-02", "currency": "USD", "price_minor": PRICE_CENTS,
                             "source": "Office price file"}
    assert fiat["value_minor"] == PRICE_CENTS * holdings // COIN  # 471,998.8 cents, rounded down
    assert fiat["purchases_value_minor"] == PRICE_CENTS * 5
    assert fiat["unrealised_gain_minor"] == PRICE_CENTS * 5 - 50_000_000
    table = boveda("statement", "--reserve", "R", "--to", "2025-08-02").stdout
    assert "118,000.12 USD on 2025-08-02 (source: Office price file)" in table
