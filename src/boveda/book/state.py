"""The book as a function of its events: ``apply(state, event) -> Effects``.

:func:`apply` is the single place where an event is checked against the rules and turned
into new rows. Recording a command, importing a file and verifying the audit log all go
through it, so a book that passes ``audit verify`` is one the rules would have produced.
It reads the book through :class:`StateView` (the database inside a transaction, or
:class:`MemoryState` during import and verification) and never writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Protocol

from boveda.book.checks import (
    MAX_HEIGHT,
    MAX_ID,
    check_amount_sat,
    check_case_number,
    check_code,
    check_date_range,
    check_descriptor,
    check_outpoint,
    check_share_bp,
    check_stored_text,
    check_txid,
    check_wallet_name,
    check_whole_number,
    format_percent_bp,
)
from boveda.book.custody import MOVING_STATES, check_transition, remainder_lot, seizure_entry, transition_entry
from boveda.book.domain import (
    Account,
    AccountKind,
    Agency,
    Balance,
    Case,
    Entry,
    Lot,
    LotState,
    LotTransition,
    Partner,
    Price,
    Reserve,
    Wallet,
    check_account,
)
from boveda.book.errors import BookError
from boveda.book.events import (
    AlertAcknowledged,
    BookEvent,
    CaseAdded,
    EntryRecorded,
    LotSeized,
    LotTransitioned,
    PartnerAdded,
    PricesImported,
    ReserveAdded,
    WalletAdded,
)
from boveda.book.ledger import check_entry
from boveda.book.prices import check_import, check_price, format_price_minor
from boveda.book.spend_events import SPEND_EVENT_TYPES, check_spend_event

Record = Reserve | Partner | Agency | Case | Lot | LotTransition | Entry | Wallet


class StateView(Protocol):
    """What the rules need to know about the book."""

    def reserve(self, code: str) -> Reserve | None: ...
    def partner(self, code: str) -> Partner | None: ...
    def agency(self, name: str) -> Agency | None: ...
    def case(self, number: str) -> Case | None: ...
    def lot(self, lot_id: int) -> Lot | None: ...
    def wallet(self, name: str) -> Wallet | None: ...
    def wallet_with_descriptor(self, descriptor: str) -> Wallet | None: ...
    def balance(self, account: Account) -> int | None: ...
    def next_entry_id(self) -> int: ...
    def next_lot_id(self) -> int: ...
    def next_transition_id(self) -> int: ...
    def entry(self, entry_id: int) -> Entry | None: ...
    def corrections(self, entry_id: int) -> tuple[Entry, ...]: ...
    def price(self, currency: str, on: date) -> Price | None: ...


@dataclass(frozen=True, slots=True)
class Effects:
    """The rows an event adds or changes.

    ``added`` in insertion order; ``lots_changed`` holds the new value of existing lots;
    ``balances`` the new balance of every account the event posted to; ``prices`` the prices it
    stores (new, or replacing the stored price of the same day and currency).
    """

    added: tuple[Record, ...] = ()
    lots_changed: tuple[Lot, ...] = ()
    balances: tuple[Balance, ...] = ()
    prices: tuple[Price, ...] = ()


def apply(state: StateView, event: BookEvent, *, recorded_on: date | None = None) -> Effects:
    """Check ``event`` against the book and return its effects; raise :class:`BookError` if a rule refuses it.

    ``recorded_on`` is the UTC day the event is (or was) recorded, from its ``recorded_at``: its dates
    may be at most a year after it. Every date is on or after 2009-01-03.
    """
    for value, what in _dates_of(event):
        check_date_range(value, today=recorded_on, what=what)
    if isinstance(event, EntryRecorded):
        return Effects(added=(event.entry,), balances=_balances(check_entry(state, event.entry)))
    if isinstance(event, LotTransitioned):
        return _apply_transition(state, event)
    if isinstance(event, LotSeized):
        return _apply_seizure(state, event)
    if isinstance(event, ReserveAdded):
        return _apply_reserve(state, event.reserve)
    if isinstance(event, PartnerAdded):
        return _apply_partner(state, event.partner)
    if isinstance(event, CaseAdded):
        return _apply_case(state, event.case)
    if isinstance(event, WalletAdded):
        return _apply_wallet(state, event.wallet)
    if isinstance(event, AlertAcknowledged):
        return _apply_acknowledgement(event)
    if isinstance(event, PricesImported):
        return _apply_prices(state, event, recorded_on)
    if isinstance(event, SPEND_EVENT_TYPES):  # the spend layer keeps its own tables beside these
        check_spend_event(event)
        return Effects()
    raise BookError(f"unknown event {type(event).__name__}")


def _dates_of(event: BookEvent) -> tuple[tuple[date, str], ...]:
    if isinstance(event, EntryRecorded):
        return ((event.entry.effective_date, "date"),)
    if isinstance(event, LotSeized):
        return ((event.lot.seized_on, "seizure date"), (event.entry.effective_date, "date"))
    if isinstance(event, LotTransitioned):
        found = [(event.transition.effective_date, "date")]
        if event.entry is not None:
            found.append((event.entry.effective_date, "date"))
        if event.remainder is not None:
            found.append((event.remainder.seized_on, "seizure date"))
        return tuple(found)
    return ()


def _apply_acknowledgement(event: AlertAcknowledged) -> Effects:
    """Changes no table of the book: the follower's alert row is updated beside the event."""
    check_whole_number(event.alert_id, what="alert id", minimum=1, maximum=MAX_ID)
    check_stored_text(event.by, what="acknowledging person's name")
    for value, what in ((event.alert_kind, "alert kind"), (event.holding, "alert holding"), (event.txid, "alert txid")):
        check_stored_text(value, what=what)
    return Effects()


