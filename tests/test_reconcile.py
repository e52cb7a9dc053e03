"""Reconciliation: movement classification by its definitions (docs/design.md), matching with the
journal, each discrepancy kind found when planted and nothing flagged when the book matches."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind, Posting, as_account
from boveda.reconcile import (
    EXTERNAL,
    ChainTx,
    DiscrepancyKind,
    Movement,
    MovementKind,
    Owned,
    ReconcileError,
    Severity,
    classify,
    classify_account,
    explain,
    reconcile,
    reconcile_account,
)

BTC = 100_000_000
SV = Account.reserve("SV")
US = Account.reserve("US-SBR")
CASE = Account.custody("1:13-cr-00950")
EXCHANGE = Account.exchange("bitfinex")
TRACKED = (SV, US, CASE)
DAY = date(2025, 8, 1)
K, D = MovementKind, DiscrepancyKind


def txid(n: int) -> str:
    return f"{n:064x}"


def tx(n: int, inputs=(), outputs=(), *, input_count=None, output_total_sat=None, untracked_out_sat=0,
       output_count=None, height=None, day=None) -> ChainTx:
    """A transaction: ``inputs``/``outputs`` are (account, wallet, value_sat) of tracked wallets."""
    ins = tuple(Owned(*i) for i in inputs)
    outs = tuple(Owned(*o) for o in outputs)
    total = output_total_sat if output_total_sat is not None else sum(o.value_sat for o in outs) + untracked_out_sat
    return ChainTx(
        txid(n), height if height is not None else 100 + n, 1, day or DAY + timedelta(days=n),
        input_count if input_count is not None else max(len(ins), 1),
        output_count if output_count is not None else len(outs) + (1 if untracked_out_sat else 0),
        total, ins, outs,
    )


def entry(entry_id: int, kind: EntryKind, postings, *txids: str, day: date | None = None) -> Entry:
    return Entry(entry_id, kind, day or DAY, tuple(Posting(as_account(a), s) for a, s in postings), tuple(txids))


def purchase(entry_id: int, amount_sat: int, *txids: str, day: date | None = None) -> Entry:
    return entry(entry_id, EntryKind.PURCHASE, [(EXCHANGE, -amount_sat), (SV, amount_sat)], *txids, day=day)


def run(chain, entries, *, height=10**6, account=SV, chain_balance_sat=0, book_balance_sat=0):
    return reconcile_account(account, height=height, block_hash_hex="ab" * 32, chain_txs=chain, entries=entries,
                             chain_balance_sat=chain_balance_sat, book_balance_sat=book_balance_sat,
                             reserve="SV" if account == SV else None)


def kinds(result) -> list[tuple[DiscrepancyKind, str | None]]:
    return [(d.kind, d.txid_hex) for d in result.discrepancies]


# -- classification: hypothesis over random transactions with random ownership ------------------


@st.composite
def random_tx(draw, n: int = 0) -> tuple[ChainTx, list[Account | None], list[int], list[Account | None], list[int],
                                         int]:
    """A transaction over random owners (``None`` = a script no book tracks), with its fee."""
    owners = st.sampled_from((*TRACKED, None))
    n_in = draw(st.integers(1, 5))
    in_owners = draw(st.lists(owners, min_size=n_in, max_size=n_in))
    in_values = draw(st.lists(st.integers(1, 50 * BTC), min_size=n_in, max_size=n_in))
    fee = draw(st.integers(0, min(sum(in_values), 100_000)))
    n_out = draw(st.integers(1, 5))
    rest = sum(in_values) - fee
    cuts = sorted(draw(st.lists(st.integers(0, rest), min_size=n_out - 1, max_size=n_out - 1)))
    out_values = [b - a for a, b in zip([0, *cuts], [*cuts, rest])]
    out_owners = draw(st.lists(owners, min_size=n_out, max_size=n_out))
    chain_tx = ChainTx(
        txid(n), 800_000 + n, n % 7, DAY + timedelta(days=n % 30), n_in, n_out, rest,
        tuple(Owned(o, f"w{i}", v) for i, (o, v) in enumerate(zip(in_owners, in_values)) if o),
        tuple(Owned(o, f"w{i}", v) for i, (o, v) in enumerate(zip(out_owners, out_values)) if o),
    )
    return chain_tx, in_owners, in_values, out_owners, out_values, fee


@settings(max_examples=400, deadline=None)
@given(random_tx(), st.sampled_from(TRACKED))
def test_classification_satisfies_its_definitions(drawn, account):
    chain_tx, in_owners, in_values, out_owners, out_values, fee = drawn
    in_r = sum(v for o, v in zip(in_owners, in_values) if o == account)
    out_r = sum(v for o, v in zip(out_owners, out_values) if o == account)
    n_in_r = sum(1 for o in in_owners if o == account)
    all_inputs_r = n_in_r == len(in_owners)
    others_out = sum(out_values) - out_r
    m = classify_account(account, chain_tx)

    predicates = {
        K.INFLOW: n_in_r == 0 and out_r > 0,
        K.OUTFLOW: n_in_r > 0 and all_inputs_r and others_out > 0,
        K.INTERNAL: n_in_r > 0 and all_inputs_r and others_out == 0,
        K.MIXED: 0 < n_in_r < len(in_owners),
    }
    assert sum(predicates.values()) <= 1  # the kinds exclude each other
    if not any(predicates.values()):
        assert m is None and in_r == 0 and out_r == 0
        return
    assert m is not None and predicates[m.kind]  # exactly one kind, the one whose definition holds
    assert (m.in_sat, m.out_sat, m.txid_hex, m.height) == (in_r, out_r, chain_tx.txid_hex, chain_tx.height)
    if m.kind is K.INFLOW:
        assert (m.amount_sat, m.fee_sat) == (out_r, None)
    elif m.kind is K.OUTFLOW:
        assert (m.amount_sat, m.fee_sat) == (others_out, fee)
        assert in_r == m.amount_sat + out_r + m.fee_sat  # inputs = outputs + fee
    elif m.kind is K.INTERNAL:
        assert (m.amount_sat, m.fee_sat) == (out_r, fee)
        assert in_r == m.amount_sat + m.fee_sat
        assert m.counterparty == (account,)
    else:
        assert (m.amount_sat, m.fee_sat) == (out_r - in_r, None)
    if m.kind in (K.INFLOW, K.MIXED):
        far = {o for o in in_owners if o != account}
    elif m.kind is K.OUTFLOW:
        far = {o for o, v in zip(out_owners, out_values) if o != account and (o or v)}
    else:
        far = set()
    if m.kind is not K.INTERNAL:
        tracked_far = sorted((o for o in far if o), key=str)
        expected = (*tracked_far, EXTERNAL) if None in far and tracked_far else (tuple(tracked_far) or (EXTERNAL,))
        assert m.counterparty == expected
        assert m.is_transfer == bool(tracked_far)


@settings(max_examples=100, deadline=None)
@given(random_tx())
def test_a_transaction_is_one_movement_per_holding_and_paired_sides_agree(drawn):
    chain_tx, *_ = drawn
    seen = {a: classify_account(a, chain_tx) for a in TRACKED}
    for a, m in seen.items():
        if m is None or m.kind is not K.INFLOW or m.counterparty == (EXTERNAL,):
            continue
        # An inflow from a single tracked holding is that holding's outflow (or mixed) in the same transaction.
        for source in m.counterparty:
            if source in TRACKED:
                other = seen[source]
                assert other is not None and other.kind in (K.OUTFLOW, K.MIXED)
                if other.kind is K.OUTFLOW:
                    assert a in other.counterparty


def test_classify_takes_a_reserve_code_and_the_worked_examples():
    purchase_tx = tx(1, [], [(SV, "sv-1", BTC)], input_count=2, untracked_out_sat=5_000)
    consolidation = tx(2, [(SV, "a", BTC), (SV, "b", 2 * BTC)], [(SV, "cold", 3 * BTC - 700)])
    sale = tx(3, [(SV, "hot", 5 * BTC)], [(SV, "hot", BTC)], untracked_out_sat=4 * BTC - 1_000)
    coinjoin = tx(4, [(SV, "hot", BTC)], [(SV, "hot", BTC - 300)], input_count=5, untracked_out_sat=4 * BTC)
    op_return_consolidation = tx(5, [(SV, "a", BTC)], [(SV, "b", BTC - 500)], output_count=2)
    got = [classify("SV", t) for t in (purchase_tx, consolidation, sale, coinjoin, op_return_consolidation)]
    assert [(m.kind, m.amount_sat, m.fee_sat, m.counterparty) for m in got] == [
        (K.INFLOW, BTC, None, (EXTERNAL,)),
        (K.INTERNAL, 3 * BTC - 700, 700, (SV,)),
        (K.OUTFLOW, 4 * BTC - 1_000, 1_000, (EXTERNAL,)),
        (K.MIXED, -300, None, (EXTERNAL,)),
        (K.INTERNAL, BTC - 500, 500, (SV,)),
    ]
    assert classify("US-SBR", purchase_tx) is None


def test_a_transfer_between_two_tracked_books_is_one_transfer_seen_from_both_sides():
    allocation = tx(1, [(CASE, "fbi-1", 10 * BTC)], [(US, "sbr-cold", 10 * BTC - 2_000)])
    seized_side = classify_account(CASE, allocation)
    reserve_side = classify("US-SBR", allocation)
    assert (seized_side.kind, seized_side.amount_sat, seized_side.fee_sat, seized_side.counterparty) == (
        K.OUTFLOW, 10 * BTC - 2_000, 2_000, (US,))
    assert (reserve_side.kind, reserve_side.amount_sat, reserve_side.counterparty) == (
        K.INFLOW, 10 * BTC - 2_000, (CASE,))
    assert seized_side.is_transfer and reserve_side.is_transfer
    assert seized_side.txid_hex == reserve_side.txid_hex


def test_a_counterparty_is_a_tuple_of_parties_printed_joined_at_the_edge():
    both = tx(1, [(CASE, "fbi-1", BTC), (US, "sbr", BTC)], [(SV, "sv-1", 2 * BTC - 500)], input_count=3)
    m = classify("SV", both)
    assert m.counterparty == (CASE, US, EXTERNAL)  # tracked ones in the order of their text, EXTERNAL last
    assert m.to_json()["counterparty"] == "custody:1:13-cr-00950,reserve:US-SBR,external"
    (finding,) = run([both], []).discrepancies
    assert finding.counterparty == m.counterparty
    assert finding.to_json()["counterparty"] == m.to_json()["counterparty"]


def test_contradictory_chain_facts_are_refused():
    with pytest.raises(ReconcileError, match="exceed its inputs"):
        classify("SV", tx(1, [(SV, "a", BTC)], [(SV, "b", 2 * BTC)]))
    with pytest.raises(ReconcileError, match="more tracked inputs"):
        classify("SV", tx(1, [(SV, "a", BTC), (SV, "b", BTC)], [(SV, "c", BTC)], input_count=1))
    with pytest.raises(ReconcileError, match="twice"):
        run([tx(1, [], [(SV, "a", BTC)]), tx(1, [], [(SV, "a", BTC)])], [])


def test_a_movement_is_an_ordinary_frozen_value():
    m = run([tx(1, [], [(SV, "a", 5)])], [purchase(3, 5, txid(1))]).movements[0]
    fields = (txid(1), 101, 1, DAY + timedelta(days=1), K.INFLOW, 5, None, 0, 5, (EXTERNAL,), 3, (3,))
    assert type(m) is Movement and m == Movement(*fields) and hash(m) == hash(Movement(*fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.amount_sat = 6


# -- matching: a book that mirrors the chain, then planted irregularities -----------------------


@st.composite
def mirrored_book(draw):
    """Random transactions of SV with a book that records each as an honest bookkeeper would."""
    count = draw(st.integers(1, 25))
    chain, entries = [], []
    for n in range(1, count + 1):
        chain_tx = draw(random_tx(n))[0]
        chain.append(chain_tx)
        m = classify_account(SV, chain_tx)
        if m is None:
            continue
        eid = len(entries) + 1
        if m.kind is K.INFLOW:
            source = m.counterparty[0]
            if EXTERNAL in m.counterparty:
                entries.append(purchase(eid, m.amount_sat, m.txid_hex))
            elif m.amount_sat:
                entries.append(entry(eid, EntryKind.INTERNAL_TRANSFER, [(source, -m.amount_sat), (SV, m.amount_sat)],
                                     m.txid_hex))
        elif m.kind is K.OUTFLOW:
            book_fee = draw(st.booleans()) and m.fee_sat > 0
            postings = [(SV, -(m.amount_sat + (m.fee_sat if book_fee else 0))), ("external:exchange:bitso", m.amount_sat)]
            if book_fee:
                postings.append(("expense:fees", m.fee_sat))
            if m.amount_sat:
                entries.append(entry(eid, EntryKind.SALE, postings, m.txid_hex))
        elif m.kind is K.INTERNAL and m.fee_sat and draw(st.booleans()):
            entries.append(entry(eid, EntryKind.FEE, [(SV, -m.fee_sat), ("expense:fees", m.fee_sat)], m.txid_hex))
    return chain, entries


def _movements(chain):
    return [m for m in (classify("SV", t) for t in chain) if m is not None]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mirrored_book())
def test_nothing_is_flagged_when_the_book_matches_the_chain(book):
    chain, entries = book
    chain_sat = sum(m.delta_sat for m in _movements(chain))
    book_sat = sum(p.amount_sat for e in entries for p in e.postings if p.account == SV)
    result = run(chain, entries, chain_balance_sat=chain_sat, book_balance_sat=book_sat)
    mixed = [m.txid_hex for m in result.movements if m.kind is K.MIXED]
    assert kinds(result) == [(D.MIXED_INPUTS, t) for t in mixed]
    assert not result.has_critical
    t = result.totals
    # The amounts balance: the chain's change is inflows − outflows − fees + mixed nets.
    assert chain_sat == t.inflow_sat - t.outflow_sat - t.fees_sat + t.mixed_net_sat
    if not mixed:
        assert result.balance_difference_sat == t.fees_unbooked_sat  # fees the book left out, nothing else
        assert explain(result) == ()
    for m in result.movements:
        cited = [e.entry_id for e in entries if m.txid_hex in e.txids]
        assert m.entry_ids == tuple(cited) and m.entry_id == (cited[0] if cited else None)
    # A pure function of the two sets: neither the chain's order nor the journal's changes a finding.
    assert _same(result, run(chain[::-1], entries[::-1], chain_balance_sat=chain_sat, book_balance_sat=book_sat))


def _same(a, b) -> bool:
    return (a.movements, sorted(a.discrepancies, key=repr), a.totals) == (
        b.movements, sorted(b.discrepancies, key=repr), b.totals)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mirrored_book(), st.data())
def test_a_planted_irregularity_is_found_and_nothing_else(book, data):
    chain, entries = book
    moves = {m.txid_hex: m for m in _movements(chain)}
    recorded = {e.txids[0]: e for e in entries}
    candidates = []
    for t, m in moves.items():
        e = recorded.get(t)
        if m.kind in (K.INFLOW, K.OUTFLOW) and e is not None:
            candidates += [("drop", t), ("skew", t), ("unconfirmed", t)]
        if m.kind is K.INTERNAL:
            candidates.append(("as_purchase", t))
    if not candidates:
        return
    how, target = data.draw(st.sampled_from(candidates))
    m = moves[target]
    kept = [e for e in entries if target not in e.txids]
    planted_id = 1000
    expected = {t: [(D.MIXED_INPUTS, t)] for t, mv in moves.items() if mv.kind is K.MIXED}
    if how == "drop":
        entries = kept
        expected[target] = [(D.UNRECORDED_INFLOW if m.kind is K.INFLOW else D.UNRECORDED_OUTFLOW, target)]
    elif how == "skew":
        old = recorded[target]
        # A skew of the fee itself is no irregularity: an entry may book the movement with or without its fee.
        skew = data.draw(st.integers(1, BTC).filter(lambda s: s != m.fee_sat)
                         .map(lambda s: s * data.draw(st.sampled_from((1, -1)))))
        postings = tuple(Posting(p.account, p.amount_sat + skew) if p.account == SV else
                         Posting(p.account, p.amount_sat - skew) if p.account != ACCOUNT_FEES else p
                         for p in old.postings)
        entries = [*kept, dataclasses.replace(old, postings=postings)]
        expected[target] = [(D.AMOUNT_MISMATCH, target)]
    elif how == "unconfirmed":
        ghost = "f" * 64
        entries = [*kept, dataclasses.replace(recorded[target], txids=(ghost,))]
        expected[target] = [(D.UNRECORDED_INFLOW if m.kind is K.INFLOW else D.UNRECORDED_OUTFLOW, target)]
        expected[ghost] = [(D.UNCONFIRMED_ENTRY, ghost)]
    else:
        entries = [*kept, purchase(planted_id, m.amount_sat, target)]
        expected[target] = [(D.CLAIMED_PURCHASE_IS_INTERNAL, target)]
    result = run(chain, entries)
    assert sorted(kinds(result)) == sorted(x for found in expected.values() for x in found)
    planted = [kind for kind, _ in expected[target]]
    assert result.has_critical == any(kind.severity is Severity.CRITICAL for kind in planted)
    assert _same(result, run(chain[::-1], entries[::-1]))


def test_every_purchase_that_was_a_consolidation_is_reported_as_such():
    """The IMF's finding, in miniature: 20 daily "purchases" of 1 BTC that only moved SV's coins around."""
    chain, entries = [], []
    for n in range(1, 21):
        day = DAY + timedelta(days=n - 1)
        chain.append(tx(n, [(SV, f"sv-{n}", BTC // 2 + 900), (SV, f"sv-{n + 100}", BTC // 2)],
                        [(SV, "sv-cold", BTC + 0)], output_total_sat=BTC, day=day))
        entries.append(purchase(n, BTC, txid(n), day=day))
    result = run(chain, entries, chain_balance_sat=20 * BTC, book_balance_sat=40 * BTC)
    assert [d.kind for d in result.discrepancies] == [D.CLAIMED_PURCHASE_IS_INTERNAL] * 20
    assert [d.txid_hex for d in result.discrepancies] == [txid(n) for n in range(1, 21)]
    assert all(d.severity is Severity.CRITICAL and d.amount_sat == BTC for d in result.discrepancies)
    assert result.has_critical
    assert [m.kind for m in result.movements] == [K.INTERNAL] * 20
    assert result.totals.entry_kind_sat(EntryKind.PURCHASE) == 20 * BTC
    assert result.totals.inflow_sat == 0
    sentences = explain(result)
    assert sentences[0] == ("20.00000000 BTC recorded as purchases on 2025-08-01..2025-08-20 moved between SV's own "
                            "wallets (20 transactions).")
    assert "the book is 20.00000000 BTC higher" in sentences[1]


def test_a_purchase_whose_coins_came_from_another_tracked_holding_is_not_a_purchase():
    chain = [tx(1, [(CASE, "fbi-1", 2 * BTC)], [(SV, "sv-1", 2 * BTC - 1_000)])]
    result = run(chain, [purchase(1, 2 * BTC - 1_000, txid(1))])
    (found,) = result.discrepancies
    assert found.kind is D.CLAIMED_PURCHASE_IS_INTERNAL and found.counterparty == (CASE,)
    assert "came from custody:1:13-cr-00950, another tracked holding" in explain(result)[0]


def test_fees_booked_apart_several_transactions_and_several_entries_are_compared_as_a_whole():
    chain = [
        tx(1, [], [(SV, "a", BTC)]),
        tx(2, [], [(SV, "b", 2 * BTC)]),
        tx(3, [(SV, "a", BTC)], [(SV, "a", BTC // 2)], untracked_out_sat=BTC // 2 - 1_000),
        tx(4, [(SV, "a", BTC // 2), (SV, "b", 2 * BTC)], [(SV, "cold", 5 * BTC // 2 - 400)]),
    ]
    entries = [
        purchase(1, 3 * BTC, txid(1), txid(2)),  # one purchase delivered in two transactions
        entry(2, EntryKind.SALE, [(SV, -(BTC // 2 - 1_000)), ("external:exchange:bitso", BTC // 2 - 1_000)], txid(3)),
        entry(3, EntryKind.FEE, [(SV, -1_000), ("expense:fees", 1_000)], txid(3)),  # its fee, booked apart
        entry(4, EntryKind.FEE, [(SV, -400), ("expense:fees", 400)], txid(4)),
    ]
    result = run(chain, entries)
    assert result.discrepancies == ()
    assert [(m.entry_id, m.entry_ids) for m in result.movements] == [(1, (1,)), (1, (1,)), (2, (2, 3)), (4, (4,))]
    assert (result.totals.fees_sat, result.totals.fees_unbooked_sat, result.totals.book_fees_sat) == (1_400, 0, 1_400)
    assert result.matched_entry_count == 4


def test_entries_the_chain_cannot_confirm():
    chain = [tx(1, [], [(US, "sbr", BTC)]), tx(2, [], [(SV, "a", BTC)], height=900)]
    entries = [
        purchase(1, BTC, txid(1)),  # confirmed, but it paid another reserve
        purchase(2, BTC, txid(2)),  # confirmed only above the statement height
        purchase(3, BTC, "e" * 64),  # never seen
        entry(4, EntryKind.DONATION, [("external:donor", -BTC), (SV, BTC)]),  # book-only: neither matched nor flagged
        entry(5, EntryKind.PURCHASE, [(EXCHANGE, -BTC), (US, BTC)], txid(1)),  # another reserve's entry
    ]
    result = run(chain, entries, height=500)
    assert kinds(result) == [(D.AMOUNT_MISMATCH, txid(1)), (D.UNCONFIRMED_ENTRY, txid(2)),
                             (D.UNCONFIRMED_ENTRY, "e" * 64)]
    mismatch = result.discrepancies[0]
    assert "the chain shows no coin of reserve:SV moving" in mismatch.detail
    assert (mismatch.book_amount_sat, mismatch.chain_amount_sat, mismatch.amount_sat) == (BTC, 0, BTC)
    assert [e.entry_id for e in result.book_only_entries] == [4]
    assert result.movements == ()
    assert result.totals.entry_kind_sat(EntryKind.DONATION) == BTC


def test_mixed_inputs_are_always_for_review_and_their_entries_are_not_judged():
    coinjoin = tx(1, [(SV, "hot", BTC)], [(SV, "hot", BTC - 300)], input_count=5, untracked_out_sat=4 * BTC)
    for entries in ([], [entry(1, EntryKind.FEE, [(SV, -300), ("expense:fees", 300)], txid(1))]):
        result = run([coinjoin], entries)
        assert [(d.kind, d.severity) for d in result.discrepancies] == [(D.MIXED_INPUTS, Severity.REVIEW)]
        assert not result.has_critical
        assert "need review" in explain(result)[0]


def test_a_skewed_sale_is_measured_against_the_chain_with_its_fee():
    chain = [tx(1, [(SV, "hot", 2 * BTC)], [(SV, "hot", BTC // 2)], untracked_out_sat=3 * BTC // 2 - 1_000)]
    sale = entry(1, EntryKind.SALE, [(SV, -BTC), ("external:exchange:bitso", BTC)], txid(1))
    (found,) = run(chain, [sale]).discrepancies
    assert found.kind is D.AMOUNT_MISMATCH and found.severity is Severity.CRITICAL
    assert (found.book_amount_sat, found.chain_amount_sat, found.amount_sat) == (-BTC, -(3 * BTC // 2 - 1_000),
                                                                                BTC // 2 - 1_000)


def test_the_json_has_the_documented_fields():
    chain = [tx(1, [], [(SV, "a", BTC)]), tx(2, [(SV, "a", BTC)], [], untracked_out_sat=BTC - 500)]
    result = reconcile("SV", height=10**6, block_hash_hex="cd" * 32, chain_txs=chain,
                       entries=[purchase(1, BTC, txid(1))], chain_balance_sat=0, book_balance_sat=BTC)
    doc = json.loads(json.dumps(result.to_json()))
    assert {"reserve", "height", "block_hash", "chain_balance_sat", "book_balance_sat", "movements", "discrepancies",
            "totals"} <= doc.keys()
    assert doc["reserve"] == "SV" and doc["block_hash"] == "cd" * 32
    assert {"txid", "height", "kind", "amount_sat", "fee_sat", "counterparty", "entry_id"} <= doc["movements"][0].keys()
    assert doc["movements"][1]["entry_id"] is None
    assert doc["discrepancies"] == [{**doc["discrepancies"][0], "kind": "unrecorded_outflow", "severity": "critical",
                                     "txid": txid(2), "amount_sat": BTC - 500}]
    assert {"inflow_sat", "outflow_sat", "internal_sat", "fees_sat", "purchase_sat", "sale_sat",
            "forfeiture_transfer_sat"} <= doc["totals"].keys()
    assert (doc["totals"]["inflow_sat"], doc["totals"]["outflow_sat"], doc["totals"]["fees_sat"],
            doc["totals"]["purchase_sat"]) == (BTC, BTC - 500, 500, BTC)


def test_explain_groups_like_findings_in_plain_sentences():
    chain = [tx(n, [(SV, "hot", BTC)], [], untracked_out_sat=BTC - 100) for n in (1, 2)]
    chain += [tx(3, [], [(SV, "a", 5 * BTC)], input_count=3)]
    result = run(chain, [], chain_balance_sat=0, book_balance_sat=0)
    assert explain(result) == (
        ("1.99999800 BTC left SV's wallets on 2025-08-02..2025-08-03 to addresses outside the book with no "
         "authorising entry in the book (2 transactions)."),
        ("5.00000000 BTC arrived in SV's wallets on 2025-08-04 from addresses outside the book with no entry in "
         f"the book (1 transaction, {txid(3)[:12]}…)."),
    )
