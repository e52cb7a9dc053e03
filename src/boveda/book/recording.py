"""The book's commands: each checks its arguments, builds one event from the book's state and
records it through a :class:`Recorder` (the :class:`boveda.book.api.Book`), which runs the
rules (:func:`boveda.book.state.apply`) and appends the event to the audit log.

A refused command raises :class:`BookError` and records nothing. Amounts are satoshis;
accounts are :class:`Account` values or their text (``reserve:SV``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Protocol

from boveda.book.checks import (
    check_amount_sat,
    check_name,
    check_outpoint,
    check_text,
    check_txid,
    check_wallet_name,
)
from boveda.book.corrections import adjustment_entry, correctable, reversal_entry
from boveda.book.custody import MOVING_STATES, remainder_lot, seizure_entry, transition_entry
from boveda.book.domain import (
    ACCOUNT_CLAIMANT,
    ACCOUNT_FEES,
    ACCOUNT_VICTIMS,
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
    Price,
    Reserve,
    Wallet,
    as_account,
)
from boveda.book.errors import BookError
from boveda.book.events import (
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
from boveda.book.prices import check_import
from boveda.book.state import StateView


class Recorder(Protocol):
    """Where commands record their events."""

    def record(self, build: Callable[[StateView], BookEvent]) -> BookEvent:
        """Build the event from the book's state inside one write transaction, apply the rules, append it."""
        ...

    def effective_date(self, value: date | str | None) -> date:
        """``value`` as a date; today (UTC, by the recorder's clock) when ``None``."""
        ...


# (from family, to family) -> the kind `add_transfer` records; pairs not listed are refused.
_K = AccountKind
TRANSFER_KINDS: dict[tuple[AccountKind, AccountKind], EntryKind] = {
    (_K.RESERVE, _K.RESERVE): EntryKind.INTERNAL_TRANSFER,
    (_K.CUSTODY, _K.CUSTODY): EntryKind.INTERNAL_TRANSFER,
    (_K.RESERVE, _K.FEES): EntryKind.FEE,
    (_K.CUSTODY, _K.FEES): EntryKind.FEE,
    (_K.RESERVE, _K.EXCHANGE): EntryKind.SALE,
    (_K.EXCHANGE, _K.RESERVE): EntryKind.PURCHASE,
    (_K.RESERVE, _K.VICTIMS): EntryKind.RESTITUTION,
    (_K.RESERVE, _K.CLAIMANT): EntryKind.RELEASE,
    (_K.RESERVE, _K.PARTNER): EntryKind.SHARING,
    (_K.PARTNER, _K.RESERVE): EntryKind.SHARING,
    (_K.MINER, _K.RESERVE): EntryKind.MINING,
    (_K.DONOR, _K.RESERVE): EntryKind.DONATION,
}


def add_reserve(
    book: Recorder, code: str, *, name: str, no_sale: bool = False, address_cap_sat: int | None = None
) -> Reserve:
    reserve = Reserve(code, check_text(name, what="reserve name"), bool(no_sale), address_cap_sat)
    book.record(lambda state: ReserveAdded(reserve))
    return reserve


def add_partner(book: Recorder, code: str, *, name: str) -> Partner:
    partner = Partner(code, check_text(name, what="partner name"))
    book.record(lambda state: PartnerAdded(partner))
    return partner


def add_case(book: Recorder, number: str, *, agency: str, court: str | None = None) -> Case:
    case = Case(number, check_text(agency, what="agency"), check_text(court, what="court", required=False))
    book.record(lambda state: CaseAdded(case))
    return case


def seize_lot(
    book: Recorder,
    *,
    case: str,
    amount_sat: int,
    txid: str,
    outpoints: Sequence[str] = (),
    date: date | str | None = None,
    order: str | None = None,
) -> Lot:
    amount_sat = check_amount_sat(amount_sat)
    txid = check_txid(txid)
    checked_outpoints = tuple(check_outpoint(o) for o in outpoints)
    seized_on = book.effective_date(date)
    seizure_ref = check_text(order, what="seizure reference", required=False)

    def build(state: StateView) -> BookEvent:
        lot = Lot(lot_id=state.next_lot_id(), case_number=case, amount_sat=amount_sat, seizure_txid=txid,
                  seizure_outpoints=checked_outpoints, seized_on=seized_on, state=LotState.SEIZED,
                  seizure_ref=seizure_ref)
        return LotSeized(lot, seizure_entry(lot, state.next_entry_id()))

    event = book.record(build)
    assert isinstance(event, LotSeized)
    return event.lot


def allocation(to: str, percent_bp: int | None) -> tuple[LotState, Account]:
    """What ``lot allocate --to TO`` means: ``reserve:CODE``, ``restitution`` or ``sharing:PARTNER``."""
    if to.startswith("reserve:"):
        return LotState.ALLOCATED_RESERVE, Account.parse(to)
    if to == "restitution":
        return LotState.ALLOCATED_RESTITUTION, ACCOUNT_VICTIMS
    if to == "sharing" or to == "sharing:":
        raise BookError("sharing needs a partner government: --to sharing:PARTNER")
    if to.startswith("sharing:"):
        partner = Account.parse(str(Account.partner(to.removeprefix("sharing:"))))
        if percent_bp is None:
            raise BookError("sharing needs the partner's percentage (--percent)")
        return LotState.ALLOCATED_SHARING, partner
    raise BookError(f"cannot allocate to {to!r}: use reserve:CODE, restitution or sharing:PARTNER")