def _apply_prices(state: StateView, event: PricesImported, recorded_on: date | None) -> Effects:
    """Store the prices; a day's stored price changes only with ``replace`` (the same price again is a no-op)."""
    if not isinstance(event.replace, bool) or not isinstance(event.prices, tuple):
        raise BookError("malformed prices.imported event")
    for price in event.prices:
        check_price(price, today=recorded_on)
    check_import(event.prices)
    stored: list[Price] = []
    for price in event.prices:
        before = state.price(price.currency, price.on)
        if before == price:
            continue
        if before is not None and not event.replace:
            raise BookError(
                f"the book already holds {before.currency} {format_price_minor(before.price_minor)} per BTC on "
                f"{before.on.isoformat()} (source {before.source}); the file gives "
                f"{format_price_minor(price.price_minor)} (source {price.source}): import with --replace to change it"
            )
        stored.append(price)
    return Effects(prices=tuple(stored))


def _balances(new_balances: dict[Account, int]) -> tuple[Balance, ...]:
    return tuple(Balance(account, balance_sat) for account, balance_sat in new_balances.items())


def _apply_reserve(state: StateView, reserve: Reserve) -> Effects:
    check_code(reserve.code, what="reserve code")
    check_stored_text(reserve.name, what="reserve name")
    if not isinstance(reserve.no_sale, bool):
        raise BookError("no_sale must be true or false")
    if reserve.address_cap_sat is not None:
        check_amount_sat(reserve.address_cap_sat, what="per-address cap")
    if state.reserve(reserve.code) is not None:
        raise BookError(f"reserve {reserve.code} already exists")
    return Effects(added=(reserve,))


def _apply_partner(state: StateView, partner: Partner) -> Effects:
    check_code(partner.code, what="partner code")
    check_stored_text(partner.name, what="partner name")
    if state.partner(partner.code) is not None:
        raise BookError(f"partner {partner.code} already exists")
    return Effects(added=(partner,))


def _apply_case(state: StateView, case: Case) -> Effects:
    check_case_number(case.number)
    check_stored_text(case.agency, what="agency")
    check_stored_text(case.court, what="court", required=False)
    if state.case(case.number) is not None:
        raise BookError(f"case {case.number} already exists")
    new_agency = () if state.agency(case.agency) is not None else (Agency(case.agency),)
    return Effects(added=(*new_agency, case))


def _apply_wallet(state: StateView, wallet: Wallet) -> Effects:
    check_wallet_name(wallet.name)
    check_descriptor(wallet.descriptor)
    owner = check_account(wallet.owner)
    if owner.kind is AccountKind.RESERVE:
        if state.reserve(owner.name) is None:
            raise BookError(f"unknown reserve {owner.name!r}: add it with boveda reserve add")
    elif owner.kind is AccountKind.CUSTODY:
        if state.case(owner.name) is None:
            raise BookError(f"unknown case {owner.name!r}: add it with boveda case add")
    else:
        raise BookError(f"a wallet belongs to a reserve or a case's custody, not {wallet.owner}")
    if wallet.birth_height is not None:
        check_whole_number(wallet.birth_height, what="birth height", maximum=MAX_HEIGHT)
    if state.wallet(wallet.name) is not None:
        raise BookError(f"wallet {wallet.name} already exists")
    same = state.wallet_with_descriptor(wallet.descriptor)
    if same is not None:
        raise BookError(f"this descriptor is already registered as wallet {same.name} ({same.owner})")
    return Effects(added=(wallet,))


