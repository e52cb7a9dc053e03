"""The book's pure parts, without a database: accounts, the lifecycle, the rules as a function
``apply(state, event)``, and the event payload codecs."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boveda.book import BookError
from boveda.book.audit import canonical_json, loads_no_floats
from boveda.book.checks import check_descriptor, format_percent_bp, parse_percent_bp, parse_usd_cents
from boveda.book.custody import NEXT_STATES, check_transition
from boveda.book.domain import (
    Account,
    AccountKind,
    Case,
    Entry,
    EntryKind,
    Lot,
    LotState,
    LotTransition,
    Partner,
    Posting,
    Reserve,
    Wallet,
    as_account,
    check_account,
)
from boveda.book.events import (
    CaseAdded,
    EntryRecorded,
    LotSeized,
    LotTransitioned,
    PartnerAdded,
    ReserveAdded,
    WalletAdded,
    event_from_payload,
)
from boveda.book.state import MemoryState, apply

S = LotState


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("reserve:SV", AccountKind.RESERVE, "SV"),
        ("reserve:US-SBR", AccountKind.RESERVE, "US-SBR"),
        ("custody:1:21-cr-00399", AccountKind.CUSTODY, "1:21-cr-00399"),
        ("partner:DE", AccountKind.PARTNER, "DE"),
        ("external:exchange:bitfinex", AccountKind.EXCHANGE, "bitfinex"),
        ("external:victims", AccountKind.VICTIMS, ""),
        ("external:claimant", AccountKind.CLAIMANT, ""),
        ("external:miner", AccountKind.MINER, ""),
        ("external:donor", AccountKind.DONOR, ""),
        ("expense:fees", AccountKind.FEES, ""),
    ],
)
def test_accounts_round_trip(text: str, kind: AccountKind, name: str) -> None:
    account = Account.parse(text)
    assert (account.kind, account.name) == (kind, name)
    assert str(account) == text


@pytest.mark.parametrize(
    "text",
    ["reserve:", "reserve:sv", "reserve:S V", "bank:x", "external:victims:x", "external", "expense:fees:x",
     "custody:has space", "external:exchange:", "partner:de", "", "RESERVE:SV"],
)
def test_accounts_outside_the_closed_set_are_refused(text: str) -> None:
    with pytest.raises(BookError):
        Account.parse(text)


def test_an_account_equals_the_account_its_text_parses_to_and_never_the_text() -> None:
    built = Account.reserve("SV")
    assert built == Account.parse("reserve:SV") and hash(built) == hash(Account.parse("reserve:SV"))
    assert built != "reserve:SV" and built != Account.partner("SV") and built != Account.custody("SV")
    assert {built: 1}[Account.parse("reserve:SV")] == 1
    assert as_account("reserve:SV") == built and as_account(built) is built


def test_the_rules_check_what_the_constructors_do_not() -> None:
    assert check_account(Account.custody("1:21-cr-00399")) == Account.custody("1:21-cr-00399")
    with pytest.raises(BookError, match="bad reserve code 'sv'"):
        check_account(Account.reserve("sv"))
    with pytest.raises(BookError, match="malformed account"):
        check_account(Account(AccountKind.FEES, "x"))  # its text would read back as a different account
    with pytest.raises(BookError, match="must be an account"):
        check_account("reserve:SV")  # type: ignore[arg-type]


def test_holdings_are_reserves_and_custody() -> None:
    assert {k for k in AccountKind if k.is_holding} == {AccountKind.RESERVE, AccountKind.CUSTODY}


def test_the_lifecycle_is_the_one_in_design_md() -> None:
    assert NEXT_STATES == {
        S.SEIZED: (S.FORFEITURE_PENDING, S.RELEASED),
        S.FORFEITURE_PENDING: (S.FORFEITED, S.RELEASED),
        S.FORFEITED: (S.ALLOCATED_RESERVE, S.ALLOCATED_RESTITUTION, S.ALLOCATED_SHARING),
        S.ALLOCATED_RESERVE: (),
        S.ALLOCATED_RESTITUTION: (),
        S.ALLOCATED_SHARING: (),
        S.RELEASED: (),
    }


def _lot(state: LotState) -> Lot:
    return Lot(1, "C-1", 1000, "00" * 32, (), date(2024, 1, 1), state)


@pytest.mark.parametrize("from_state", list(LotState))
@pytest.mark.parametrize("to_state", list(LotState))
def test_every_transition_is_allowed_or_refused_by_the_table(from_state: LotState, to_state: LotState) -> None:
    if to_state in NEXT_STATES[from_state]:
        check_transition(_lot(from_state), to_state)
    else:
        with pytest.raises(BookError, match="lot 1 is"):
            check_transition(_lot(from_state), to_state)


def test_a_no_sale_reserve_names_the_rule() -> None:
    no_sale = Reserve("US-SBR", "US", no_sale=True)
    with pytest.raises(BookError, match="only forfeited lots may enter no-sale reserve US-SBR: lot 1 is seized"):
        check_transition(_lot(S.SEIZED), S.ALLOCATED_RESERVE, reserve=no_sale)
    check_transition(_lot(S.FORFEITED), S.ALLOCATED_RESERVE, reserve=no_sale)


@pytest.mark.parametrize(("text", "share_bp"), [("25", 2500), ("33.33", 3333), ("100", 10_000), ("0.01", 1),
                                                ("12.5", 1250)])
def test_percentages_are_exact(text: str, share_bp: int) -> None:
    assert parse_percent_bp(text) == share_bp
    assert parse_percent_bp(format_percent_bp(share_bp)) == share_bp


@pytest.mark.parametrize("text", ["0", "100.01", "101", "33.333", "-5", "abc", "1e2"])
def test_bad_percentages(text: str) -> None:
    with pytest.raises(BookError):
        parse_percent_bp(text)


def test_usd_prices_are_exact() -> None:
    assert parse_usd_cents("104250.5") == 10_425_050
    assert parse_usd_cents("1,000") == 100_000
    for bad in ("0", "1.234", "-1", "ten"):
        with pytest.raises(BookError):
            parse_usd_cents(bad)


def test_descriptor_checksums() -> None:
    assert check_descriptor("raw(deadbeef)#89f8spxm") == "raw(deadbeef)#89f8spxm"  # BIP-380 test vector
    with pytest.raises(BookError, match="does not match its text") as refused:
        check_descriptor("raw(deadbeef)#89f8spxn")
    assert "89f8spxm" not in str(refused.value)  # the right checksum would seal in a typo
    with pytest.raises(BookError, match="no checksum"):
        check_descriptor("raw(deadbeef)")


# -- apply: the rules as a pure function -------------------------------------------------------


def _state() -> MemoryState:
    state = MemoryState()
    for event in (ReserveAdded(Reserve("SV", "El Salvador")), ReserveAdded(Reserve("US-SBR", "US", True)),
                  PartnerAdded(Partner("DE", "Germany")), CaseAdded(Case("C-1", "FBI"))):
        state.commit(apply(state, event))
    return state


ACCOUNTS = [Account.parse(text) for text in (
    "reserve:SV", "reserve:US-SBR", "custody:C-1", "partner:DE", "external:exchange:kraken",
    "external:victims", "external:claimant", "external:miner", "external:donor", "expense:fees")]

entries = st.lists(
    st.tuples(st.sampled_from(list(EntryKind)), st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS),
              st.integers(min_value=1, max_value=10**9), st.booleans()),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(entries)
def test_whatever_is_tried_the_book_balances_and_no_holding_goes_negative(attempts) -> None:
    state = _state()
    for kind, source, target, amount_sat, with_order in attempts:
        entry = Entry(state.next_entry_id(), kind, date(2025, 1, 1),
                      (Posting(source, -amount_sat), Posting(target, amount_sat)),
                      authority_ref="Order 1" if with_order else None)
        before = dict(state.balances)
        try:
            effects = apply(state, EntryRecorded(entry))
        except BookError:
            assert state.balances == before  # apply never changes the state it reads
            continue
        state.commit(effects)
        assert kind not in (EntryKind.SEIZURE, EntryKind.FORFEITURE_TRANSFER)
        assert not (kind is EntryKind.SALE and source == Account.reserve("US-SBR"))
        assert source.kind is not AccountKind.CUSTODY or kind in (EntryKind.INTERNAL_TRANSFER, EntryKind.FEE)
    assert sum(state.balances.values()) == 0
    for account, balance_sat in state.balances.items():
        if str(account).startswith(("reserve:", "custody:")):
            assert balance_sat >= 0


# -- event payloads ---------------------------------------------------------------------------

_LOT = Lot(3, "C-1", 5000, "ab" * 32, (f"{'ab' * 32}:1",), date(2024, 5, 1), S.SEIZED, "Warrant", None)
_ENTRY = Entry(7, EntryKind.PURCHASE, date(2025, 3, 4),
               (Posting(Account.exchange("kraken"), -5), Posting(Account.reserve("SV"), 5)), ("cd" * 32,), None, "memo",
               None, 10_425_050)
EVENTS = [
    ReserveAdded(Reserve("SV", "El Salvador", False, 50_000_000_000)),
    PartnerAdded(Partner("DE", "Germany")),
    CaseAdded(Case("C-1", "FBI", None)),
    LotSeized(_LOT, _ENTRY),
    LotTransitioned(LotTransition(4, 3, S.FORFEITED, S.ALLOCATED_SHARING, "MLAT", date(2025, 1, 2), "ef" * 32,
                                  Account.partner("DE"), 2500, 8), _ENTRY, _LOT),
    LotTransitioned(LotTransition(5, 3, S.SEIZED, S.FORFEITURE_PENDING, "Complaint", date(2025, 1, 2))),
    EntryRecorded(_ENTRY),
    WalletAdded(Wallet("w", "raw(deadbeef)#89f8spxm", Account.reserve("SV"), 800_000)),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind.value)
def test_event_payloads_round_trip_through_canonical_json(event) -> None:
    text = canonical_json(event.to_payload())
    assert event_from_payload(event.kind.value, loads_no_floats(text)) == event
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_payloads_with_unknown_or_missing_fields_are_refused() -> None:
    payload = EVENTS[0].to_payload()
    with pytest.raises(BookError, match="malformed"):
        event_from_payload("reserve.added", {**payload, "extra": 1})
    with pytest.raises(BookError, match="malformed"):
        event_from_payload("reserve.added", {k: v for k, v in payload.items() if k != "name"})
    with pytest.raises(BookError, match="unknown event kind"):
        event_from_payload("reserve.deleted", payload)
