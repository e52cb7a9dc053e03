"""The transparency site's view of a whole book at one block: every reserve and custody holding
reconciled (the same `reconcile_account` path as `boveda reconcile`), with its history, addresses
and exposure, custody by legal state, and each tracked transaction across the holdings it touched.

A snapshot changes only when a block is synced or the book records an event: `site_version` says
which, cheaply, so a face can keep one snapshot per version.
"""

from __future__ import annotations

import bisect
import datetime
from dataclasses import dataclass, field, replace
from typing import Any

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Account, AuditHead, Balance, Case, Entry, Lot, LotState, LotTransition, Reserve
from boveda.book.json_forms import audit_head_json, case_json, entry_json, lot_json, reserve_json
from boveda.book.store import read_head
from boveda.errors import WalletError
from boveda.reconcile.model import Discrepancy, DiscrepancyKind, Movement, Reconciliation
from boveda.service.history import (
    AddressActivity,
    DayFlow,
    DayPoint,
    address_activity,
    change_over,
    daily_holdings,
    flows_by_day,
)
from boveda.service.published_proofs import PublishedProof
from boveda.service.reserve import ReserveView, holding_views
from boveda.service.wallets import reserve_exposure
from boveda.wallets import facts_store as facts
from boveda.wallets.report import ExposureReport
from boveda.wallets.sync import stored_network


@dataclass(frozen=True, slots=True)
class SiteVersion:
    """What a snapshot depends on: the synced tip (None before the first sync) and the audit head."""

    tip_height: int | None
    tip_hash_hex: str | None
    tip_time: int | None
    audit_head: AuditHead

    def to_json(self) -> dict[str, Any]:
        tip = None if self.tip_height is None else {"height": self.tip_height, "hash": self.tip_hash_hex,
                                                    "time": self.tip_time}
        return {"tip": tip, "audit_head": audit_head_json(self.audit_head)}


def site_version(book: Book) -> SiteVersion:
    """The synced tip and the audit head, read in one transaction (two indexed rows)."""
    with book.store.read() as conn:
        head = read_head(conn)
        try:
            height, block_hash, time = facts.synced_tip(conn)
        except WalletError:
            return SiteVersion(None, None, None, head)
    return SiteVersion(height, block_hash[::-1].hex(), time, head)


@dataclass(frozen=True, slots=True)
class HoldingSnapshot:
    """One reserve or custody holding at the snapshot's block."""

    account: Account
    title: str  # the reserve's name, or the case number
    view: ReserveView  # without its journal (kept once, in the snapshot's `entries`)
    days: tuple[DayPoint, ...]
    flows: tuple[DayFlow, ...]
    change_7d_sat: int
    change_30d_sat: int
    addresses: tuple[AddressActivity, ...]
    exposure: ExposureReport | None  # reserves only; at the synced tip

    @property
    def reconciliation(self) -> Reconciliation:
        return self.view.reconciliation

    def summary_json(self, reserve: Reserve | None = None, verified: PublishedProof | None = None) -> dict[str, Any]:
        """The holding in a few figures: on chain, claimed by the book, and verified by a proof bundle."""
        r = self.reconciliation
        found: dict[str, int] = {}
        for d in r.discrepancies:
            found[d.severity.value] = found.get(d.severity.value, 0) + 1
        return {
            **(reserve_json(reserve) if reserve is not None else {"account": str(self.account)}),
            "height": r.height, "block_hash": r.block_hash_hex, "block_date": self.view.block_date.isoformat(),
            "chain_balance_sat": r.chain_balance_sat, "book_balance_sat": r.book_balance_sat,
            "difference_sat": r.balance_difference_sat, "change_7d_sat": self.change_7d_sat,
            "change_30d_sat": self.change_30d_sat, "has_critical": r.has_critical, "discrepancies": found,
            "movement_count": len(r.movements),
            "verified": None if verified is None else {
                "file": verified.file_name, "height": verified.height, "verified_sat": verified.verified_sat,
                "note": "a valid proof shows control of at least these coins at its block"},
        }