def _check_canonical_txid(txid: str) -> None:
    if check_txid(txid) != txid:
        raise BookError(f"txid {txid!r} is not in canonical lower-case form")


def _apply_seizure(state: StateView, event: LotSeized) -> Effects:
    lot = event.lot
    if type(lot.lot_id) is not int or lot.lot_id != state.next_lot_id():
        raise BookError(f"lot id {lot.lot_id} is out of sequence (next is {state.next_lot_id()})")
    if state.case(lot.case_number) is None:
        raise BookError(f"unknown case {lot.case_number!r}: add it with boveda case add")
    check_amount_sat(lot.amount_sat)
    _check_canonical_txid(lot.seizure_txid)
    for outpoint in lot.seizure_outpoints:
        if check_outpoint(outpoint) != outpoint:
            raise BookError(f"outpoint {outpoint!r} is not in canonical form")
    if len(set(lot.seizure_outpoints)) != len(lot.seizure_outpoints):
        raise BookError("a lot lists each seized outpoint at most once")
    check_stored_text(lot.seizure_ref, what="seizure reference", required=False)
    if lot.state is not LotState.SEIZED or lot.parent_lot_id is not None:
        raise BookError("a new lot starts seized, with no parent")
    if event.entry != seizure_entry(lot, state.next_entry_id()):
        raise BookError(f"the entry of lot {lot.lot_id}'s seizure does not match the lot")
    new_balances = check_entry(state, event.entry, from_lot=True)
    return Effects(added=(lot, event.entry), balances=_balances(new_balances))


def _apply_transition(state: StateView, event: LotTransitioned) -> Effects:
    t = event.transition
    if any(type(n) is not int for n in (t.transition_id, t.lot_id)) or not (
        t.entry_id is None or type(t.entry_id) is int
    ):
        raise BookError("a lot transition's ids must be whole numbers")
    lot = state.lot(t.lot_id)
    if lot is None:
        raise BookError(f"unknown lot {t.lot_id}")
    if t.transition_id != state.next_transition_id():
        raise BookError(f"transition id {t.transition_id} is out of sequence")
    if t.from_state is not lot.state:
        raise BookError(f"lot {lot.lot_id} is {lot.state.value}, not {t.from_state.value}")
    moving = t.to_state in MOVING_STATES
    destination = check_account(t.destination) if moving and t.destination is not None else None
    reserve = None
    if destination is not None and destination.kind is AccountKind.RESERVE:
        reserve = state.reserve(destination.name)
    check_transition(lot, t.to_state, reserve=reserve)
    check_stored_text(t.authority_ref, what=f"{t.to_state.value} order/agreement reference")
    if t.txid is not None:
        _check_canonical_txid(t.txid)
    if not moving:
        if (t.destination, t.txid, t.share_bp, t.entry_id) != (None, None, None, None):
            raise BookError(f"no coins move when a lot becomes {t.to_state.value}")
        if event.entry is not None or event.remainder is not None:
            raise BookError(f"no coins move when a lot becomes {t.to_state.value}")
        return Effects(added=(t,), lots_changed=(replace(lot, state=t.to_state),))

    _, family = MOVING_STATES[t.to_state]
    if destination is None or destination.kind is not family:
        raise BookError(f"a lot that becomes {t.to_state.value} goes to a {family.value} account, not {t.destination}")
    if family is AccountKind.RESERVE and reserve is None:
        raise BookError(f"unknown reserve {destination.name!r}: add it with boveda reserve add")
    if family is AccountKind.PARTNER:
        if state.partner(destination.name) is None:
            raise BookError(f"unknown partner {destination.name!r}: add it with boveda partner add")
        check_share_bp(t.share_bp)
        if lot.amount_sat * t.share_bp // 10_000 == 0:
            raise BookError(f"a {format_percent_bp(t.share_bp)} % share of lot {lot.lot_id} rounds to zero satoshis")
    elif t.share_bp is not None:
        raise BookError("a percentage belongs to sharing only")
    if t.entry_id != state.next_entry_id():
        raise BookError(f"entry id {t.entry_id} is out of sequence (next is {state.next_entry_id()})")
    entry = transition_entry(lot, t)
    if event.entry != entry:
        raise BookError(f"the entry of lot {lot.lot_id}'s transition does not match the transition")
    remainder = remainder_lot(lot, t, state.next_lot_id())
    if event.remainder != remainder:
        raise BookError(f"the remainder of lot {lot.lot_id}'s sharing does not match the transition")
    new_balances = check_entry(state, entry, from_lot=True)
    added: tuple[Record, ...] = (t, entry) if remainder is None else (t, entry, remainder)
    return Effects(added=added, lots_changed=(replace(lot, state=t.to_state),), balances=_balances(new_balances))


