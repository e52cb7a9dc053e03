"""Reconciliation pairs by txid first (issue 10, class 6): an entry citing a confirmed transaction takes
part in the match whatever its date — a date after the confirmation is its own finding, with the days
between — and a transaction cited by several entries of one kind is a finding naming every one of them.
Pure properties first, then the service on a real regtest chain (where the date filter was)."""

from __future__ import annotations

import datetime
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import ACCOUNT_FEES, Account, Entry, EntryKind, Posting, as_account
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.chain.regtest.builder import COINBASE_MATURITY
from boveda.chain.regtest.simulation import Simulation
from boveda.keys.software_wallet import WalletKind
from boveda.reconcile import ChainTx, DiscrepancyKind, Owned, Severity, explain, reconcile_account
from boveda.service.reserve import reserve_view
from boveda.wallets.registry import register_wallet
from boveda.wallets.sync import sync

BTC = 100_000_000
SV = Account.reserve("SV")
EXCHANGE = Account.exchange("bitfinex")
DAY = date(2025, 8, 1)
D = DiscrepancyKind


def txid(n: int) -> str:
    return f"{n:064x}"


def outflow(n: int, amount_sat: int, *, fee_sat: int = 1_000, day: date = DAY) -> ChainTx:
    """The reserve spends one coin of amount + fee, paying `amount_sat` to a script no book tracks."""
    return ChainTx(txid(n), 100 + n, 1, day, 1, 1, amount_sat, (Owned(SV, "hot", amount_sat + fee_sat),), ())


def inflow(n: int, amount_sat: int, *, day: date = DAY) -> ChainTx:
    return ChainTx(txid(n), 100 + n, 1, day, 1, 1, amount_sat, (), (Owned(SV, "hot", amount_sat),))


def entry(entry_id: int, kind: EntryKind, postings, *txids: str, day: date = DAY) -> Entry:
    return Entry(entry_id, kind, day, tuple(Posting(as_account(a), s) for a, s in postings), tuple(txids),
                 authority_ref="order")


def run(chain, entries):
    return reconcile_account(SV, height=10**6, block_hash_hex="ab" * 32, chain_txs=chain, entries=entries,
                             chain_balance_sat=0, book_balance_sat=0, reserve="SV")


def found(result, kind):
    return [d for d in result.discrepancies if d.kind is kind]


@given(st.integers(min_value=-400, max_value=400), st.sampled_from([EntryKind.SALE, EntryKind.RESTITUTION]),
       st.integers(min_value=1, max_value=10**9))
@settings(max_examples=200)
def test_an_entry_citing_an_outflow_authorises_it_whatever_its_date(days_after, kind, amount_sat):
    to = EXCHANGE if kind is EntryKind.SALE else Account.parse("external:victims")
    paid = entry(1, kind, [(SV, -(amount_sat + 1_000)), (to, amount_sat), (ACCOUNT_FEES, 1_000)], txid(1),
                 day=DAY + timedelta(days=days_after))
    result = run([outflow(1, amount_sat)], [paid])
    assert not found(result, D.UNRECORDED_OUTFLOW) and not found(result, D.AMOUNT_MISMATCH)
    late = found(result, D.ENTRY_DATED_AFTER_CONFIRMATION)
    if days_after > 0:
        assert [(d.entry_id, d.days, d.txid_hex) for d in late] == [(1, days_after, txid(1))]
        assert late[0].severity is Severity.WARNING
        assert f"{days_after} day" in late[0].detail and any("dated after" in s for s in explain(result))
        assert late[0].to_json()["days"] == days_after
    else:
        assert late == []


@given(st.lists(st.integers(min_value=1, max_value=50 * BTC), min_size=2, max_size=6),
       st.integers(min_value=1, max_value=50 * BTC))
@settings(max_examples=200)
def test_a_transaction_cited_by_several_entries_of_one_kind_is_a_finding_naming_each(amounts, chain_sat):
    entries = [entry(i, EntryKind.PURCHASE, [(EXCHANGE, -a), (SV, a)], txid(7)) for i, a in enumerate(amounts, 1)]
    result = run([inflow(7, chain_sat)], entries)
    (duplicate,) = found(result, D.DUPLICATE_CITATION)
    ids = tuple(range(1, len(amounts) + 1))
    assert duplicate.entry_ids == ids and duplicate.to_json()["entry_ids"] == list(ids)
    assert all(f"#{i}" in duplicate.detail for i in ids)
    sentence = next(s for s in explain(result) if "all cite one transaction" in s)
    assert all(f"#{i}" in sentence for i in ids)
    mismatches = found(result, D.AMOUNT_MISMATCH)
    if sum(amounts) != chain_sat:  # the group is compared as a whole, and every entry of it is named
        assert len(mismatches) == 1 and mismatches[0].entry_ids == ids
        mismatch_sentence = next(s for s in explain(result) if "but the chain shows" in s)
        assert mismatch_sentence.startswith("Entries " + ", ".join(f"#{i}" for i in ids))
    else:
        assert mismatches == []


