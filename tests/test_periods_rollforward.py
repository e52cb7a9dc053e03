"""The roll-forward's and the fiat figures' pure rules, on hand-made entries and movements: fees split from
flows, a move between a holding's own wallets changes the balance by its fee only, a correction counts
with the flow it corrects, mixed transactions count by their net, and fiat amounts are summed exactly and
rounded down once."""

from __future__ import annotations

from datetime import date

from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind, Posting, Price
from boveda.reconcile.model import EXTERNAL, Movement, MovementKind
from boveda.report.fiat import fiat_summary, format_minor, value_of
from boveda.report.rollforward import book_side, chain_side

COIN = 100_000_000
SV = Account.reserve("SV")
DESK = Account.exchange("desk")


def _entry(entry_id: int, kind: EntryKind, day: int, postings, **fields) -> Entry:
    return Entry(entry_id, kind, date(2025, 8, day), tuple(Posting(a, s) for a, s in postings), **fields)


ENTRIES = (
    _entry(1, EntryKind.PURCHASE, 1, [(DESK, -5 * COIN), (SV, 5 * COIN)], price_usd_cents=10_000_000),
    _entry(2, EntryKind.INTERNAL_TRANSFER, 2, [(SV, -(COIN + 500)), (SV, COIN), (ACCOUNT_FEES, 500)],
           from_wallet="sv-hot", to_wallet="sv-cold"),
    _entry(3, EntryKind.PURCHASE, 3, [(SV, -COIN // 10), (DESK, COIN // 10)], corrects_entry_id=1),  # 5.0 → 4.9
    _entry(4, EntryKind.SALE, 3, [(SV, -(COIN + 300)), (DESK, COIN), (ACCOUNT_FEES, 300)]),
    _entry(5, EntryKind.INTERNAL_TRANSFER, 3, [(SV, -200), (ACCOUNT_FEES, 200)]),  # a consolidation: its fee only
    _entry(6, EntryKind.PURCHASE, 9, [(DESK, -COIN), (SV, COIN)]),  # after the period
)


def test_the_book_side_splits_fees_internal_moves_and_corrections():
    side = book_side(SV, ENTRIES, date(2025, 8, 2), date(2025, 8, 3))
    assert side.opening_sat == 5 * COIN
    assert (side.inflows_sat, side.inflow_count) == (-COIN // 10, 1)  # the correction lowers the inflows
    assert (side.outflows_sat, side.outflow_count) == (COIN, 1)
    assert side.fees_sat == 500 + 300 + 200
    assert (side.internal_moved_sat, side.internal_count) == (COIN, 2)
    assert side.closing_sat == 5 * COIN - COIN // 10 - COIN - 1_000 and side.adds_up


def test_a_side_that_does_not_add_up_says_so():
    side = book_side(SV, ENTRIES, None, date(2025, 8, 31))
    assert side.adds_up and side.opening_sat == 0
    broken = chain_side((), opening_sat=COIN, closing_sat=COIN - 1)
    assert not broken.adds_up and broken.net_change_sat == 0


def _movement(kind: MovementKind, amount_sat: int, fee_sat: int | None, height: int) -> Movement:
    return Movement(txid_hex=f"{height:064x}", height=height, tx_index=1, block_date=date(2025, 8, 2), kind=kind,
                    amount_sat=amount_sat, fee_sat=fee_sat, in_sat=0, out_sat=0, counterparty=(EXTERNAL,))


def test_the_chain_side_counts_mixed_transactions_by_their_net():
    movements = (_movement(MovementKind.INFLOW, 3 * COIN, None, 1), _movement(MovementKind.OUTFLOW, COIN, 400, 2),
                 _movement(MovementKind.INTERNAL, COIN, 150, 3), _movement(MovementKind.MIXED, -COIN // 2, None, 4))
    side = chain_side(movements, opening_sat=COIN, closing_sat=COIN + 3 * COIN - COIN - 550 - COIN // 2)
    assert (side.inflows_sat, side.outflows_sat, side.fees_sat, side.mixed_net_sat) == (3 * COIN, COIN, 550,
                                                                                      -COIN // 2)
    assert (side.internal_moved_sat, side.internal_count, side.mixed_count) == (COIN, 1, 1) and side.adds_up


def test_the_cost_basis_follows_corrections_and_is_rounded_down_once():
    price = Price(date(2025, 8, 3), "USD", 11_800_012, "Office price file")
    fiat = fiat_summary(SV, ENTRIES, currency="USD", on=date(2025, 8, 3), holdings_sat=4 * COIN, price=price)
    assert fiat.purchased_sat == 49 * COIN // 10 and fiat.unpriced_sat == 0  # the correction took #1's price
    assert fiat.cost_basis_minor == 49_000_000  # 4.9 BTC at 100,000.00
    assert fiat.value_minor == 47_200_048 and fiat.purchases_value_minor == 11_800_012 * 49 // 10
    assert fiat.unrealised_gain_minor == fiat.purchases_value_minor - 49_000_000
    tiny = tuple(_entry(n, EntryKind.PURCHASE, 1, [(DESK, -1), (SV, 1)], price_usd_cents=60_000_000)
                 for n in (1, 2))
    assert fiat_summary(SV, tiny, currency="USD", on=date(2025, 8, 1), holdings_sat=2,
                        price=None).cost_basis_minor == 1  # 0.6 + 0.6 cents summed exactly, then down to 1
    assert value_of(3, 11_800_012) == 0 and format_minor(-123_456) == "-1,234.56"


def test_another_currency_has_a_value_but_no_cost_basis():
    price = Price(date(2025, 8, 1), "EUR", 9_000_000, "ECB")
    fiat = fiat_summary(SV, ENTRIES, currency="EUR", on=date(2025, 8, 1), holdings_sat=5 * COIN, price=price)
    assert (fiat.value_minor, fiat.cost_basis_minor, fiat.unrealised_gain_minor) == (45_000_000, None, None)
    assert fiat.to_json()["price"]["source"] == "ECB" and fiat.to_json()["cost_basis_source"] is None