@dataclass(slots=True)
class MemoryState:
    """The whole book but its journal lines, in memory: for import and verification."""

    reserves: dict[str, Reserve] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    agencies: dict[str, Agency] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    wallets: dict[str, Wallet] = field(default_factory=dict)
    wallet_descriptors: dict[str, str] = field(default_factory=dict)
    balances: dict[Account, int] = field(default_factory=dict)
    last_entry_id: int = 0
    last_lot_id: int = 0
    last_transition_id: int = 0
    prices: dict[tuple[str, date], Price] = field(default_factory=dict)
    corrections_of: dict[int, tuple[Entry, ...]] = field(default_factory=dict)
    # The journal stays out of memory: a correction's original is read through ``entry_source`` (the
    # database rows already checked against the log). Without one, entries are kept here.
    entry_source: Callable[[int], Entry | None] | None = None
    entries: dict[int, Entry] = field(default_factory=dict)

    def reserve(self, code: str) -> Reserve | None:
        return self.reserves.get(code)

    def partner(self, code: str) -> Partner | None:
        return self.partners.get(code)

    def agency(self, name: str) -> Agency | None:
        return self.agencies.get(name)

    def case(self, number: str) -> Case | None:
        return self.cases.get(number)

    def lot(self, lot_id: int) -> Lot | None:
        return self.lots.get(lot_id)

    def wallet(self, name: str) -> Wallet | None:
        return self.wallets.get(name)

    def wallet_with_descriptor(self, descriptor: str) -> Wallet | None:
        name = self.wallet_descriptors.get(descriptor)
        return None if name is None else self.wallets[name]

    def balance(self, account: Account) -> int | None:
        return self.balances.get(account)

    def next_entry_id(self) -> int:
        return self.last_entry_id + 1

    def next_lot_id(self) -> int:
        return self.last_lot_id + 1

    def next_transition_id(self) -> int:
        return self.last_transition_id + 1

    def entry(self, entry_id: int) -> Entry | None:
        if self.entry_source is None:
            return self.entries.get(entry_id)
        return self.entry_source(entry_id) if 0 < entry_id <= self.last_entry_id else None

    def corrections(self, entry_id: int) -> tuple[Entry, ...]:
        return self.corrections_of.get(entry_id, ())

    def price(self, currency: str, on: date) -> Price | None:
        return self.prices.get((currency, on))

    def commit(self, effects: Effects) -> None:
        """Make ``effects`` part of this state (after :func:`apply` accepted them)."""
        for record in effects.added:
            if isinstance(record, Entry):
                self.last_entry_id = record.entry_id
                if self.entry_source is None:
                    self.entries[record.entry_id] = record
                if record.corrects_entry_id is not None:
                    self.corrections_of[record.corrects_entry_id] = (
                        *self.corrections_of.get(record.corrects_entry_id, ()), record)
            elif isinstance(record, LotTransition):
                self.last_transition_id = record.transition_id
            elif isinstance(record, Lot):
                self.lots[record.lot_id] = record
                self.last_lot_id = record.lot_id
            elif isinstance(record, Reserve):
                self.reserves[record.code] = record
            elif isinstance(record, Partner):
                self.partners[record.code] = record
            elif isinstance(record, Agency):
                self.agencies[record.name] = record
            elif isinstance(record, Case):
                self.cases[record.number] = record
            elif isinstance(record, Wallet):
                self.wallets[record.name] = record
                self.wallet_descriptors[record.descriptor] = record.name
        for lot in effects.lots_changed:
            self.lots[lot.lot_id] = lot
        for balance in effects.balances:
            self.balances[balance.account] = balance.balance_sat
        for price in effects.prices:
            self.prices[(price.currency, price.on)] = price
