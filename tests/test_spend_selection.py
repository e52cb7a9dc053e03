"""Coin selection: branch-and-bound finds change-free spends, the fallback makes change, the fee is paid
at the rate asked, and a wallet that cannot pay is refused by the amount-available rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.spend.errors import PolicyRefusal
from boveda.spend.selection import (
    DUST_SAT,
    TX_OVERHEAD_WEIGHT,
    SelectionRequest,
    _branch_and_bound,
    fee_for,
    output_weight,
    select,
)

WPKH_INPUT = 272
FIXED = TX_OVERHEAD_WEIGHT + output_weight(22)
CHANGE = output_weight(22)
RATE = 1_000  # 1 sat/vB


def request(values, amount, *, sweep=False, rate=RATE):
    return SelectionRequest(values, amount, rate, WPKH_INPUT, FIXED, CHANGE, sweep=sweep)


def test_branch_and_bound_finds_the_exact_subset_and_makes_no_change():
    per_input = fee_for(WPKH_INPUT, RATE)
    target = fee_for(FIXED, RATE)
    values = [90_000 + per_input, 30_000 + per_input, 50_000 + per_input, 7_000 + per_input, 20_000 + per_input]
    chosen = select(request(values, 100_000 - target))
    assert chosen.algorithm == "bnb" and chosen.change_sat == 0
    assert sorted(values[i] - per_input for i in chosen.indexes) == [20_000, 30_000, 50_000]
    assert chosen.fee_sat == sum(values[i] for i in chosen.indexes) - chosen.amount_sat


def test_branch_and_bound_returns_a_subset_within_the_window_or_none():
    found = _branch_and_bound([10, 7, 5, 3, 1], 8, 0)
    assert found is not None and sum([10, 7, 5, 3, 1][p] for p in found) == 8
    assert _branch_and_bound([10, 7], 4, 1) is None


def test_without_an_exact_subset_the_smallest_single_coin_that_covers_it_is_spent_with_change():
    chosen = select(request([10_000_000, 400_000, 1_000_000, 50_000], 300_000))
    assert chosen.algorithm == "single" and chosen.indexes == (1,)
    assert chosen.change_sat == 400_000 - 300_000 - chosen.fee_sat
    assert chosen.fee_sat == fee_for(FIXED + WPKH_INPUT + CHANGE, RATE)


def test_then_the_largest_coins_first():
    chosen = select(request([100_000, 300_000, 200_000, 50_000], 450_000))
    assert chosen.algorithm == "largest-first" and chosen.indexes == (1, 2)
    assert chosen.change_sat > DUST_SAT


def test_a_sweep_spends_every_coin_and_pays_the_rest():
    values = [100_000, 200_000, 60]
    chosen = select(request(values, 0, sweep=True))
    assert chosen.algorithm == "sweep" and chosen.indexes == (0, 1)  # the 60-sat coin costs more than it holds
    assert chosen.amount_sat + chosen.fee_sat == 300_000 and chosen.change_sat == 0


def test_a_wallet_that_cannot_pay_is_refused_naming_the_rule():
    with pytest.raises(PolicyRefusal, match="refused by rule amount-available"):
        select(request([100_000, 50_000], 160_000))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1_000, max_value=10_000_000), min_size=1, max_size=40),
       st.integers(min_value=1_000, max_value=20_000_000), st.integers(min_value=1_000, max_value=50_000))
def test_whatever_is_chosen_pays_the_amount_and_at_least_the_fee_rate(values, amount, rate):
    try:
        chosen = select(request(values, amount, rate=rate))
    except PolicyRefusal:
        per_input = fee_for(WPKH_INPUT, rate)
        assert sum(max(v - per_input, 0) for v in values) < amount + fee_for(FIXED + CHANGE, rate) + 2 * per_input \
            + DUST_SAT
        return
    total = sum(values[i] for i in chosen.indexes)
    assert len(set(chosen.indexes)) == len(chosen.indexes)
    assert total == chosen.amount_sat + chosen.fee_sat + chosen.change_sat
    assert chosen.amount_sat == amount
    weight = FIXED + WPKH_INPUT * len(chosen.indexes) + (CHANGE if chosen.change_sat else 0)
    assert chosen.fee_sat >= fee_for(weight, rate)
    assert chosen.change_sat == 0 or chosen.change_sat >= DUST_SAT
