"""Every rule of the book, broken on purpose: the change is refused with a clear message and the
book — its audit head, balances, lots, journal and registries — is exactly as before.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from _book_fixtures import (  # noqa: F401  (fixtures)
    DESCRIPTOR,
    TXID_A,
    BookTemplates,
    StepClock,
    _book_templates,
    backend,
    book_templates,
    populate,
    run_cli,
    snapshot,
    txid,
)

from boveda.book import Book, BookError

BTC = 100_000_000
CASE2 = "2:23-cv-00001"


def build_ready(book: Book) -> None:
    """Lots in every interesting state.

    lot 1 allocated:sharing, lot 2 allocated:reserve (US-SBR), lot 3 seized, lot 4
    forfeiture_pending, lot 5 forfeited; reserve SV holds 1.5 BTC minus a 1000 sat fee.
    """
    populate(book)
    book.add_case(CASE2, agency="DEA")
    book.seize_lot(case=CASE2, amount_sat=2 * BTC, txid=txid(3))
    book.seize_lot(case=CASE2, amount_sat=1 * BTC, txid=txid(4))
    book.mark_forfeiture_pending(4, order="Complaint 4")
    book.seize_lot(case=CASE2, amount_sat=BTC // 2, txid=txid(5))
    book.mark_forfeiture_pending(5, order="Complaint 5")
    book.forfeit_lot(5, order="Final order 5")
    assert [lot.state.value for lot in book.lots()] == [
        "allocated:sharing", "allocated:reserve", "seized", "forfeiture_pending", "forfeited",
    ]


@pytest.fixture
def ready(backend: str, book_templates: BookTemplates, tmp_path: Path) -> Iterator[Book]:  # noqa: F811
    """A copy, in its own database, of the book :func:`build_ready` makes."""
    location = book_templates.clone(backend, "ready", build_ready, tmp_path)
    with Book.open(location, clock=StepClock()) as book:
        yield book


def _refused(book: Book, attempt: Callable[[Book], object], match: str) -> None:
    before = snapshot(book)
    with pytest.raises(BookError, match=match):
        attempt(book)
    assert snapshot(book) == before


RULES: list[tuple[str, Callable[[Book], object], str]] = [
    # an entry that does not balance
    ("unbalanced entry",
     lambda b: b.record_entry("purchase", [("external:exchange:kraken", -100), ("reserve:SV", 90)], txids=[TXID_A]),
     "does not balance"),
    ("one-sided entry", lambda b: b.record_entry("purchase", [("reserve:SV", 90)]), "at least two postings"),
    ("zero posting",
     lambda b: b.record_entry("purchase", [("external:exchange:kraken", 0), ("reserve:SV", 0)]), "non-zero"),
    # a holding going negative
    ("sale beyond the reserve",
     lambda b: b.add_transfer(from_account="reserve:SV", to_account="external:exchange:kraken", amount_sat=10 * BTC,
                              txid=txid(20), reason="sale"),
     "reserve:SV would go negative"),
    ("fee beyond the reserve",
     lambda b: b.record_entry("fee", [("reserve:SV", -2 * BTC), ("expense:fees", 2 * BTC)]),
     "reserve:SV would go negative"),
    ("custody moved beyond its coins",
     lambda b: b.add_transfer(from_account=f"custody:{CASE2}", to_account="custody:1:21-cr-00399",
                              amount_sat=5 * BTC, txid=txid(21), reason="move"),
     f"custody:{CASE2} would go negative"),
    # a lot skipping a state
    ("seized lot forfeited", lambda b: b.forfeit_lot(3, order="Final order"),
     "must become forfeiture_pending before forfeited"),
    ("seized lot allocated", lambda b: b.allocate_lot(3, to="restitution", order="Order 1"),
     "may only become forfeiture_pending or released"),
    ("pending lot allocated", lambda b: b.allocate_lot(4, to="reserve:SV", order="Order 1"),
     "must become forfeited before allocated:reserve"),
    ("forfeited lot released", lambda b: b.release_lot(5, order="Order 1"), "may only become allocated"),
    ("final lot moved again", lambda b: b.release_lot(2, order="Order 1"), "already allocated:reserve"),
    ("final lot forfeited again", lambda b: b.forfeit_lot(1, order="Order 1"), "already allocated:sharing"),
    ("unknown lot", lambda b: b.forfeit_lot(99, order="Order 1"), "unknown lot 99"),
    # a lot that is not forfeited entering a no-sale reserve
    ("pending lot into no-sale reserve", lambda b: b.allocate_lot(4, to="reserve:US-SBR", order="EO 14233"),
     "only forfeited lots may enter no-sale reserve US-SBR: lot 4 is forfeiture_pending"),
    ("seized lot into no-sale reserve", lambda b: b.allocate_lot(3, to="reserve:US-SBR", order="EO 14233"),
     "only forfeited lots may enter no-sale reserve US-SBR: lot 3 is seized"),
    ("custody coins transferred into no-sale reserve",
     lambda b: b.add_transfer(from_account=f"custody:{CASE2}", to_account="reserve:US-SBR", amount_sat=BTC,
                              txid=txid(22), reason="deposit"),
     "only forfeited lots may enter no-sale reserve US-SBR"),
    ("custody coins transferred into a reserve",
     lambda b: b.add_transfer(from_account=f"custody:{CASE2}", to_account="reserve:SV", amount_sat=BTC,
                              txid=txid(22), reason="deposit"),
     "coins leave custody only through a lot"),
    ("custody coins sent to victims outside a lot",
     lambda b: b.add_transfer(from_account=f"custody:{CASE2}", to_account="external:victims", amount_sat=BTC,
                              txid=txid(22), reason="refund", order="Order 1"),
     "coins leave custody only through a lot"),
    # a sale from a no-sale reserve
    ("sale from no-sale reserve",
     lambda b: b.add_transfer(from_account="reserve:US-SBR", to_account="external:exchange:coinbase",
                              amount_sat=BTC, txid=txid(23), reason="budget"),
     "US-SBR has a no-sale policy"),
    ("sale entry from no-sale reserve",
     lambda b: b.record_entry("sale", [("reserve:US-SBR", -BTC), ("external:exchange:coinbase", BTC)]),
     "US-SBR has a no-sale policy"),
    # restitution, release or sharing without an order/agreement reference
    ("restitution without order", lambda b: b.allocate_lot(5, to="restitution", order=""), "reference"),
    ("restitution with a blank order", lambda b: b.allocate_lot(5, to="restitution", order="   "), "reference"),
    ("release without order", lambda b: b.release_lot(3, order=""), "reference"),
    ("release with no order at all", lambda b: b.release_lot(3, order=None), "reference"),  # type: ignore[arg-type]
    ("sharing without agreement", lambda b: b.allocate_lot(5, to="sharing:DE", order="", percent_bp=5000),
     "reference"),
    ("restitution from a reserve without order",
     lambda b: b.add_transfer(from_account="reserve:SV", to_account="external:victims", amount_sat=1000,
                              txid=txid(24), reason="refund"),
     "restitution order/agreement reference"),
    ("sharing entry without agreement",
     lambda b: b.record_entry("sharing", [("reserve:SV", -1000), ("partner:DE", 1000)]),
     "sharing order/agreement reference"),
    # sharing without a partner and a percentage
    ("sharing without partner", lambda b: b.allocate_lot(5, to="sharing", order="MLAT 1", percent_bp=5000),
     "needs a partner"),
    ("sharing with unknown partner", lambda b: b.allocate_lot(5, to="sharing:FR", order="MLAT 1", percent_bp=5000),
     "unknown partner 'FR'"),
    ("sharing without percentage", lambda b: b.allocate_lot(5, to="sharing:DE", order="MLAT 1"), "percentage"),
    ("sharing of 0 percent", lambda b: b.allocate_lot(5, to="sharing:DE", order="MLAT 1", percent_bp=0),
     "above 0 and at most 100"),
    ("sharing above 100 percent", lambda b: b.allocate_lot(5, to="sharing:DE", order="MLAT 1", percent_bp=10_001),
     "above 0 and at most 100"),
    ("sharing entry without partner",
     lambda b: b.record_entry("sharing", [("reserve:SV", -1000), ("reserve:US-SBR", 1000)], authority_ref="X"),
     "needs a partner"),
    # an amount that is not positive
    ("zero purchase", lambda b: b.add_purchase(reserve="SV", amount_sat=0, txid=txid(30)), "must be positive"),
    ("negative purchase", lambda b: b.add_purchase(reserve="SV", amount_sat=-5, txid=txid(30)), "must be positive"),
    ("float purchase", lambda b: b.add_purchase(reserve="SV", amount_sat=1.5, txid=txid(30)),  # type: ignore[arg-type]
     "whole number of satoshis"),
    ("zero seizure", lambda b: b.seize_lot(case=CASE2, amount_sat=0, txid=txid(31)), "must be positive"),
    ("zero fee", lambda b: b.add_transfer(from_account="reserve:SV", to_account="reserve:US-SBR", amount_sat=10,
                                          fee_sat=0, txid=txid(32), reason="x"), "fee must be positive"),
    # names and references that do not exist or do not parse
    ("duplicate reserve", lambda b: b.add_reserve("SV", name="Again"), "reserve SV already exists"),
    ("duplicate case", lambda b: b.add_case(CASE2, agency="DEA"), "already exists"),
    ("duplicate partner", lambda b: b.add_partner("DE", name="Germany"), "already exists"),
    ("bad reserve code", lambda b: b.add_reserve("sv lower", name="x"), "bad reserve code"),
    ("blank reserve name", lambda b: b.add_reserve("XX", name="  "), "reserve name is required"),
    ("purchase for unknown reserve", lambda b: b.add_purchase(reserve="XX", amount_sat=1, txid=txid(33)),
     "unknown reserve 'XX'"),
    ("unknown account family",
     lambda b: b.record_entry("purchase", [("bank:hsbc", -1), ("reserve:SV", 1)]), "unknown account 'bank:hsbc'"),
    ("bad txid", lambda b: b.add_purchase(reserve="SV", amount_sat=1, txid="xyz"), "bad txid"),
    ("bad date", lambda b: b.add_purchase(reserve="SV", amount_sat=1, txid=txid(34), date="2025-13-01"), "bad date"),
    ("seizure in unknown case", lambda b: b.seize_lot(case="9:99", amount_sat=1, txid=txid(35)), "unknown case"),
    ("seizure as a plain entry",
     lambda b: b.record_entry("seizure", [("external:claimant", -1), (f"custody:{CASE2}", 1)]),
     "recorded with boveda lot seize"),
    ("purchase into custody",
     lambda b: b.record_entry("purchase", [("external:exchange:kraken", -1), (f"custody:{CASE2}", 1)]),
     "cannot give coins to custody"),
    ("wallet without checksum",
     lambda b: b.add_wallet("w1", descriptor="raw(deadbeef)", reserve="SV"), "raw\\(deadbeef\\)#89f8spxm"),
    ("wallet with wrong checksum",
     lambda b: b.add_wallet("w1", descriptor="raw(deadbeef)#89f8spxn", reserve="SV"), "checksum"),
    ("wallet of unknown reserve", lambda b: b.add_wallet("w1", descriptor=DESCRIPTOR[:-9] + "#89f8spxm",
                                                         reserve="XX"), "unknown reserve"),
    ("wallet registered twice", lambda b: b.add_wallet("w2", descriptor=DESCRIPTOR, case=CASE2),
     "already registered as wallet sv-cold"),
    ("wallet name taken", lambda b: b.add_wallet("sv-cold", descriptor="raw(00)#qwfjgwf6", reserve="SV"),
     "wallet sv-cold already exists"),
    ("wallet with two owners", lambda b: b.add_wallet("w3", descriptor="raw(00)#qwfjgwf6", reserve="SV", case=CASE2),
     "exactly one owner"),
    ("wallet with negative birth height",
     lambda b: b.add_wallet("w3", descriptor="raw(00)#qwfjgwf6", reserve="SV", birth_height=-1), "birth height"),
]


@pytest.mark.parametrize(("attempt", "match"), [pytest.param(a, m, id=name) for name, a, m in RULES])
def test_rule_refuses_and_changes_nothing(ready: Book, attempt: Callable[[Book], object], match: str) -> None:
    _refused(ready, attempt, match)


def test_a_refused_change_inside_a_batch_undoes_the_whole_batch(ready: Book) -> None:
    def batch(b: Book) -> None:
        with b.atomic():
            b.add_purchase(reserve="SV", amount_sat=BTC, txid=txid(40))
            b.add_reserve("MX", name="Mexico")
            b.allocate_lot(4, to="reserve:US-SBR", order="EO 14233")  # refused: not forfeited

    _refused(ready, batch, "only forfeited lots")


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0.000000001", "9 decimals"), ("1.123456789", "at most 8"), ("0", "must be positive"), ("-1", "not a BTC"),
     ("1e-3", "not a BTC"), ("0.0", "must be positive")],
)
def test_cli_refuses_bad_amounts_with_exit_2(ready: Book, amount: str, message: str) -> None:
    location = ready.store.location
    before = snapshot(ready)
    for args in (
        ["purchase", "add", "--reserve", "SV", "--amount", amount, "--txid", txid(50)],
        ["lot", "seize", "--case", CASE2, "--amount", amount, "--txid", txid(51)],
        ["transfer", "add", "--from", "reserve:SV", "--to", "expense:fees", "--amount", amount, "--txid", txid(52),
         "--reason", "fee"],
        ["reserve", "add", "MX", "--name", "Mexico", "--address-cap", amount],
    ):
        result = run_cli(location, *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert snapshot(ready) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lot", "forfeit", "3", "--order", "Final"], "must become forfeiture_pending"),
        (["lot", "allocate", "4", "--to", "reserve:US-SBR", "--order", "EO"], "only forfeited lots"),
        (["lot", "allocate", "5", "--to", "sharing:DE", "--order", "MLAT"], "percentage"),
        (["lot", "allocate", "5", "--to", "sharing:DE", "--order", "MLAT", "--percent", "33.333"], "bad percentage"),
        (["lot", "allocate", "5", "--to", "restitution", "--order", ""], "reference"),
        (["lot", "release", "3", "--order", " "], "reference"),
        (["transfer", "add", "--from", "reserve:US-SBR", "--to", "external:exchange:coinbase", "--amount", "1",
          "--txid", txid(53), "--reason", "budget"], "no-sale"),
        (["purchase", "add", "--reserve", "SV", "--amount", "1", "--txid", txid(54), "--price-usd", "abc"],
         "bad USD price"),
    ],
)
def test_cli_refusals_exit_2_with_one_line(ready: Book, args: list[str], message: str) -> None:
    before = snapshot(ready)
    result = run_cli(ready.store.location, *args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert snapshot(ready) == before
