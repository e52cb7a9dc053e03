"""Coin selection: branch-and-bound for a change-free spend, then a simple fallback with change.

Written here rather than taken from a library: no maintained Python package implements Bitcoin
Core's selection (python-bitcoinlib, embit and bdkpython's bindings either select nothing or select
inside a wallet that holds keys), and the algorithm is short. Branch-and-bound is Core's
``SelectCoinsBnB`` (Murch's depth-first search over effective values, 100,000 tries), with the
long-term fee rate taken equal to the current one so the waste metric is the excess alone. When
it finds nothing, the fallback takes the smallest single coin that covers the target and a change
output, else the largest coins first until they do.

Sizes are in weight units, so a taproot input's 57.5 vbytes costs what it weighs; the fee is
``ceil(weight × rate / 4000)`` for a rate in sat/kvB.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from boveda.spend.errors import PolicyRefusal

BNB_MAX_TRIES = 100_000
DUST_SAT = 546  # below this a change output is not worth making (Core's dust limit for P2PKH, the largest)
TX_OVERHEAD_WEIGHT = 4 * (4 + 4 + 1 + 1) + 2  # version, locktime, input and output counts, segwit marker+flag


def fee_for(weight: int, rate_sat_kvb: int) -> int:
    return -(-weight * rate_sat_kvb // 4000)


def output_weight(script_pubkey_len: int) -> int:
    return 4 * (8 + 1 + script_pubkey_len)


@dataclass(frozen=True, slots=True)
class SelectionRequest:
    """What to pay and what it costs: ``values_sat`` are the candidate coins' values."""

    values_sat: Sequence[int]
    amount_sat: int  # what the recipient gets; ignored when ``sweep``
    rate_sat_kvb: int
    input_weight: int  # of one signed input of the wallet
    fixed_weight: int  # overhead and the recipient's output
    change_weight: int  # one change output
    sweep: bool = False  # spend every coin, no change: the amount is what is left after the fee


@dataclass(frozen=True, slots=True)
class Selection:
    indexes: tuple[int, ...]  # into ``values_sat``
    amount_sat: int
    fee_sat: int
    change_sat: int  # 0: no change output
    algorithm: str  # "bnb", "single", "largest-first" or "sweep"


def select(request: SelectionRequest) -> Selection:
    """The coins to spend, the fee and the change; PolicyRefusal (amount-available) when they do not suffice."""
    r = request
    per_input_fee = fee_for(r.input_weight, r.rate_sat_kvb)
    if r.sweep:
        indexes = tuple(i for i, v in enumerate(r.values_sat) if v > per_input_fee)
        total = sum(r.values_sat[i] for i in indexes)
        fee = fee_for(r.fixed_weight + r.input_weight * len(indexes), r.rate_sat_kvb)
        if not indexes or total - fee < DUST_SAT:
            raise PolicyRefusal("amount-available", f"the wallet's spendable coins ({total} sat) do not cover the "
                                                    f"fee ({fee} sat) and a payment")
        return Selection(indexes, total - fee, fee, 0, "sweep")
    target = r.amount_sat + fee_for(r.fixed_weight, r.rate_sat_kvb)
    change_fee = fee_for(r.change_weight, r.rate_sat_kvb)
    cost_of_change = change_fee + per_input_fee  # making the change now, spending it later
    effective = [v - per_input_fee for v in r.values_sat]
    order = sorted((i for i, e in enumerate(effective) if e > 0), key=effective.__getitem__, reverse=True)
    pool = [effective[i] for i in order]  # largest first
    available = sum(pool)
    if available < target:
        raise PolicyRefusal("amount-available", f"the wallet's spendable coins give {max(available, 0)} sat after "
                                                f"their fees; the payment and its fee need {target} sat")
    found = _branch_and_bound(pool, target, cost_of_change)
    if found is not None:
        return _finish(r, tuple(sorted(order[p] for p in found)), change=False, algorithm="bnb")
    wanted = target + change_fee + DUST_SAT
    covering = bisect.bisect_right(pool, -wanted, key=operator.neg)  # how many coins cover it alone
    if covering:
        return _finish(r, (order[covering - 1],), change=True, algorithm="single")  # the smallest of them
    total = 0
    for taken, value in enumerate(pool, start=1):
        total += value
        if total >= wanted:
            return _finish(r, tuple(sorted(order[:taken])), change=True, algorithm="largest-first")
    return _finish(r, tuple(sorted(order)), change=False, algorithm="largest-first")


def _finish(r: SelectionRequest, indexes: tuple[int, ...], *, change: bool, algorithm: str) -> Selection:
    total = sum(r.values_sat[i] for i in indexes)
    weight = r.fixed_weight + r.input_weight * len(indexes)
    if change:
        fee = fee_for(weight + r.change_weight, r.rate_sat_kvb)
        change_sat = total - r.amount_sat - fee
        if change_sat >= DUST_SAT:
            return Selection(indexes, r.amount_sat, fee, change_sat, algorithm)
    fee = total - r.amount_sat  # no change: whatever is left over goes to the miners
    if fee < fee_for(weight, r.rate_sat_kvb):
        raise PolicyRefusal("amount-available", f"the wallet's coins ({total} sat) do not cover "
                                                f"{r.amount_sat} sat and the fee")
    return Selection(indexes, r.amount_sat, fee, 0, algorithm)


def _branch_and_bound(effective: Sequence[int], target: int, cost_of_change: int) -> list[int] | None:
    """Positions (in ``effective``, sorted largest first) of a subset summing to target..target+cost_of_change
    with the least excess, or None. Bitcoin Core's SelectCoinsBnB, depth first, bounded in tries."""
    remaining = sum(effective)
    value = 0
    selection: list[int] = []
    best: list[int] | None = None
    best_excess = cost_of_change + 1
    position = 0
    for _ in range(BNB_MAX_TRIES):
        backtrack = False
        if value + remaining < target or value > target + cost_of_change:
            backtrack = True
        elif value >= target:
            if value - target < best_excess:
                best, best_excess = list(selection), value - target
                if best_excess == 0:
                    break
            backtrack = True
        if backtrack:
            if not selection:
                break
            position -= 1
            while position > selection[-1]:  # the coins skipped after the last one taken come back
                remaining += effective[position]
                position -= 1
            value -= effective[position]  # now try the branch without it
            selection.pop()
        else:
            remaining -= effective[position]
            # Skipping a coin equal to one just skipped explores the same subsets again.
            if not selection or position - 1 == selection[-1] or effective[position] != effective[position - 1]:
                selection.append(position)
                value += effective[position]
        position += 1  # at the end nothing remains to add, so the next step backtracks
    return best
