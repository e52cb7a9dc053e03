"""Period statements on the demo book: for every calendar day and every month of the scenario, and for any
period hypothesis picks, opening + inflows − outflows − fees (+ mixed, net) = closing on the chain side and
on the book side; consecutive periods chain (each opens where the one before closed); a period's flows are
the sum of its days' flows; holdings and findings are those of the period's last block."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.book import Book
from boveda.book.domain import Account
from boveda.demo import run_demo
from boveda.reconcile.facts import ReconcileError
from boveda.report.rollforward import RollForwardSide
from boveda.service.periods import block_of_day, period_bounds
from boveda.service.reserve import reserve_statement, reserve_view

RESERVES = ("SV", "US-SBR")
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Demo:
    book: Book
    first_day: datetime.date  # the day before the first entry: nothing held yet
    tip_day: datetime.date


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    folder: Path = tmp_path_factory.mktemp("periods") / "demo"
    run_demo(folder)
    with Book.open(str(folder / "boveda.db")) as book:
        first = min(e.effective_date for e in book.journal()) - DAY
        yield Demo(book, first, period_bounds(book, None, None).period_to)


def _days(demo: Demo) -> list[datetime.date]:
    return [demo.first_day + n * DAY for n in range((demo.tip_day - demo.first_day).days + 1)]


def _flows(side: RollForwardSide) -> tuple[int, ...]:
    return (side.inflows_sat, side.outflows_sat, side.fees_sat, side.mixed_net_sat, side.internal_moved_sat,
            side.inflow_count, side.outflow_count, side.internal_count, side.mixed_count)


def _book_balance(book: Book, code: str, day: datetime.date) -> int:
    account = Account.reserve(code)
    return sum(p.amount_sat for e in book.journal() if e.effective_date <= day for p in e.postings
               if p.account == account)


@pytest.fixture(scope="module")
def daily(demo: Demo) -> dict[tuple[str, datetime.date], object]:
    """Every reserve's statement of every single day of the scenario."""
    return {(code, day): reserve_statement(demo.book, code, None, day, day) for code in RESERVES
            for day in _days(demo)}


@pytest.mark.parametrize("code", RESERVES)
def test_every_day_of_the_demo_rolls_forward_on_both_sides(demo, daily, code):
    previous = None
    for day in _days(demo):
        s = daily[(code, day)]
        rf = s.rollforward
        assert rf.chain.adds_up and rf.book.adds_up, (code, day, rf)
        assert (rf.period_from, rf.period_to) == (day, day)
        # holdings are those of the day's last block, not of the tip
        assert s.height == rf.closing_height == block_of_day(demo.book, day).height
        assert rf.chain.closing_sat == s.holdings_total_sat == s.chain_balance_sat
        assert rf.book.closing_sat == _book_balance(demo.book, code, day)
        assert all((rf.opening_height or -1) < m.height <= rf.closing_height for m in s.movements)
        if previous is not None:
            assert rf.opening_height == previous.rollforward.closing_height
            assert rf.chain.opening_sat == previous.rollforward.chain.closing_sat
            assert rf.book.opening_sat == previous.rollforward.book.closing_sat
        previous = s
    assert any(_flows(daily[(code, d)].rollforward.chain)[:2] != (0, 0) for d in _days(demo))  # not all empty


def _month_periods(demo: Demo) -> list[tuple[datetime.date, datetime.date]]:
    months, day = [], demo.first_day.replace(day=1)
    while day <= demo.tip_day:
        following = (day + 32 * DAY).replace(day=1)
        months.append((day, min(following - DAY, demo.tip_day)))  # the tip's month ends at the tip's day
        day = following
    return months


@pytest.mark.parametrize("code", RESERVES)
def test_every_month_rolls_forward_and_its_flows_are_the_sum_of_its_days(demo, daily, code):
    months = _month_periods(demo)
    assert len(months) == 2  # July and August 2025
    for first, last in months:
        rf = reserve_statement(demo.book, code, None, first, last).rollforward
        assert rf.chain.adds_up and rf.book.adds_up, (code, first, rf)
        days = [d for d in _days(demo) if first <= d <= last]
        for side in ("chain", "book"):
            summed = [sum(values) for values in zip(*(_flows(getattr(daily[(code, d)].rollforward, side))
                                                      for d in days))]
            assert list(_flows(getattr(rf, side))) == summed, (code, first, side)
            assert getattr(rf, side).closing_sat == getattr(daily[(code, last)].rollforward, side).closing_sat


def test_the_demo_month_of_august_ends_after_the_tip_and_is_refused(demo):
    with pytest.raises(ReconcileError, match=f"after the synced tip.*{demo.tip_day}"):
        reserve_statement(demo.book, "SV", None, datetime.date(2025, 8, 1), datetime.date(2025, 8, 31))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_period_is_its_days_rolled_forward(demo, daily, data):
    days = _days(demo)
    first = data.draw(st.sampled_from(days))
    last = data.draw(st.sampled_from([d for d in days if d >= first]))
    code = data.draw(st.sampled_from(RESERVES))
    s = reserve_statement(demo.book, code, None, first, last)
    rf = s.rollforward
    assert rf.chain.adds_up and rf.book.adds_up
    for side in ("chain", "book"):
        assert getattr(rf, side).opening_sat == getattr(daily[(code, first)].rollforward, side).opening_sat
        assert getattr(rf, side).closing_sat == getattr(daily[(code, last)].rollforward, side).closing_sat
    assert [m.txid_hex for m in s.movements] == [m.txid_hex for d in days if first <= d <= last
                                                  for m in daily[(code, d)].movements]


def test_findings_are_those_of_the_period_end_not_of_the_tip(demo):
    early = reserve_statement(demo.book, "SV", None, datetime.date(2025, 8, 1), datetime.date(2025, 8, 5))
    tip = reserve_view(demo.book, "SV").reconciliation
    assert tip.discrepancies and not early.discrepancies  # the planted findings come later in August
    assert early.height < tip.height and early.holdings_total_sat != sum(
        reserve_view(demo.book, "SV").holdings_sat.values())


def test_the_whole_history_rolls_forward_from_nothing(demo):
    s = reserve_statement(demo.book, "SV")
    rf = s.rollforward
    assert rf.opening_height is None and rf.chain.opening_sat == rf.book.opening_sat == 0
    assert rf.adds_up and rf.chain.closing_sat == s.chain_balance_sat
    assert rf.book.closing_sat - rf.chain.closing_sat == s.difference_sat  # the planted irregularities
