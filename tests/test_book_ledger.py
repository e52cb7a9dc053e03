"""What the book records when the rules allow it: the custody lifecycle, sharing with its
remainder, purchases, transfers and their kinds, wallets — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from _book_fixtures import DESCRIPTOR, backend, book, book_location, postgres_url, txid  # noqa: F401

from boveda.book import Account, Book, BookError, EntryKind, LotState

BTC = 100_000_000
CASE = "1:21-cr-00399"


@pytest.fixture
def cased(book: Book) -> Book:  # noqa: F811
    book.add_reserve("US-SBR", name="US Strategic Bitcoin Reserve", no_sale=True)
    book.add_reserve("SV", name="El Salvador")
    book.add_partner("DE", name="Germany")
    book.add_case(CASE, agency="FBI", court="D.D.C.")
    return book


def _forfeited(book: Book, amount_sat: int, n: int) -> int:
    lot = book.seize_lot(case=CASE, amount_sat=amount_sat, txid=txid(n), date="2022-02-01", order="Warrant 1")
    book.mark_forfeiture_pending(lot.lot_id, order="Complaint", date="2022-03-01")
    book.forfeit_lot(lot.lot_id, order="Final order", date="2023-01-05")
    return lot.lot_id


def _assert_double_entry(book: Book) -> None:
    assert sum(b.balance_sat for b in book.balances()) == 0
    for entry in book.journal():
        assert sum(p.amount_sat for p in entry.postings) == 0


def test_a_lot_through_its_whole_lifecycle(cased: Book) -> None:
    lot_id = _forfeited(cased, 94_636 * BTC, 1)
    assert cased.balance(f"custody:{CASE}") == 94_636 * BTC
    lot = cased.allocate_lot(lot_id, to="reserve:US-SBR", order="EO 14233", txid=txid(2), date="2025-03-06")
    assert lot.state is LotState.ALLOCATED_RESERVE
    assert cased.balance(f"custody:{CASE}") == 0
    assert cased.balance("reserve:US-SBR") == 94_636 * BTC
    steps = [(t.from_state.value, t.to_state.value, t.authority_ref) for t in cased.lot_transitions(lot_id)]
    assert steps == [
        ("seized", "forfeiture_pending", "Complaint"),
        ("forfeiture_pending", "forfeited", "Final order"),
        ("forfeited", "allocated:reserve", "EO 14233"),
    ]
    seizure, transfer = cased.journal()
    assert (seizure.kind, seizure.lot_id, seizure.txids, seizure.authority_ref) == (
        EntryKind.SEIZURE, lot_id, (txid(1),), "Warrant 1")
    assert seizure.effective_date == date(2022, 2, 1)
    assert (transfer.kind, transfer.amount_sat, transfer.txids) == (EntryKind.FORFEITURE_TRANSFER, 94_636 * BTC,
                                                                    (txid(2),))
    assert cased.lot_transitions(lot_id)[-1].entry_id == transfer.entry_id
    _assert_double_entry(cased)


@pytest.mark.parametrize(
    ("amount_sat", "share_bp", "shared_sat"),
    [(BTC, 3333, 33_330_000), (10, 3333, 3), (BTC, 10_000, BTC), (7, 5000, 3)],
)
def test_sharing_gives_the_partner_its_share_and_keeps_the_rest_forfeited(
    cased: Book, amount_sat: int, share_bp: int, shared_sat: int
) -> None:
    lot_id = _forfeited(cased, amount_sat, 1)
    cased.allocate_lot(lot_id, to="sharing:DE", order="MLAT 2023-17", percent_bp=share_bp, txid=txid(3))
    assert cased.balance("partner:DE") == shared_sat
    lots = cased.lots()
    assert lots[0].state is LotState.ALLOCATED_SHARING
    if shared_sat == amount_sat:
        assert len(lots) == 1
    else:
        (rest,) = lots[1:]
        assert (rest.state, rest.amount_sat, rest.parent_lot_id) == (LotState.FORFEITED, amount_sat - shared_sat,
                                                                     lot_id)
        cased.allocate_lot(rest.lot_id, to="reserve:US-SBR", order="EO 14233")
        assert cased.balance("reserve:US-SBR") == amount_sat - shared_sat
    assert cased.balance(f"custody:{CASE}") == (0 if shared_sat == amount_sat else 0)
    transition = cased.lot_transitions(lot_id)[-1]
    assert (transition.share_bp, transition.destination) == (share_bp, Account.partner("DE"))
    _assert_double_entry(cased)


def test_a_share_that_rounds_to_nothing_is_refused(cased: Book) -> None:
    lot_id = _forfeited(cased, 1, 1)
    with pytest.raises(BookError, match="rounds to zero"):
        cased.allocate_lot(lot_id, to="sharing:DE", order="MLAT", percent_bp=5000)


def test_restitution_and_release(cased: Book) -> None:
    lot_id = _forfeited(cased, 2 * BTC, 1)
    cased.allocate_lot(lot_id, to="restitution", order="Restitution order ECF 301")
    assert cased.balance("external:victims") == 2 * BTC
    seized = cased.seize_lot(case=CASE, amount_sat=BTC, txid=txid(2))
    cased.release_lot(seized.lot_id, order="Order granting petition")
    pending = cased.seize_lot(case=CASE, amount_sat=BTC, txid=txid(3))
    cased.mark_forfeiture_pending(pending.lot_id, order="Complaint")
    cased.release_lot(pending.lot_id, order="Settlement", txid=txid(4))
    assert [lot.state for lot in cased.lots()] == [LotState.ALLOCATED_RESTITUTION, LotState.RELEASED,
                                                   LotState.RELEASED]
    assert cased.balance("external:claimant") == -2 * BTC  # 4 BTC seized from the claimant, 2 released back
    assert cased.balance(f"custody:{CASE}") == 0
    _assert_double_entry(cased)


def test_purchases_are_found_by_txid(cased: Book) -> None:
    entry = cased.add_purchase(reserve="SV", amount_sat=BTC, txid=txid(9).upper(), exchange="bitfinex",
                               price_usd_cents=10_425_050, date="2025-03-04")
    assert entry.txids == (txid(9),)  # stored in canonical lower case
    assert entry.postings[0].account == Account.exchange("bitfinex")
    assert cased.entries_citing(txid(9)) == (entry,)
    assert cased.entries_citing(txid(10)) == ()
    assert cased.journal() == (entry,)


@pytest.mark.parametrize(
    ("source", "target", "kind", "order"),
    [
        ("reserve:SV", "reserve:US-SBR", EntryKind.INTERNAL_TRANSFER, None),
        ("reserve:SV", "expense:fees", EntryKind.FEE, None),
        ("reserve:SV", "external:exchange:kraken", EntryKind.SALE, None),
        ("external:exchange:kraken", "reserve:SV", EntryKind.PURCHASE, None),
        ("external:miner", "reserve:SV", EntryKind.MINING, None),
        ("external:donor", "reserve:SV", EntryKind.DONATION, None),
        ("reserve:SV", "external:victims", EntryKind.RESTITUTION, "Order 1"),
        ("reserve:SV", "external:claimant", EntryKind.RELEASE, "Order 2"),
        ("reserve:SV", "partner:DE", EntryKind.SHARING, "MLAT 3"),
        ("partner:DE", "reserve:SV", EntryKind.SHARING, "MLAT 4"),
    ],
)
def test_a_transfer_takes_its_kind_from_its_accounts(cased: Book, source: str, target: str, kind: EntryKind,
                                                     order: str | None) -> None:
    cased.add_purchase(reserve="SV", amount_sat=BTC, txid=txid(1))
    entry = cased.add_transfer(from_account=source, to_account=target, amount_sat=1_000, txid=txid(2),
                               reason="test", order=order)
    assert entry.kind is kind
    assert entry.memo == "test" and entry.authority_ref == order
    _assert_double_entry(cased)


def test_a_transfer_may_pay_a_fee(cased: Book) -> None:
    cased.add_purchase(reserve="SV", amount_sat=BTC, txid=txid(1))
    entry = cased.add_transfer(from_account="reserve:SV", to_account="reserve:US-SBR", amount_sat=50_000_000,
                               fee_sat=2_000, txid=txid(2), reason="move to cold storage")
    assert [(str(p.account), p.amount_sat) for p in entry.postings] == [
        ("reserve:SV", -50_002_000), ("reserve:US-SBR", 50_000_000), ("expense:fees", 2_000)]
    assert cased.balance("expense:fees") == 2_000
    assert (entry.amount_sat, entry.fee_sat) == (50_000_000, 2_000)


@pytest.mark.parametrize(
    ("source", "target", "match"),
    [
        ("external:victims", "reserve:SV", "no transfer from external:victims"),
        ("reserve:SV", "reserve:SV", "two different accounts"),
        ("reserve:SV", "custody:" + CASE, "no transfer"),
        ("expense:fees", "reserve:SV", "no transfer"),
    ],
)
def test_transfers_the_book_does_not_know(cased: Book, source: str, target: str, match: str) -> None:
    with pytest.raises(BookError, match=match):
        cased.add_transfer(from_account=source, to_account=target, amount_sat=1, txid=txid(1), reason="x")


def test_a_batch_is_one_transaction(cased: Book) -> None:
    with cased.atomic():
        for n in range(5):
            cased.add_purchase(reserve="SV", amount_sat=BTC, txid=txid(n))
        assert cased.balance("reserve:SV") == 5 * BTC  # reads inside the batch see its writes
    assert cased.audit_head().seq == 4 + 5
    assert cased.verify().ok


def test_wallets_of_reserves_and_custody(cased: Book) -> None:
    cased.add_wallet("sv-cold", descriptor=DESCRIPTOR, reserve="SV", birth_height=800_000)
    cased.add_wallet("fbi-case", descriptor="raw(00)#qwfjgwf6", case=CASE)
    assert [(w.name, w.owner, w.birth_height) for w in cased.wallets()] == [
        ("fbi-case", Account.custody(CASE), None), ("sv-cold", Account.reserve("SV"), 800_000)]


def test_a_reserve_keeps_its_policy(cased: Book) -> None:
    cased.add_reserve("BT", name="Bhutan", address_cap_sat=500 * BTC)
    reserves = {r.code: r for r in cased.reserves()}
    assert reserves["US-SBR"].no_sale and not reserves["SV"].no_sale
    assert reserves["BT"].address_cap_sat == 500 * BTC
    assert [p.code for p in cased.partners()] == ["DE"]
    assert [(c.number, c.agency, c.court) for c in cased.cases()] == [(CASE, "FBI", "D.D.C.")]