@dataclass(frozen=True, slots=True)
class CustodySummary:
    """Cases and their lots by legal state. A lot shared with a partner counts only the share it gave:
    the remainder is a new forfeited lot (its child), counted in its own state."""

    cases: tuple[Case, ...]
    lots: tuple[Lot, ...]
    transitions: dict[int, tuple[LotTransition, ...]]
    amounts_sat: dict[int, int]  # per lot: what it holds or gave in its state (the share, for sharing)

    def totals(self) -> tuple[tuple[LotState, int, int], ...]:
        """(state, lots, satoshis) for every state, in lifecycle order."""
        return tuple((state, sum(1 for lot in self.lots if lot.state is state),
                      sum(self.amounts_sat[lot.lot_id] for lot in self.lots if lot.state is state))
                     for state in LotState)

    def to_json(self) -> dict[str, Any]:
        """`lots` is `boveda lots --json`'s list; `totals` counts each lot's amount in its state."""
        return {"cases": [case_json(c) for c in self.cases],
                "lots": [lot_json(lot, self.transitions.get(lot.lot_id, ())) for lot in self.lots],
                "totals": [{"state": state.value, "lot_count": count, "amount_sat": amount}
                           for state, count, amount in self.totals()]}


def custody_summary(book: Book) -> CustodySummary:
    lots = book.lots()
    transitions: dict[int, list[LotTransition]] = {}
    for t in book.lot_transitions():
        transitions.setdefault(t.lot_id, []).append(t)
    children: dict[int, int] = {}
    for lot in lots:
        if lot.parent_lot_id is not None:
            children[lot.parent_lot_id] = children.get(lot.parent_lot_id, 0) + lot.amount_sat
    amounts = {lot.lot_id: lot.amount_sat - (children.get(lot.lot_id, 0) if lot.state is LotState.ALLOCATED_SHARING
                                             else 0) for lot in lots}
    return CustodySummary(book.cases(), lots, {k: tuple(v) for k, v in transitions.items()}, amounts)


@dataclass(frozen=True, slots=True)
class TxEffect:
    """What one transaction did to one tracked holding, and the findings about it there."""

    account: Account
    movement: Movement
    discrepancies: tuple[Discrepancy, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"account": str(self.account), "movement": self.movement.to_json(),
                "discrepancies": [d.to_json() for d in self.discrepancies]}


@dataclass(frozen=True, slots=True)
class SiteSnapshot:
    version: SiteVersion
    height: int
    block_hash_hex: str
    block_date: datetime.date
    network: Network | None
    reserves: tuple[Reserve, ...]
    holdings: dict[Account, HoldingSnapshot]
    custody: CustodySummary
    balances: tuple[Balance, ...]
    entries: dict[int, Entry]  # the entries movements matched, and the book-only ones
    effects: dict[str, tuple[TxEffect, ...]]  # by txid
    block_heights: tuple[int, ...] = field(repr=False, default=())
    block_times: tuple[int, ...] = field(repr=False, default=())

    def reserve(self, code: str) -> HoldingSnapshot | None:
        return self.holdings.get(Account.reserve(code)) if any(r.code == code for r in self.reserves) else None

    def height_on(self, day: datetime.date) -> int | None:
        """The last synced block of `day` or before it (UTC), or None before the first."""
        end = int(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(),
                                            datetime.UTC).timestamp())
        # Block times are not monotonic by consensus; the synced blocks of one book nearly are, and the
        # answer is the highest block stamped before the day ended.
        at = bisect.bisect_left(self.block_times, end)
        return None if at == 0 else self.block_heights[at - 1]


def without_unconfirmed(view: ReserveView) -> ReserveView:
    """The view as the public sees it: entries citing a transaction not confirmed yet are the operator's
    business until the chain confirms them (a payment announced before it is mined, say)."""
    r = view.reconciliation
    kept = tuple(d for d in r.discrepancies if d.kind is not DiscrepancyKind.UNCONFIRMED_ENTRY)
    return view if len(kept) == len(r.discrepancies) else replace(view, reconciliation=replace(r, discrepancies=kept))


