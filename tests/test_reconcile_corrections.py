"""Reconciliation of corrected entries (pure): an entry and its corrections are one claim of their net
amount; the finding the entry alone would raise is listed as resolved, citing the corrections."""

from __future__ import annotations

import dataclasses
from datetime import date

from test_reconcile import BTC, DAY, EXCHANGE, SV, US, D, entry, kinds, purchase, run, tx, txid

from boveda.book.domain import ACCOUNT_FEES, EntryKind, Posting
from boveda.reconcile import explain


def _adjust(entry_id: int, original, delta_sat: int, *, resolves: str | None = None):  # type: ignore[no-untyped-def]
    return dataclasses.replace(original, entry_id=entry_id, postings=(Posting(EXCHANGE, -delta_sat),
                                                                      Posting(SV, delta_sat)),
                               price_usd_cents=None, corrects_entry_id=original.entry_id, resolves=resolves,
                               effective_date=date(2025, 9, 1))


def _reverse(entry_id: int, original):  # type: ignore[no-untyped-def]
    return dataclasses.replace(original, entry_id=entry_id,
                               postings=tuple(Posting(p.account, -p.amount_sat) for p in original.postings),
                               corrects_entry_id=original.entry_id, effective_date=date(2025, 9, 1))


def test_an_adjusted_entry_matches_and_its_mismatch_is_resolved() -> None:
    chain = [tx(1, outputs=[(SV, "hot", BTC)])]
    wrong = purchase(1, 110_000_000, txid(1))
    assert kinds(run(chain, [wrong])) == [(D.AMOUNT_MISMATCH, txid(1))]
    fix = _adjust(2, wrong, -10_000_000, resolves="amount_mismatch")
    result = run(chain, [wrong, fix])
    assert kinds(result) == []  # no duplicate citation either: the correction is part of #1's claim
    (resolved,) = result.resolved
    assert (resolved.discrepancy.kind, resolved.discrepancy.entry_id) == (D.AMOUNT_MISMATCH, 1)
    assert resolved.correction_entry_ids == (2,) and resolved.resolves == ("amount_mismatch",)
    assert result.totals.entry_kind_sat(EntryKind.PURCHASE) == BTC
    assert result.to_json()["resolved"][0]["correction_entry_ids"] == [2]
    assert any(s.startswith("Resolved: entry #1 recorded +1.10000000 BTC") for s in explain(result))
    assert "resolved" not in run(chain, [purchase(1, BTC, txid(1))]).to_json()


def test_a_wrong_adjustment_still_disagrees_and_resolves_nothing() -> None:
    chain = [tx(1, outputs=[(SV, "hot", BTC)])]
    wrong = purchase(1, 110_000_000, txid(1))
    result = run(chain, [wrong, _adjust(2, wrong, -5_000_000)])
    (mismatch,) = result.discrepancies
    assert mismatch.kind is D.AMOUNT_MISMATCH and mismatch.book_amount_sat == 105_000_000
    assert result.resolved == ()


def test_a_reversed_purchase_leaves_matching_and_resolves_its_claim() -> None:
    # On chain a move between two of SV's wallets, booked as a purchase; the purchase is reversed and the
    # move recorded as what it was.
    move = tx(1, inputs=[(SV, "hot", 3 * BTC)], outputs=[(SV, "cold", 3 * BTC - 1_000)])
    booked = purchase(1, 3 * BTC, txid(1))
    assert kinds(run([move], [booked])) == [(D.CLAIMED_PURCHASE_IS_INTERNAL, txid(1))]
    internal = entry(3, EntryKind.INTERNAL_TRANSFER, [(SV, -(3 * BTC - 1_000) - 1_000), (SV, 3 * BTC - 1_000),
                                                      (ACCOUNT_FEES, 1_000)], txid(1))
    internal = dataclasses.replace(internal, from_wallet="hot", to_wallet="cold")
    result = run([move], [booked, _reverse(2, booked), internal])
    assert kinds(result) == []
    (resolved,) = result.resolved
    assert resolved.discrepancy.kind is D.CLAIMED_PURCHASE_IS_INTERNAL and resolved.correction_entry_ids == (2,)
    assert result.totals.entry_kind_sat(EntryKind.PURCHASE) == 0


def test_a_reversed_entry_whose_coins_did_arrive_is_an_unrecorded_inflow_again() -> None:
    chain = [tx(1, outputs=[(SV, "hot", BTC)])]
    booked = purchase(1, BTC, txid(1))
    result = run(chain, [booked, _reverse(2, booked)])
    assert kinds(result) == [(D.UNRECORDED_INFLOW, txid(1))]
    assert result.resolved == ()


def test_corrections_of_a_transfer_seen_from_the_other_side() -> None:
    chain = [tx(1, inputs=[(SV, "hot", 2 * BTC)], outputs=[(US, "vault", BTC), (SV, "change", BTC - 500)])]
    wrong = entry(1, EntryKind.INTERNAL_TRANSFER, [(SV, -(2 * BTC) - 500), (US, 2 * BTC), (ACCOUNT_FEES, 500)], txid(1))
    fix = dataclasses.replace(wrong, entry_id=2, postings=(Posting(SV, BTC), Posting(US, -BTC)), corrects_entry_id=1,
                              effective_date=DAY)
    assert kinds(run(chain, [wrong], account=US)) == [(D.AMOUNT_MISMATCH, txid(1))]
    for account in (SV, US):
        result = run(chain, [wrong, fix], account=account)
        assert kinds(result) == [] and [r.discrepancy.kind for r in result.resolved] == [D.AMOUNT_MISMATCH]
