"""Statements: what a reserve's statement holds, and its four renderings (table, JSON, CSV, HTML).

``sample_statement`` is a month of El Salvador's reserve with one of each irregularity; the
browser test renders it too.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

from boveda.book.domain import Account, Entry, EntryKind, Posting, as_account
from boveda.reconcile import ChainTx, DiscrepancyKind, MovementKind, Owned, Reconciliation, reconcile
from boveda.report import (
    SeriesBasis,
    Statement,
    build_statement,
    holdings_by_source,
    holdings_by_wallet,
    render_csv,
    render_html,
    render_json,
    render_table,
)

BTC = 100_000_000
SV = Account.reserve("SV")
CASE = Account.custody("1:13-cr-00950")
DAY0 = date(2025, 8, 1)


def _txid(n: int) -> str:
    return f"{n:02x}" * 32


def sample_book() -> tuple[list[ChainTx], list[Entry]]:
    """A month of SV: daily purchases, three "purchases" that were consolidations, forfeited
    coins from a case, a split under a per-address cap, sharing with Germany, an outflow
    nobody booked, a coinjoin, an overstated purchase, an entry citing a phantom transaction,
    and a pledge booked with no transaction."""
    chain: list[ChainTx] = []
    entries: list[Entry] = []

    def add_tx(n: int, day: int, inputs, outputs, *, input_count=None, untracked_sat=0) -> str:
        ins = tuple(Owned(a, w, v) for a, w, v in inputs)
        outs = tuple(Owned(a, w, v) for a, w, v in outputs)
        chain.append(ChainTx(_txid(n), 905_000 + day * 144 + n, 1 + n % 50, DAY0 + timedelta(days=day),
                             input_count or max(len(ins), 1), len(outs) + (1 if untracked_sat else 0),
                             sum(o.value_sat for o in outs) + untracked_sat, ins, outs))
        return _txid(n)

    def add_entry(kind, day, postings, txids=(), authority=None, memo=None):
        entries.append(Entry(len(entries) + 1, kind, DAY0 + timedelta(days=day),
                             tuple(Posting(as_account(a), s) for a, s in postings), tuple(txids), authority, memo))

    def buy(amount_sat, txids, day, memo=None):
        add_entry(EntryKind.PURCHASE, day, [("external:exchange:bitfinex", -amount_sat), (SV, amount_sat)], txids,
                  memo=memo)

    t = add_tx(1, 0, [], [(SV, "sv-cold-1", 20 * BTC)], input_count=3, untracked_sat=70_000)
    buy(20 * BTC, [t], 0, memo="opening purchase")
    hot = 0
    for day in range(1, 15):
        t = add_tx(10 + day, day, [], [(SV, "sv-hot", BTC)], input_count=2, untracked_sat=31_337)
        hot += BTC
        buy(BTC, [t], day, memo="daily purchase")
    for n, day in ((40, 9), (41, 10), (42, 11)):  # recorded as purchases, on chain a consolidation
        t = add_tx(n, day, [(SV, "sv-hot", BTC)], [(SV, "sv-cold-2", BTC - 800)])
        hot -= BTC
        buy(BTC, [t], day, memo="daily purchase")
    t = add_tx(50, 12, [(CASE, "fbi-seized-1", 10 * BTC)], [(SV, "sv-cold-3", 10 * BTC - 2_000)])
    add_entry(EntryKind.FORFEITURE_TRANSFER, 12, [(CASE, -(10 * BTC - 2_000)), (SV, 10 * BTC - 2_000)], [t],
              authority="Final order of forfeiture, D.D.C. 13-cr-00950")
    add_tx(51, 16, [(SV, "sv-cold-1", 20 * BTC)], [(SV, "sv-cold-1", 10 * BTC), (SV, "sv-cold-4", 10 * BTC - 1_500)])
    t = add_tx(52, 18, [(SV, "sv-cold-3", 10 * BTC - 2_000)], [(SV, "sv-cold-3", 8 * BTC - 5_000)],
               untracked_sat=2 * BTC)
    add_entry(EntryKind.SHARING, 18, [(SV, -(2 * BTC + 3_000)), ("partner:DE", 2 * BTC), ("expense:fees", 3_000)],
              [t], authority="Asset-sharing agreement SV-DE 2025/3", memo="first tranche")
    add_tx(53, 20, [(SV, "sv-hot", BTC)], [(SV, "sv-hot", 3 * BTC // 4 - 900)], untracked_sat=BTC // 4)
    hot -= BTC
    add_tx(54, 22, [(SV, "sv-hot", 3 * BTC // 4 - 900)], [(SV, "sv-hot", 3 * BTC // 4 - 1_200)], input_count=6,
           untracked_sat=5 * BTC)
    t = add_tx(55, 24, [], [(SV, "sv-hot", BTC)], input_count=1, untracked_sat=4_000)
    buy(3 * BTC // 2, [t], 24, memo="purchase, amount as announced")
    buy(BTC, ["9f" * 32], 26, memo="purchase, settlement pending")
    add_entry(EntryKind.DONATION, 27, [("external:donor", -BTC // 2), (SV, BTC // 2)], authority="Decree 2025-17",
              memo="pledged donation")
    return chain, entries


def sample_reconciliation(height: int = 10**7) -> Reconciliation:
    chain, entries = sample_book()
    chain_sat = sum(o.value_sat for t in chain for o in t.outputs if o.account == SV) - sum(
        o.value_sat for t in chain for o in t.inputs if o.account == SV)
    book_sat = sum(p.amount_sat for e in entries for p in e.postings if p.account == SV)
    return reconcile("SV", height=height, block_hash_hex="00000000000000000001" + "a7" * 22, chain_txs=chain,
                     entries=entries, chain_balance_sat=chain_sat, book_balance_sat=book_sat)


def sample_statement(*, basis: SeriesBasis = SeriesBasis.WALLET) -> Statement:
    chain, entries = sample_book()
    recon = sample_reconciliation()
    by_wallet = holdings_by_wallet(SV, chain)
    series = by_wallet if basis is SeriesBasis.WALLET else holdings_by_source(SV, entries)
    return build_statement(recon, holdings_sat=by_wallet[-1][1], series=series, series_basis=basis,
                           period_from=date(2025, 8, 1), period_to=date(2025, 8, 31), block_date=date(2025, 8, 31),
                           reserve_name="El Salvador")


def test_the_sample_month_is_reconciled_as_planted():
    recon = sample_reconciliation()
    found = [(d.kind, d.txid_hex) for d in recon.discrepancies]
    assert found == [
        (DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL, _txid(40)),
        (DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL, _txid(41)),
        (DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL, _txid(42)),
        (DiscrepancyKind.UNRECORDED_OUTFLOW, _txid(53)),
        (DiscrepancyKind.MIXED_INPUTS, _txid(54)),
        (DiscrepancyKind.AMOUNT_MISMATCH, _txid(55)),
        (DiscrepancyKind.UNCONFIRMED_ENTRY, "9f" * 32),
    ]
    assert recon.has_critical
    transfer = next(m for m in recon.movements if m.txid_hex == _txid(50))
    assert (transfer.kind, transfer.counterparty, transfer.is_transfer) == (MovementKind.INFLOW, (CASE,), True)


def test_a_statement_holds_the_period_holdings_and_the_findings():
    s = sample_statement()
    assert s.holdings_total_sat == s.chain_balance_sat
    assert [h.wallet for h in s.holdings][:2] == ["sv-hot", "sv-cold-1"]  # largest first
    assert s.series[-1].values_sat == tuple({h.wallet: h.balance_sat for h in s.holdings}[w]
                                            for w in s.series_labels)
    counts = {k.kind: k.count for k in s.by_kind}
    assert counts == {MovementKind.INFLOW: 17, MovementKind.OUTFLOW: 2, MovementKind.INTERNAL: 4,
                      MovementKind.MIXED: 1}
    assert s.fees_sat == 800 * 3 + 1_500 + 3_000 + 900 + 0  # the coinjoin's fee is not SV's to count
    assert [j.entry_id for j in s.journal] == [len(sample_book()[1])]
    texts = [e.text for e in s.explanations]
    assert texts[0] == ("3.00000000 BTC recorded as purchases on 2025-08-10..2025-08-12 moved between SV's own "
                        "wallets (3 transactions).")
    assert any("left SV's wallets on 2025-08-21" in t for t in texts)
    narrow = build_statement(sample_reconciliation(), holdings_sat={}, period_from=date(2025, 8, 10),
                             period_to=date(2025, 8, 12))
    assert [m.txid_hex for m in narrow.movements] == [_txid(19), _txid(40), _txid(20), _txid(41), _txid(21),
                                                      _txid(42)]


def test_holdings_by_source_take_outflows_pro_rata_and_keep_the_total():
    X = Account.exchange("x")
    entries = [
        Entry(1, EntryKind.PURCHASE, DAY0, (Posting(X, -10), Posting(SV, 10)), ("aa" * 32,)),
        Entry(2, EntryKind.FORFEITURE_TRANSFER, DAY0 + timedelta(1), (Posting(CASE, -30), Posting(SV, 30)), ()),
        Entry(3, EntryKind.SALE, DAY0 + timedelta(2), (Posting(SV, -8), Posting(X, 8)), ()),
        Entry(4, EntryKind.SALE, DAY0 + timedelta(3), (Posting(SV, -7), Posting(X, 7)), ()),
    ]
    points = holdings_by_source(SV, entries)
    assert [p[1] for p in points] == [
        {"purchases": 10}, {"purchases": 10, "forfeitures": 30}, {"purchases": 8, "forfeitures": 24},
        {"purchases": 7, "forfeitures": 18},
    ]


def test_the_table_for_a_terminal():
    text = render_table(sample_statement())
    for heading in ("BOOK VS CHAIN", "FINDINGS IN PLAIN WORDS", "HOLDINGS AT HEIGHT", "MOVEMENTS", "DISCREPANCIES",
                    "JOURNAL ENTRIES CITING NO TRANSACTION"):
        assert heading in text
    assert "[critical] 3.00000000 BTC recorded as purchases" in text
    assert "Decree 2025-17" in text
    assert max(len(line) for line in text.splitlines() if not line.startswith("  20")) <= 140


def test_the_json_round_trips_and_keeps_satoshis():
    s = sample_statement()
    doc = json.loads(render_json(s))
    assert doc["format"] == 1 and doc["reserve"] == "SV" and doc["period"] == {"from": "2025-08-01",
                                                                               "to": "2025-08-31"}
    assert doc["chain_balance_sat"] == s.chain_balance_sat and isinstance(doc["chain_balance_sat"], int)
    assert len(doc["movements"]) == len(s.movements) and len(doc["discrepancies"]) == 7
    assert doc["explanations"][0]["severity"] == "critical"
    assert doc["series"]["basis"] == "wallet" and len(doc["series"]["labels"]) == 5


def test_the_csv_has_one_row_per_movement():
    s = sample_statement()
    rows = list(csv.DictReader(io.StringIO(render_csv(s))))
    assert len(rows) == len(s.movements) == 24
    consolidation = next(r for r in rows if r["txid"] == _txid(40))
    assert (consolidation["kind"], consolidation["amount_btc"], consolidation["fee_sat"],
            consolidation["discrepancies"]) == ("internal", "0.99999200", "800", "claimed_purchase_is_internal")
    inflow = next(r for r in rows if r["txid"] == _txid(50))
    assert (inflow["counterparty"], inflow["transfer"], inflow["fee_sat"]) == (str(CASE), "yes", "")


def test_the_html_is_one_self_contained_file_that_prints_on_a4():
    html = render_html(sample_statement(basis=SeriesBasis.SOURCE))
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html
    assert not re.search(r"(https?:|@import|url\(|<link rel=\"stylesheet|<img)", html)
    assert '<svg id="holdings-chart"' in html and '<svg id="kinds-chart"' in html
    assert "@page { size: A4" in html and "@media print" in html
    assert html.count('class="layer"') == 3  # purchases, forfeitures, donations
    assert "3.00000000 BTC recorded as purchases on 2025-08-10..2025-08-12" in html


def test_the_html_escapes_what_the_book_says():
    recon = reconcile("SV", height=1, block_hash_hex="00" * 32, chain_txs=[], entries=[
        Entry(1, EntryKind.DONATION, DAY0, (Posting(Account.parse("external:donor"), -5), Posting(SV, 5)), (),
              "Decree <b>17</b>", "<script>alert(1)</script> & co"),
    ], chain_balance_sat=0, book_balance_sat=5)
    html = render_html(build_statement(recon, holdings_sat={"<w>": 0}, reserve_name="El \"Salvador\" <i>"))
    assert "<script" not in html and "<b>" not in html and "<i>" not in html and "<w>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html and "Decree &lt;b&gt;17&lt;/b&gt;" in html


def test_an_empty_statement_renders_in_every_format():
    empty = reconcile("SV", height=1, block_hash_hex="00" * 32, chain_txs=[], entries=[], chain_balance_sat=0,
                      book_balance_sat=0)
    s = build_statement(empty, holdings_sat={})
    assert "None: every movement matches the book." in render_table(s)
    assert json.loads(render_json(s))["movements"] == []
    assert render_csv(s).count("\n") == 1
    html = render_html(s)
    assert "No holdings history to draw." in html and '<svg id="kinds-chart"' in html


def test_the_html_caps_the_movement_rows_and_points_to_the_csv():
    html = render_html(sample_statement(), max_movement_rows=5)
    assert "19 more movements are in the CSV statement." in html