def build_snapshot(book: Book, height: int | None = None, *, public: bool = False) -> SiteSnapshot:
    """Every holding of the book reconciled at `height` (default: the synced tip), with what the site shows;
    `public` leaves out unconfirmed entries (see `without_unconfirmed`)."""
    version = site_version(book)
    if version.tip_height is None:
        raise WalletError("nothing has been synced yet: run boveda sync first")
    height = version.tip_height if height is None else height
    reserves = book.reserves()
    cases = book.cases()
    accounts = [(r.account, r.code) for r in reserves] + [(Account.custody(c.number), None) for c in cases]
    views = holding_views(book, accounts, height)
    journal = next(iter(views.values())).entries if views else ()
    if public:
        views = {account: without_unconfirmed(view) for account, view in views.items()}
    network = stored_network(book.store)
    exposures = {r.code: reserve_exposure(book, r.code) for r in reserves} if network is not None else {}
    titles = {r.account: r.name for r in reserves} | {Account.custody(c.number): c.number for c in cases}
    holdings = {}
    with book.store.read() as conn:
        times = facts.block_times_to(conn, version.tip_height)
        for account, code in accounts:
            view = views[account]
            days = daily_holdings(view.reconciliation, journal)
            exposure = exposures.get(code) if code else None
            addresses = address_activity(conn, account, height, network, exposure) if network else ()
            holdings[account] = HoldingSnapshot(
                account, titles[account], replace(view, entries=()), days, flows_by_day(view.reconciliation),
                change_over(days, view.block_date, 7), change_over(days, view.block_date, 30), addresses, exposure)
    by_time = sorted((time, h) for h, time in times.items())
    first = next(iter(views.values())).reconciliation if views else None
    return SiteSnapshot(
        version=version, height=height, block_hash_hex=first.block_hash_hex if first else "",
        block_date=next(iter(views.values())).block_date if views else _day_of(times.get(height, 0)),
        network=network, reserves=reserves, holdings=holdings, custody=custody_summary(book),
        balances=book.balances(), entries=_cited_entries(views.values(), journal), effects=_effects(holdings),
        block_heights=tuple(h for _, h in by_time), block_times=tuple(t for t, _ in by_time))


def _cited_entries(views, journal: tuple[Entry, ...]) -> dict[int, Entry]:
    wanted: set[int] = set()
    for view in views:
        r = view.reconciliation
        wanted.update(i for m in r.movements for i in m.entry_ids)
        wanted.update(d.entry_id for d in r.discrepancies if d.entry_id is not None)
        wanted.update(e.entry_id for e in r.book_only_entries)
    return {e.entry_id: e for e in journal if e.entry_id in wanted}


def _effects(holdings: dict[Account, HoldingSnapshot]) -> dict[str, tuple[TxEffect, ...]]:
    found: dict[str, list[TxEffect]] = {}
    for account, holding in holdings.items():
        flagged: dict[str, list[Discrepancy]] = {}
        for d in holding.reconciliation.discrepancies:
            if d.txid_hex:
                flagged.setdefault(d.txid_hex, []).append(d)
        for m in holding.reconciliation.movements:
            found.setdefault(m.txid_hex, []).append(TxEffect(account, m, tuple(flagged.get(m.txid_hex, ()))))
    return {txid: tuple(effects) for txid, effects in found.items()}


def _day_of(time: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(time, datetime.UTC).date()


@dataclass(frozen=True, slots=True)
class TxView:
    """One transaction as the site shows it: its block, what it did to each tracked holding, and the
    entries that cite it (also those that cite a transaction no tracked wallet saw)."""

    txid_hex: str
    height: int | None
    block_hash_hex: str | None
    block_date: datetime.date | None
    effects: tuple[TxEffect, ...]
    entries: tuple[Entry, ...]

    def to_json(self) -> dict[str, Any]:
        return {"txid": self.txid_hex, "height": self.height, "block_hash": self.block_hash_hex,
                "date": None if self.block_date is None else self.block_date.isoformat(),
                "holdings": [e.to_json() for e in self.effects], "entries": [entry_json(e) for e in self.entries]}


def tx_view(book: Book, snapshot: SiteSnapshot, txid_hex: str, *, public: bool = False) -> TxView | None:
    """`txid_hex` (lower-case display order) across the snapshot's holdings; None when neither a tracked
    wallet nor an entry knows it (nor, when `public`, a tracked wallet: entries citing a transaction the
    chain has not confirmed are not published)."""
    effects = snapshot.effects.get(txid_hex, ())
    if public and not effects:
        return None
    entries = book.entries_citing(txid_hex)
    if not effects and not entries:
        return None
    if not effects:
        return TxView(txid_hex, None, None, None, (), entries)
    height = effects[0].movement.height
    with book.store.read() as conn:
        block = facts.synced_block(conn, height)
    return TxView(txid_hex, height, None if block is None else block[0][::-1].hex(), effects[0].movement.block_date,
                  effects, entries)