def test_entries_of_different_kinds_citing_one_transaction_are_no_duplicate():
    move = ChainTx(txid(3), 103, 1, DAY, 1, 1, 5 * BTC - 500, (Owned(SV, "hot", 5 * BTC),),
                   (Owned(SV, "cold", 5 * BTC - 500),))
    moved = entry(1, EntryKind.INTERNAL_TRANSFER, [(SV, -1), (Account.reserve("SV-COLD"), 1)], txid(3))
    fee = entry(2, EntryKind.FEE, [(SV, -500), (ACCOUNT_FEES, 500)], txid(3))
    assert not found(run([move], [moved, fee]), D.DUPLICATE_CITATION)


def test_a_single_entry_keeps_the_documents_form():
    result = run([inflow(1, BTC)], [entry(1, EntryKind.PURCHASE, [(EXCHANGE, -2 * BTC), (SV, 2 * BTC)], txid(1))])
    (mismatch,) = result.discrepancies
    assert "entry_ids" not in mismatch.to_json() and "days" not in mismatch.to_json()


# -- the service, on a chain ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_book(tmp_path_factory):
    """Reserve SV's wallet `hot`, funded by one purchase, then paying 1 BTC out; the book synced."""
    folder = tmp_path_factory.mktemp("pairing")
    sim = Simulation(folder / "bitcoin", seed_label="pairing tests")
    sim.add_wallet("hot", WalletKind.WPKH)
    sim.add_wallet("outsider", WalletKind.WPKH)
    sim.mine_blocks(COINBASE_MATURITY + 1)
    birth = sim.height
    funding = sim.pay("miner", [(sim.receive_script("hot"), 5 * BTC)])
    sim.mine()
    funding_day = datetime.datetime.fromtimestamp(sim.tip_time, datetime.UTC).date()
    spend = sim.pay("hot", [(sim.receive_script("outsider"), BTC)], fee_sat=1_000)
    sim.mine()
    tip_day = datetime.datetime.fromtimestamp(sim.tip_time, datetime.UTC).date()
    sim.close()
    location = str(folder / "book.db")
    Book.init(location)
    with Book.open(location) as book:
        book.add_reserve("SV", name="El Salvador")
        register_wallet(book, "hot", sim.wallet("hot").multipath_descriptor(), network=Network.REGTEST, reserve="SV",
                        birth_height=birth, gap_limit=5)
        book.add_purchase(reserve="SV", amount_sat=5 * BTC, txid=funding.txid_hex, date=funding_day)
        with KernelSource(sim.datadir, Network.REGTEST) as kernel, \
                BlockFileSource(sim.datadir, Network.REGTEST, kernel=kernel) as files:
            sync(book.store, files, network=Network.REGTEST)
    return location, funding.txid_hex, spend.txid_hex, tip_day


def _copy(chain_book, tmp_path) -> str:
    target = tmp_path / "book.db"
    target.write_bytes(Path(chain_book[0]).read_bytes())
    return str(target)


def test_the_outflow_stays_unauthorised_until_an_entry_cites_it(chain_book, tmp_path):
    with Book.open(_copy(chain_book, tmp_path)) as book:
        assert [d.kind for d in reserve_view(book, "SV").reconciliation.discrepancies] == [D.UNRECORDED_OUTFLOW]


@pytest.mark.parametrize("days_after", [1, 30, 300])
def test_an_entry_dated_after_the_tip_still_authorises_the_outflow_it_cites(chain_book, tmp_path, days_after):
    _, _, spend, tip_day = chain_book
    with Book.open(_copy(chain_book, tmp_path)) as book:
        late = tip_day + timedelta(days=days_after)
        if late > datetime.datetime.now(datetime.UTC).date() + timedelta(days=365):
            pytest.skip("the chain's days are too far ahead of today for the book to take the date")
        book.add_transfer(from_account="reserve:SV", to_account="external:victims", amount_sat=BTC, fee_sat=1_000,
                          txid=spend, reason="restitution", order="Order 1", date=late)
        result = reserve_view(book, "SV").reconciliation
    assert [(d.kind, d.days) for d in result.discrepancies] == [(D.ENTRY_DATED_AFTER_CONFIRMATION, days_after)]
    assert not result.has_critical


def test_a_duplicate_purchase_is_named_with_the_entry_it_repeats(chain_book, tmp_path):
    _, funding, spend, tip_day = chain_book
    with Book.open(_copy(chain_book, tmp_path)) as book:
        book.add_transfer(from_account="reserve:SV", to_account="external:victims", amount_sat=BTC, fee_sat=1_000,
                          txid=spend, reason="restitution", order="Order 1", date=tip_day)
        again = book.add_purchase(reserve="SV", amount_sat=5 * BTC, txid=funding, date=tip_day)
        result = reserve_view(book, "SV").reconciliation
        sentences = explain(result)
    (duplicate,) = found(result, D.DUPLICATE_CITATION)
    assert duplicate.entry_ids == (1, again.entry_id)
    (mismatch,) = found(result, D.AMOUNT_MISMATCH)
    assert mismatch.entry_ids == (1, again.entry_id)
    assert any(s.startswith(f"Entries #1, #{again.entry_id} (purchase") for s in sentences)
