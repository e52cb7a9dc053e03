"""Corrections keep history: reversals and adjustments are new entries linked to the one they correct,
the rules refuse what makes no sense (and leave the book and its audit head as they were), and a book
with corrections and internal moves verifies and survives export → import."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from _book_fixtures import DESCRIPTOR, backend, book, book_location, postgres_url, txid  # noqa: F401

from boveda.book import Book, BookError, EntryKind
from boveda.book.domain import Price

COIN = 100_000_000


def _purchase(opened: Book, btc_sat: int = 110_000_000, n: int = 1) -> int:
    opened.add_reserve("SV", name="El Salvador") if not opened.reserves() else None
    return opened.add_purchase(reserve="SV", amount_sat=btc_sat, txid=txid(n), date="2025-03-01",
                               price_usd_cents=11_500_000).entry_id


def test_an_adjustment_appends_the_difference_and_leaves_the_entry_as_it_was(book: Book) -> None:  # noqa: F811
    entry_id = _purchase(book)
    original = book.entry(entry_id)
    adjustment = book.adjust_entry(entry_id, amount_sat=COIN, reason="typed 1.1 for 1.0",
                                   resolves="amount_mismatch " + txid(1)[:12])
    assert book.entry(entry_id) == original  # never edited
    assert adjustment.corrects_entry_id == entry_id and adjustment.kind is EntryKind.PURCHASE
    assert adjustment.txids == original.txids and adjustment.memo == "typed 1.1 for 1.0"
    assert {str(p.account): p.amount_sat for p in adjustment.postings} == {
        "external:exchange:unspecified": 10_000_000, "reserve:SV": -10_000_000}
    assert book.balance("reserve:SV") == COIN
    assert book.corrections_by_entry() == {entry_id: (adjustment.entry_id,)}
    assert [e.entry_id for e in book.journal()] == [entry_id, adjustment.entry_id]
    assert book.verify().ok


def test_a_reversal_undoes_what_the_entry_and_its_adjustments_still_claim(book: Book) -> None:  # noqa: F811
    entry_id = _purchase(book)
    book.adjust_entry(entry_id, amount_sat=COIN, reason="typo")
    reversal = book.reverse_entry(entry_id, reason="never bought", order="Treasury memo 14")
    assert reversal.authority_ref == "Treasury memo 14"
    assert {str(p.account): p.amount_sat for p in reversal.postings} == {
        "external:exchange:unspecified": COIN, "reserve:SV": -COIN}
    assert book.balance("reserve:SV") == 0
    assert book.verify().ok


def _refusals() -> list[tuple[str, Callable[[Book, int], object], str]]:
    return [
        ("reversing twice", lambda b, n: (b.reverse_entry(n, reason="r", order="o"), b.reverse_entry(n, reason="r",
                                                                                                       order="o")),
         r"entry #1 is already reversed \(by entry #2\)"),
        ("adjusting a reversed entry", lambda b, n: (b.reverse_entry(n, reason="r", order="o"),
                                                     b.adjust_entry(n, amount_sat=COIN, reason="x")),
         "already reversed"),
        ("adjusting to the same amount", lambda b, n: b.adjust_entry(n, amount_sat=110_000_000, reason="x"),
         r"entry #1 already claims 1.10000000 BTC: nothing to adjust"),
        ("an unknown entry", lambda b, n: b.reverse_entry(99, reason="r", order="o"), r"unknown entry #99"),
        ("adjusting an unknown entry", lambda b, n: b.adjust_entry(99, amount_sat=COIN, reason="r"),
         r"unknown entry #99"),
        ("correcting a correction", lambda b, n: (b.adjust_entry(n, amount_sat=COIN, reason="x"),
                                                  b.reverse_entry(2, reason="r", order="o")),
         r"entry #2 is itself a correction of entry #1: correct entry #1 instead"),
        ("a reversal without an order", lambda b, n: b.reverse_entry(n, reason="r", order=" "), "--order"),
        ("a correction without a reason", lambda b, n: b.adjust_entry(n, amount_sat=COIN, reason=""), "--reason"),
        ("a correction dated before the entry", lambda b, n: b.adjust_entry(n, amount_sat=COIN, reason="x",
                                                                            date="2025-02-01"),
         "dated on or after the entry it corrects"),
        ("a reversal the holding cannot afford",
         lambda b, n: (b.add_transfer(from_account="reserve:SV", to_account="external:exchange:kraken",
                                      amount_sat=COIN, txid=txid(7), reason="sale"),
                       b.reverse_entry(n, reason="r", order="o")),
         "reserve:SV would go negative"),
    ]


@pytest.mark.parametrize("what,act,message", _refusals(), ids=[r[0] for r in _refusals()])
def test_refused_corrections_change_nothing(book: Book, what: str, act: Callable[[Book, int], object],  # noqa: F811
                                            message: str) -> None:
    entry_id = _purchase(book)
    with pytest.raises(BookError, match=message):
        act(book, entry_id)
    # The refused step left the book as the last accepted one did: chain intact, no correction half-written.
    head = book.audit_head()
    with pytest.raises(BookError):
        act(book, entry_id)
    assert book.audit_head() == head
    assert book.verify().ok


def test_a_lot_entry_is_corrected_through_the_lot(book: Book) -> None:  # noqa: F811
    book.add_case("1:21-cr-00399", agency="FBI")
    book.seize_lot(case="1:21-cr-00399", amount_sat=COIN, txid=txid(3), date="2025-01-02")
    head = book.audit_head()
    with pytest.raises(BookError, match="coin movement of lot 1's lifecycle"):
        book.reverse_entry(1, reason="r", order="o")
    assert book.audit_head() == head


def _with_wallets(opened: Book) -> None:
    opened.add_reserve("SV", name="El Salvador")
    opened.add_reserve("US-SBR", name="US")
    opened.add_wallet("sv-hot", descriptor=DESCRIPTOR, reserve="SV")
    opened.add_wallet("sv-cold", descriptor=_other_descriptor(), reserve="SV")
    opened.add_purchase(reserve="SV", amount_sat=10 * COIN, txid=txid(1), date="2025-03-01")


def _other_descriptor() -> str:
    from embit.descriptor.checksum import checksum

    return f"raw(cafebabe)#{checksum('raw(cafebabe)')}"


def test_a_move_between_two_wallets_of_one_reserve_costs_it_the_fee(book: Book) -> None:  # noqa: F811
    _with_wallets(book)
    entry = book.add_transfer(from_account="reserve:SV", to_account="reserve:SV", amount_sat=5 * COIN,
                              fee_sat=10_000, txid=txid(2), reason="to cold storage", wallets=("sv-hot", "sv-cold"),
                              date="2025-03-02")
    assert entry.kind is EntryKind.INTERNAL_TRANSFER
    assert (entry.from_wallet, entry.to_wallet, entry.fee_sat, entry.amount_sat) == ("sv-hot", "sv-cold", 10_000,
                                                                                      5 * COIN)
    assert book.balance("reserve:SV") == 10 * COIN - 10_000
    assert book.balance("expense:fees") == 10_000
    assert book.verify().ok


@pytest.mark.parametrize("kwargs,message", [
    ({"wallets": None}, "got reserve:SV twice: for a move between two of its own wallets give --wallets"),
    ({"fee_sat": None}, "pays a miners' fee: give --fee"),
    ({"wallets": ("sv-hot", "nowhere")}, "unknown wallet 'nowhere'"),
    ({"wallets": ("sv-hot", "sv-hot")}, "two different wallets"),
    ({"to_account": "reserve:US-SBR"}, "wallet sv-cold belongs to reserve:SV, not to the receiving side"),
], ids=["no wallets", "no fee", "unknown wallet", "same wallet", "wallet of another reserve"])
def test_a_move_between_wallets_is_refused_when_it_does_not_add_up(book: Book, kwargs: dict,  # noqa: F811
                                                                    message: str) -> None:
    _with_wallets(book)
    head = book.audit_head()
    args = {"from_account": "reserve:SV", "to_account": "reserve:SV", "amount_sat": COIN, "fee_sat": 1_000,
            "txid": txid(2), "reason": "consolidate", "wallets": ("sv-hot", "sv-cold"), **kwargs}
    with pytest.raises(BookError, match=message):
        book.add_transfer(**args)
    assert book.audit_head() == head


def test_corrections_moves_prices_and_operators_survive_export_and_import(book: Book, tmp_path: Path,  # noqa: F811
                                                                           book_location: str) -> None:  # noqa: F811
    _with_wallets(book)
    book.operator, book.approved_by = "ana", "luis"
    book.add_purchase(reserve="SV", amount_sat=110_000_000, txid=txid(4), date="2025-03-03")
    book.adjust_entry(2, amount_sat=COIN, reason="typo", resolves="amount_mismatch")
    book.add_transfer(from_account="reserve:SV", to_account="reserve:SV", amount_sat=COIN, fee_sat=500,
                      txid=txid(5), reason="split", wallets=("sv-hot", "sv-cold"), date="2025-03-04")
    book.import_prices([Price(date(2025, 8, 1), "USD", 11_500_000, "BCR")])
    book.import_prices([Price(date(2025, 8, 1), "USD", 11_600_000, "BCR")], replace=True)
    export = tmp_path / "book.json"
    head = book.export(export)
    assert '"version":2' in export.read_text(encoding="utf-8")
    copy = str(tmp_path / "copy.db")
    with Book.open(copy, create=True) as other:
        other.import_file(export)
        assert other.audit_head() == head
        assert other.journal() == book.journal()
        assert other.prices() == book.prices() and other.prices()[0].price_minor == 11_600_000
        assert [(e.operator, e.approved_by) for e in other.iter_audit_events()][-1] == ("ana", "luis")
        assert other.verify().ok