def allocate_lot(
    book: Recorder,
    lot_id: int,
    *,
    to: str,
    order: str,
    percent_bp: int | None = None,
    txid: str | None = None,
    date: date | str | None = None,
) -> Lot:
    to_state, destination = allocation(to, percent_bp)
    share_bp = percent_bp if to_state is LotState.ALLOCATED_SHARING else None
    return transition(book, lot_id, to_state, order=order, date=date, txid=txid, destination=destination,
                      share_bp=share_bp)


def release_lot(
    book: Recorder, lot_id: int, *, order: str, txid: str | None = None, date: date | str | None = None
) -> Lot:
    return transition(book, lot_id, LotState.RELEASED, order=order, date=date, txid=txid,
                      destination=ACCOUNT_CLAIMANT)


def transition(
    book: Recorder,
    lot_id: int,
    to_state: LotState,
    *,
    order: str,
    date: date | str | None,
    txid: str | None = None,
    destination: Account | None = None,
    share_bp: int | None = None,
) -> Lot:
    """One step of a lot's lifecycle; returns the lot as it now stands."""
    authority_ref = check_text(order, what=f"{to_state.value} order/agreement reference (--order)")
    effective_date = book.effective_date(date)
    txid = None if txid is None else check_txid(txid)
    moved: list[Lot] = []

    def build(state: StateView) -> BookEvent:
        lot = state.lot(lot_id)
        if lot is None:
            raise BookError(f"unknown lot {lot_id}")
        moving = to_state in MOVING_STATES
        step = LotTransition(
            transition_id=state.next_transition_id(), lot_id=lot_id, from_state=lot.state, to_state=to_state,
            authority_ref=authority_ref or "", effective_date=effective_date, txid=txid, destination=destination,
            share_bp=share_bp, entry_id=state.next_entry_id() if moving else None,
        )
        entry = transition_entry(lot, step)
        remainder = remainder_lot(lot, step, state.next_lot_id()) if share_bp else None
        moved.append(replace(lot, state=to_state))
        return LotTransitioned(step, entry, remainder)

    book.record(build)
    return moved[-1]


def add_purchase(
    book: Recorder,
    *,
    reserve: str,
    amount_sat: int,
    txid: str,
    exchange: str = "unspecified",
    price_usd_cents: int | None = None,
    date: date | str | None = None,
    memo: str | None = None,
) -> Entry:
    amount_sat = check_amount_sat(amount_sat)
    source = Account.exchange(check_name(exchange, what="exchange name"))
    postings = ((source, -amount_sat), (Account.reserve(reserve), amount_sat))
    return record_entry(book, EntryKind.PURCHASE, postings, txids=(txid,), date=date,
                        price_usd_cents=price_usd_cents, memo=memo)


def transfer_kind(source: Account, target: Account, *, wallets: tuple[str, str] | None = None) -> EntryKind:
    """The kind of entry a transfer from ``source`` to ``target`` records; BookError when there is none."""
    if wallets is not None:
        if source.kind not in (AccountKind.RESERVE, AccountKind.CUSTODY) or source.kind is not target.kind:
            raise BookError("a move between wallets (--wallets) stays within reserves or within custody")
        return EntryKind.INTERNAL_TRANSFER
    if source == target:
        raise BookError(f"a transfer needs two different accounts, got {source} twice: for a move between two "
                        "of its own wallets give --wallets FROM:TO and the fee")
    kind = TRANSFER_KINDS.get((source.kind, target.kind))
    if kind is not None:
        return kind
    if source.kind is AccountKind.CUSTODY and target.kind is AccountKind.RESERVE:
        return EntryKind.FORFEITURE_TRANSFER  # refused by the rules with the precise reason
    if source.kind is AccountKind.CUSTODY:
        raise BookError("coins leave custody only through a lot: boveda lot allocate or boveda lot release")
    raise BookError(f"no transfer from {source} to {target}: see boveda transfer add --help")


def add_transfer(
    book: Recorder,
    *,
    from_account: Account | str,
    to_account: Account | str,
    amount_sat: int,
    txid: str,
    reason: str,
    order: str | None = None,
    fee_sat: int | None = None,
    date: date | str | None = None,
    wallets: tuple[str, str] | None = None,
) -> Entry:
    """``wallets`` (paying, receiving) records a move between two wallets, possibly of the same holding."""
    source, target = as_account(from_account), as_account(to_account)
    if wallets is not None:
        wallets = (check_wallet_name(wallets[0]), check_wallet_name(wallets[1]))
        if source == target and fee_sat is None:
            raise BookError("a move between two wallets of one holding pays a miners' fee: give --fee")
    kind = transfer_kind(source, target, wallets=wallets)
    amount_sat = check_amount_sat(amount_sat)
    postings = [(source, -amount_sat), (target, amount_sat)]
    if fee_sat is not None:
        check_amount_sat(fee_sat, what="fee")
        postings = [(source, -(amount_sat + fee_sat)), (target, amount_sat), (ACCOUNT_FEES, fee_sat)]
    return record_entry(book, kind, postings, txids=(txid,), authority_ref=order,
                        memo=check_text(reason, what="reason"), date=date, wallets=wallets)


