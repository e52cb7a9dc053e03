"""The book's Python API: :class:`Book`, used by the CLI, the demo and the other layers.

Every method that changes the book builds one event, checks it against the rules
(:func:`boveda.book.state.apply`), writes its rows and appends it to the audit log, all in one
write transaction. A refused change raises :class:`BookError` and leaves the book — and its
audit head — exactly as it was. Amounts are satoshis (``int``); parse BTC strings with
:func:`boveda.money.parse_btc` at the edge.

    with Book.open("boveda.db") as book:
        book.add_reserve("SV", name="El Salvador", address_cap_sat=parse_btc("500"))
        book.add_purchase(reserve="SV", amount_sat=100_000_000, txid="ab" * 32)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from boveda.book import schema as s
from boveda.book.audit import AuditEvent, AuditReport, append, iter_events, seal, verify
from boveda.book.custody import MOVING_STATES, remainder_lot, seizure_entry, transition_entry
from boveda.book.domain import (
    ACCOUNT_FEES,
    Account,
    AccountKind,
    AuditHead,
    Balance,
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
    check_amount_sat,
    check_name,
    check_outpoint,
    check_text,
    check_txid,
    parse_date,
)
from boveda.book.errors import BookError
from boveda.book.events import (
    BookEvent,
    CaseAdded,
    EntryRecorded,
    LotSeized,
    LotTransitioned,
    PartnerAdded,
    ReserveAdded,
    WalletAdded,
)
from boveda.book.export import ImportResult, export_to_file, import_events, read_export, write_export
from boveda.book.state import StateView, apply
from boveda.book.store import DbState, Store, database_error, describe, head_revision, read_head, write_effects

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True, slots=True)
class InitResult:
    location: str
    revision_before: str | None
    revision_after: str

    @property
    def created(self) -> bool:
        return self.revision_before is None


@dataclass(slots=True)
class _Tx:
    conn: Connection
    head: AuditHead


class Book:
    """One book of record. Open with :meth:`open` (existing) or :meth:`init` then :meth:`open`."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._tx: _Tx | None = None

    # -- opening --------------------------------------------------------------------------

    @staticmethod
    def init(location: str) -> InitResult:
        """Create the book's schema at ``location`` (or migrate an older one); refuse if it is current."""
        with Store(location, create=True) as store:
            try:
                with store.engine.connect() as conn:
                    current = store.revision(conn)
            except SQLAlchemyError as exc:
                raise database_error(exc, location) from None
            if current == head_revision():
                raise BookError(f"a book already exists at {describe(location)}")
            before, after = store.upgrade()
        return InitResult(location, before, after)

    @classmethod
    def open(cls, location: str, *, create: bool = False, clock: Clock = utc_now) -> Book:
        """Open the book at ``location`` (a SQLite path or a postgresql:// URL).

        With ``create=True`` a missing book is created first (an existing one is opened as is).
        """
        if create:
            store = Store(location, create=True)
            try:
                store.upgrade()
            except BaseException:
                store.close()
                raise
        else:
            store = Store(location)
        return cls(store, clock=clock)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recording ------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Connection]:
        """Group several changes into one transaction: all are recorded, or none.

        Yields the transaction's connection, for layers that keep their own tables in the
        book's database (the wallets' derived scripts) and must write in the same transaction.
        """
        if self._tx is not None:
            yield self._tx.conn
            return
        with self.store.write() as (conn, head):
            self._tx = _Tx(conn, head)
            try:
                yield conn
            finally:
                self._tx = None

    def _record(self, build: Callable[[StateView], BookEvent]) -> BookEvent:
        if self._tx is None:
            with self.atomic():
                return self._record(build)
        tx = self._tx
        state = DbState(tx.conn)
        event = build(state)
        effects = apply(state, event)
        write_effects(tx.conn, effects)
        tx.head = append(tx.conn, seal(tx.head, event, self._recorded_at()))
        return event

    def _recorded_at(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _date(self, value: date | str | None) -> date:
        return self.clock().astimezone(UTC).date() if value is None else parse_date(value)

    def add_reserve(
        self, code: str, *, name: str, no_sale: bool = False, address_cap_sat: int | None = None
    ) -> Reserve:
        """A reserve: ``no_sale`` refuses every sale from it; ``address_cap_sat`` is its per-address cap."""
        reserve = Reserve(code, check_text(name, what="reserve name"), bool(no_sale), address_cap_sat)
        self._record(lambda state: ReserveAdded(reserve))
        return reserve

    def add_partner(self, code: str, *, name: str) -> Partner:
        partner = Partner(code, check_text(name, what="partner name"))
        self._record(lambda state: PartnerAdded(partner))
        return partner

    def add_case(self, number: str, *, agency: str, court: str | None = None) -> Case:
        case = Case(number, check_text(agency, what="agency"), check_text(court, what="court", required=False))
        self._record(lambda state: CaseAdded(case))
        return case

    def seize_lot(
        self,
        *,
        case: str,
        amount_sat: int,
        txid: str,
        outpoints: Sequence[str] = (),
        date: date | str | None = None,
        order: str | None = None,
    ) -> Lot:
        """A new lot of ``amount_sat`` seized in ``case`` by transaction ``txid``; its coins enter ``custody:CASE``."""
        amount_sat = check_amount_sat(amount_sat)
        txid = check_txid(txid)
        outpoints = tuple(check_outpoint(o) for o in outpoints)
        seized_on = self._date(date)
        seizure_ref = check_text(order, what="seizure reference", required=False)

        def build(state: StateView) -> BookEvent:
            lot = Lot(state.next_lot_id(), case, amount_sat, txid, outpoints, seized_on, LotState.SEIZED, seizure_ref)
            return LotSeized(lot, seizure_entry(lot, state.next_entry_id()))

        event = self._record(build)
        assert isinstance(event, LotSeized)
        return event.lot

    def mark_forfeiture_pending(self, lot_id: int, *, order: str, date: date | str | None = None) -> Lot:
        """seized → forfeiture_pending: forfeiture proceedings opened (complaint, notice) under ``order``."""
        return self._transition(lot_id, LotState.FORFEITURE_PENDING, order=order, date=date)

    def forfeit_lot(self, lot_id: int, *, order: str, date: date | str | None = None) -> Lot:
        """forfeiture_pending → forfeited: the final order of forfeiture."""
        return self._transition(lot_id, LotState.FORFEITED, order=order, date=date)

    def allocate_lot(
        self,
        lot_id: int,
        *,
        to: str,
        order: str,
        percent_bp: int | None = None,
        txid: str | None = None,
        date: date | str | None = None,
    ) -> Lot:
        """forfeited → allocated: ``to`` is ``reserve:CODE``, ``restitution`` or ``sharing:PARTNER``.

        Sharing needs ``percent_bp`` (basis points, 10000 = 100 %); the partner receives that
        share, rounded down to the satoshi, and the rest stays in custody as a new forfeited lot.
        """
        if to.startswith("reserve:"):
            return self._transition(lot_id, LotState.ALLOCATED_RESERVE, order=order, date=date, txid=txid,
                                    destination=str(Account.parse(to)))
        if to == "restitution":
            return self._transition(lot_id, LotState.ALLOCATED_RESTITUTION, order=order, date=date, txid=txid,
                                    destination="external:victims")
        if to == "sharing" or to == "sharing:":
            raise BookError("sharing needs a partner government: --to sharing:PARTNER")
        if to.startswith("sharing:"):
            partner = str(Account.partner(to.removeprefix("sharing:")))
            Account.parse(partner)
            if percent_bp is None:
                raise BookError("sharing needs the partner's percentage (--percent)")
            return self._transition(lot_id, LotState.ALLOCATED_SHARING, order=order, date=date, txid=txid,
                                    destination=partner, share_bp=percent_bp)
        raise BookError(f"cannot allocate to {to!r}: use reserve:CODE, restitution or sharing:PARTNER")

    def release_lot(self, lot_id: int, *, order: str, txid: str | None = None, date: date | str | None = None) -> Lot:
        """seized or forfeiture_pending → released: coins returned to the claimant under ``order``."""
        return self._transition(lot_id, LotState.RELEASED, order=order, date=date, txid=txid,
                                destination="external:claimant")

    def _transition(
        self,
        lot_id: int,
        to_state: LotState,
        *,
        order: str,
        date: date | str | None,
        txid: str | None = None,
        destination: str | None = None,
        share_bp: int | None = None,
    ) -> Lot:
        authority_ref = check_text(order, what=f"{to_state.value} order/agreement reference (--order)")
        effective_date = self._date(date)
        txid = None if txid is None else check_txid(txid)

        def build(state: StateView) -> BookEvent:
            lot = state.lot(lot_id)
            if lot is None:
                raise BookError(f"unknown lot {lot_id}")
            moving = to_state in MOVING_STATES
            transition = LotTransition(
                state.next_transition_id(), lot_id, lot.state, to_state, authority_ref or "", effective_date,
                txid, destination, share_bp, state.next_entry_id() if moving else None,
            )
            entry = transition_entry(lot, transition)
            remainder = remainder_lot(lot, transition, state.next_lot_id()) if share_bp else None
            return LotTransitioned(transition, entry, remainder)

        self._record(build)
        lot = self.lot(lot_id)
        assert lot is not None
        return lot

    def add_purchase(
        self,
        *,
        reserve: str,
        amount_sat: int,
        txid: str,
        exchange: str = "unspecified",
        price_usd_cents: int | None = None,
        date: date | str | None = None,
        memo: str | None = None,
    ) -> Entry:
        """Coins bought for ``reserve`` from ``external:exchange:EXCHANGE``; ``price_usd_cents`` is per BTC."""
        amount_sat = check_amount_sat(amount_sat)
        source = str(Account.exchange(check_name(exchange, what="exchange name")))
        postings = ((source, -amount_sat), (str(Account.reserve(reserve)), amount_sat))
        return self.record_entry(EntryKind.PURCHASE, postings, txids=(txid,), date=date,
                                 price_usd_cents=price_usd_cents, memo=memo)

    def add_transfer(
        self,
        *,
        from_account: str,
        to_account: str,
        amount_sat: int,
        txid: str,
        reason: str,
        order: str | None = None,
        fee_sat: int | None = None,
        date: date | str | None = None,
    ) -> Entry:
        """Coins moved from one account to another; the kind follows from the two accounts.

        ``fee_sat`` is a miners' fee paid on top by ``from_account`` (booked to ``expense:fees``).
        Restitution, release and sharing need ``order``. Coins leave custody only through a lot
        (``allocate_lot``/``release_lot``).
        """
        source, target = Account.parse(from_account), Account.parse(to_account)
        if source == target:
            raise BookError(f"a transfer needs two different accounts, got {source} twice")
        kind = TRANSFER_KINDS.get((source.kind, target.kind))
        if kind is None:
            if source.kind is AccountKind.CUSTODY and target.kind is AccountKind.RESERVE:
                kind = EntryKind.FORFEITURE_TRANSFER  # refused by the rules with the precise reason
            elif source.kind is AccountKind.CUSTODY:
                raise BookError("coins leave custody only through a lot: boveda lot allocate or boveda lot release")
            else:
                raise BookError(f"no transfer from {source} to {target}: see boveda transfer add --help")
        amount_sat = check_amount_sat(amount_sat)
        postings = [(str(source), -amount_sat), (str(target), amount_sat)]
        if fee_sat is not None:
            check_amount_sat(fee_sat, what="fee")
            postings = [(str(source), -(amount_sat + fee_sat)), (str(target), amount_sat), (str(ACCOUNT_FEES), fee_sat)]
        return self.record_entry(kind, postings, txids=(txid,), authority_ref=order,
                                 memo=check_text(reason, what="reason"), date=date)

    def record_entry(
        self,
        kind: EntryKind | str,
        postings: Sequence[tuple[str, int]],
        *,
        txids: Sequence[str] = (),
        authority_ref: str | None = None,
        memo: str | None = None,
        price_usd_cents: int | None = None,
        date: date | str | None = None,
    ) -> Entry:
        """Any journal entry: ``postings`` are ``(account, amount_sat)``, positive received, negative given."""
        try:
            kind = EntryKind(kind)
        except ValueError:
            raise BookError(f"unknown entry kind {kind!r}: one of {', '.join(k.value for k in EntryKind)}") from None
        checked_txids = tuple(check_txid(t) for t in txids)
        authority_ref = check_text(authority_ref, what="authority reference", required=False)
        memo = check_text(memo, what="memo", required=False)
        effective_date = self._date(date)
        lines = tuple(Posting(account, amount_sat) for account, amount_sat in postings)

        def build(state: StateView) -> BookEvent:
            return EntryRecorded(
                Entry(state.next_entry_id(), kind, effective_date, lines, checked_txids, authority_ref, memo,
                      None, price_usd_cents)
            )

        event = self._record(build)
        assert isinstance(event, EntryRecorded)
        return event.entry

    def add_wallet(
        self,
        name: str,
        *,
        descriptor: str,
        reserve: str | None = None,
        case: str | None = None,
        birth_height: int | None = None,
    ) -> Wallet:
        """Register a watch-only wallet (an output descriptor with its checksum) of a reserve or a case's custody."""
        if (reserve is None) == (case is None):
            raise BookError("a wallet belongs to exactly one owner: give a reserve or a case")
        owner = str(Account.reserve(reserve)) if reserve is not None else str(Account.custody(case or ""))
        wallet = Wallet(name, descriptor.strip() if isinstance(descriptor, str) else descriptor, owner, birth_height)
        self._record(lambda state: WalletAdded(wallet))
        return wallet

    # -- reading --------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if self._tx is not None:
            yield self._tx.conn
        else:
            with self.store.read() as conn:
                yield conn

    def _all(self, query: sa.Select) -> list[sa.Row]:
        with self._reading() as conn:
            return list(conn.execute(query))

    def reserves(self) -> tuple[Reserve, ...]:
        return tuple(s.reserve_from_row(r) for r in self._all(sa.select(s.reserves).order_by(s.reserves.c.code)))

    def partners(self) -> tuple[Partner, ...]:
        return tuple(s.partner_from_row(r) for r in self._all(sa.select(s.partners).order_by(s.partners.c.code)))

    def cases(self) -> tuple[Case, ...]:
        return tuple(s.case_from_row(r) for r in self._all(sa.select(s.cases).order_by(s.cases.c.number)))

    def wallets(self) -> tuple[Wallet, ...]:
        return tuple(s.wallet_from_row(r) for r in self._all(sa.select(s.wallets).order_by(s.wallets.c.name)))

    def lots(self, *, parent_lot_id: int | None = None) -> tuple[Lot, ...]:
        """Every lot, or only the remainders split from ``parent_lot_id``."""
        query = sa.select(s.lots).order_by(s.lots.c.lot_id)
        if parent_lot_id is not None:
            query = query.where(s.lots.c.parent_lot_id == parent_lot_id)
        return tuple(s.lot_from_row(r) for r in self._all(query))

    def lot(self, lot_id: int) -> Lot | None:
        rows = self._all(sa.select(s.lots).where(s.lots.c.lot_id == lot_id))
        return s.lot_from_row(rows[0]) if rows else None

    def lot_transitions(self, lot_id: int | None = None) -> tuple[LotTransition, ...]:
        query = sa.select(s.lot_transitions).order_by(s.lot_transitions.c.transition_id)
        if lot_id is not None:
            query = query.where(s.lot_transitions.c.lot_id == lot_id)
        return tuple(s.transition_from_row(r) for r in self._all(query))

    def balances(self) -> tuple[Balance, ...]:
        """Every account's balance in satoshis (holdings positive; sources such as exchanges negative)."""
        query = sa.select(s.balances.c.account, s.balances.c.balance_sat).order_by(s.balances.c.account)
        return tuple(Balance(a, b) for a, b in self._all(query))

    def balance(self, account: str) -> int:
        query = sa.select(s.balances.c.balance_sat).where(s.balances.c.account == str(Account.parse(account)))
        rows = self._all(query)
        return rows[0][0] if rows else 0

    def iter_journal(self, *, chunk: int = 10_000) -> Iterator[Entry]:
        """Every entry in order, streamed."""
        with self._reading() as conn:
            last = 0
            while True:
                rows = list(conn.execute(
                    sa.select(s.entries).where(s.entries.c.entry_id > last).order_by(s.entries.c.entry_id).limit(chunk)
                ))
                if not rows:
                    return
                yield from _entries_with_lines(conn, rows)
                last = rows[-1][0]

    def journal(self) -> tuple[Entry, ...]:
        return tuple(self.iter_journal())

    def entries_citing(self, txid: str) -> tuple[Entry, ...]:
        """The entries that cite ``txid`` (for reconciliation)."""
        txid = check_txid(txid)
        with self._reading() as conn:
            citing = sa.select(s.entry_txids.c.entry_id).where(s.entry_txids.c.txid == txid)
            rows = list(conn.execute(sa.select(s.entries).where(s.entries.c.entry_id.in_(citing))
                                     .order_by(s.entries.c.entry_id)))
            return tuple(_entries_with_lines(conn, rows))

    # -- audit ----------------------------------------------------------------------------

    def audit_head(self) -> AuditHead:
        with self._reading() as conn:
            return read_head(conn)

    def verify(self, *, expected_head: str | None = None, progress: Callable[[int], None] | None = None) -> AuditReport:
        """Check the audit chain and every table against it (see :mod:`boveda.book.audit`)."""
        with self._reading() as conn:
            return verify(conn, expected_head=expected_head, progress=progress)

    def iter_audit_events(self) -> Iterator[AuditEvent]:
        with self._reading() as conn:
            yield from iter_events(conn)

    def export(self, path: str | os.PathLike[str]) -> AuditHead:
        """Write the whole book (its audit log) to ``path`` as JSON."""
        with self._reading() as conn:
            return export_to_file(conn, path)

    def write_export(self, out: TextIO) -> AuditHead:
        """Write the export document to an open text stream (e.g. stdout)."""
        with self._reading() as conn:
            return write_export(conn, out)

    def import_file(self, path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None) -> ImportResult:
        """Replay an export into this book (empty, or a prefix of the file) in one transaction."""
        events, _ = read_export(path)
        if self._tx is not None:
            raise BookError("import cannot run inside another transaction")
        with self.store.write() as (conn, head):
            return import_events(conn, head, events, progress=progress)


def _entries_with_lines(conn: Connection, rows: list[sa.Row]) -> Iterator[Entry]:
    if not rows:
        return
    low, high = rows[0][0], rows[-1][0]
    lines: dict[int, list[sa.Row]] = {}
    for row in conn.execute(
        sa.select(s.postings).where(s.postings.c.entry_id.between(low, high))
        .order_by(s.postings.c.entry_id, s.postings.c.line)
    ):
        lines.setdefault(row[0], []).append(row)
    txids: dict[int, list[sa.Row]] = {}
    for row in conn.execute(
        sa.select(s.entry_txids).where(s.entry_txids.c.entry_id.between(low, high))
        .order_by(s.entry_txids.c.entry_id, s.entry_txids.c.position)
    ):
        txids.setdefault(row[0], []).append(row)
    for row in rows:
        yield s.entry_from_rows(row, lines.get(row[0], []), txids.get(row[0], []))