def record_entry(
    book: Recorder,
    kind: EntryKind | str,
    postings: Sequence[tuple[Account | str, int]],
    *,
    txids: Sequence[str] = (),
    authority_ref: str | None = None,
    memo: str | None = None,
    price_usd_cents: int | None = None,
    date: date | str | None = None,
    wallets: tuple[str, str] | None = None,
) -> Entry:
    try:
        kind = EntryKind(kind)
    except ValueError:
        raise BookError(f"unknown entry kind {kind!r}: one of {', '.join(k.value for k in EntryKind)}") from None
    checked_txids = tuple(check_txid(t) for t in txids)
    authority_ref = check_text(authority_ref, what="authority reference", required=False)
    memo = check_text(memo, what="memo", required=False)
    effective_date = book.effective_date(date)
    lines = tuple(Posting(as_account(account), amount_sat) for account, amount_sat in postings)

    def build(state: StateView) -> BookEvent:
        return EntryRecorded(Entry(
            entry_id=state.next_entry_id(), kind=kind, effective_date=effective_date, postings=lines,
            txids=checked_txids, authority_ref=authority_ref, memo=memo, price_usd_cents=price_usd_cents,
            from_wallet=None if wallets is None else wallets[0], to_wallet=None if wallets is None else wallets[1],
        ))

    event = book.record(build)
    assert isinstance(event, EntryRecorded)
    return event.entry


def add_wallet(
    book: Recorder,
    name: str,
    *,
    descriptor: str,
    reserve: str | None = None,
    case: str | None = None,
    birth_height: int | None = None,
) -> Wallet:
    if (reserve is None) == (case is None):
        raise BookError("a wallet belongs to exactly one owner: give a reserve or a case")
    owner = Account.reserve(reserve) if reserve is not None else Account.custody(case or "")
    wallet = Wallet(name, descriptor.strip() if isinstance(descriptor, str) else descriptor, owner, birth_height)
    book.record(lambda state: WalletAdded(wallet))
    return wallet


def reverse_entry(
    book: Recorder, entry_id: int, *, reason: str, order: str, resolves: str | None = None,
    date: date | str | None = None,
) -> Entry:
    """Append the entry that undoes entry ``entry_id`` (never edited); returns the reversal."""
    reason_text = check_text(reason, what="reason (--reason)") or ""
    order_text = check_text(order, what="order or decision reference of a reversal (--order)") or ""
    resolved = check_text(resolves, what="finding resolved (--resolves)", required=False)
    effective_date = book.effective_date(date)

    def build(state: StateView) -> BookEvent:
        original, corrections = correctable(state, entry_id)
        return EntryRecorded(reversal_entry(original, corrections, entry_id=state.next_entry_id(),
                                            effective_date=effective_date, reason=reason_text, order=order_text,
                                            resolves=resolved))

    return _recorded_entry(book.record(build))


def adjust_entry(
    book: Recorder, entry_id: int, *, amount_sat: int, reason: str, order: str | None = None,
    resolves: str | None = None, date: date | str | None = None,
) -> Entry:
    """Append the entry that brings what entry ``entry_id`` claims to ``amount_sat``; returns the adjustment."""
    amount_sat = check_amount_sat(amount_sat, what="adjusted amount (--amount)")
    reason_text = check_text(reason, what="reason (--reason)") or ""
    order_text = check_text(order, what="order reference (--order)", required=False)
    resolved = check_text(resolves, what="finding resolved (--resolves)", required=False)
    effective_date = book.effective_date(date)

    def build(state: StateView) -> BookEvent:
        original, corrections = correctable(state, entry_id)
        return EntryRecorded(adjustment_entry(original, corrections, amount_sat=amount_sat,
                                              entry_id=state.next_entry_id(), effective_date=effective_date,
                                              reason=reason_text, order=order_text, resolves=resolved))

    return _recorded_entry(book.record(build))


def _recorded_entry(event: BookEvent) -> Entry:
    assert isinstance(event, EntryRecorded)
    return event.entry


def import_prices(book: Recorder, prices: Sequence[Price], *, replace: bool = False) -> tuple[Price, ...]:
    """Record ``prices`` as one ``prices.imported`` event; returns the prices it stored (new or changed)."""
    checked = check_import(prices)
    stored: list[Price] = []

    def build(state: StateView) -> BookEvent:
        stored[:] = [p for p in checked if state.price(p.currency, p.on) != p]
        return PricesImported(checked, bool(replace))

    book.record(build)
    return tuple(stored)
