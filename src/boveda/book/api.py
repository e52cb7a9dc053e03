"""The book's Python API: :class:`Book`, used by the CLI, the demo and the other layers.

Every method that changes the book builds one event, checks it against the rules
(:func:`boveda.book.state.apply`), writes its rows and appends it to the audit log, all in one
write transaction. A refused change raises :class:`BookError` and leaves the book — and its
audit head — exactly as it was. Amounts are satoshis (``int``); parse BTC strings with
:func:`boveda.money.parse_btc` at the edge. The commands themselves are in
:mod:`boveda.book.recording`, the read queries in :mod:`boveda.book.queries`; ``Book`` holds
the connection and the transaction in progress, and delegates.

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

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from boveda.book import recording
from boveda.book.audit import AuditEvent, AuditReport, append, iter_events, seal, verify
from boveda.book.checks import check_text, parse_date, parse_recorded_at
from boveda.book.domain import (
    Account,
    AuditHead,
    Case,
    Entry,
    EntryKind,
    Lot,
    LotState,
    Partner,
    Price,
    Reserve,
    Wallet,
)
from boveda.book.errors import BookError
from boveda.book.events import AlertAcknowledged, BookEvent
from boveda.book.export import ImportResult, export_to_file, import_events, read_export, write_export
from boveda.book.operators import resolve_operator
from boveda.book.reading import BookReads
from boveda.book.recording import TRANSFER_KINDS
from boveda.book.state import StateView, apply
from boveda.book.store import DbState, Store, database_error, describe, head_revision, read_head, write_effects

__all__ = ["TRANSFER_KINDS", "Book", "Clock", "InitResult", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


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


class Book(BookReads):
    """One book of record. Open with :meth:`open` (existing) or :meth:`init` then :meth:`open`."""

    def __init__(self, store: Store, *, clock: Clock = utc_now, operator: str | None = None,
                 approved_by: str | None = None, operator_required: bool = False) -> None:
        self.store = store
        self.clock = clock
        self._tx: _Tx | None = None
        self.operator = operator
        self.approved_by = approved_by
        # The faces (CLI, web) set this: every change they record names its operator (see boveda.book.operators).
        self.operator_required = operator_required

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
    def open(cls, location: str, *, create: bool = False, clock: Clock = utc_now, operator: str | None = None,
             approved_by: str | None = None, operator_required: bool = False) -> Book:
        """Open the book at ``location`` (a SQLite path or a postgresql:// URL).

        With ``create=True`` a missing book is created first (an existing one is opened as is).
        Every change is recorded as made by ``operator`` and approved by ``approved_by``. With
        ``operator_required`` a change without an operator is refused on PostgreSQL, and made by
        the OS user on SQLite.
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
        return cls(store, clock=clock, operator=operator, approved_by=approved_by,
                   operator_required=operator_required)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Book:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------

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

    def record(self, build: Callable[[StateView], BookEvent]) -> BookEvent:
        """Build one event from the book's state, check it against the rules, write it and append it to the log."""
        if self._tx is None:
            with self.atomic():
                return self.record(build)
        tx = self._tx
        operator = self.operator
        if operator is not None:
            operator = check_text(operator, what="operator (--by)")
        elif self.operator_required:
            operator = self.operator = resolve_operator(None, is_sqlite=self.store.is_sqlite)
        approved_by = None if self.approved_by is None else check_text(self.approved_by,
                                                                        what="approver (--approved-by)")
        state = DbState(tx.conn)
        event = build(state)
        recorded_at = self._recorded_at()
        effects = apply(state, event, recorded_on=parse_recorded_at(recorded_at))
        sealed = seal(tx.head, event, recorded_at, operator=operator, approved_by=approved_by)
        write_effects(tx.conn, effects)
        tx.head = append(tx.conn, sealed)
        return event

    def effective_date(self, value: date | str | None) -> date:
        """``value`` as a date; today by the book's clock (UTC) when ``None``."""
        return self.clock().astimezone(UTC).date() if value is None else parse_date(value)

    def _recorded_at(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")

    # -- recording (boveda.book.recording) ------------------------------------------------

    def add_reserve(
        self, code: str, *, name: str, no_sale: bool = False, address_cap_sat: int | None = None
    ) -> Reserve:
        """A reserve: ``no_sale`` refuses every sale from it; ``address_cap_sat`` is its per-address cap."""
        return recording.add_reserve(self, code, name=name, no_sale=no_sale, address_cap_sat=address_cap_sat)

    def add_partner(self, code: str, *, name: str) -> Partner:
        return recording.add_partner(self, code, name=name)

    def add_case(self, number: str, *, agency: str, court: str | None = None) -> Case:
        return recording.add_case(self, number, agency=agency, court=court)

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
        return recording.seize_lot(self, case=case, amount_sat=amount_sat, txid=txid, outpoints=outpoints, date=date,
                                   order=order)

    def mark_forfeiture_pending(self, lot_id: int, *, order: str, date: date | str | None = None) -> Lot:
        """seized → forfeiture_pending: forfeiture proceedings opened (complaint, notice) under ``order``."""
        return recording.transition(self, lot_id, LotState.FORFEITURE_PENDING, order=order, date=date)

    def forfeit_lot(self, lot_id: int, *, order: str, date: date | str | None = None) -> Lot:
        """forfeiture_pending → forfeited: the final order of forfeiture."""
        return recording.transition(self, lot_id, LotState.FORFEITED, order=order, date=date)

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
        return recording.allocate_lot(self, lot_id, to=to, order=order, percent_bp=percent_bp, txid=txid, date=date)

    def release_lot(self, lot_id: int, *, order: str, txid: str | None = None, date: date | str | None = None) -> Lot:
        """seized or forfeiture_pending → released: coins returned to the claimant under ``order``."""
        return recording.release_lot(self, lot_id, order=order, txid=txid, date=date)

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
        return recording.add_purchase(self, reserve=reserve, amount_sat=amount_sat, txid=txid, exchange=exchange,
                                      price_usd_cents=price_usd_cents, date=date, memo=memo)

    def add_transfer(
        self,
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
        """Coins moved from one account to another; the kind follows from the two accounts.

        ``wallets`` (paying, receiving) names the two wallets of a move, required (with its fee) for a
        move between two wallets of one holding (``from_account == to_account``), an internal transfer.

        ``fee_sat`` is a miners' fee paid on top by ``from_account`` (booked to ``expense:fees``).
        Restitution, release and sharing need ``order``. Coins leave custody only through a lot
        (``allocate_lot``/``release_lot``).
        """
        return recording.add_transfer(self, from_account=from_account, to_account=to_account, amount_sat=amount_sat,
                                      txid=txid, reason=reason, order=order, fee_sat=fee_sat, date=date,
                                      wallets=wallets)

    def record_entry(
        self,
        kind: EntryKind | str,
        postings: Sequence[tuple[Account | str, int]],
        *,
        txids: Sequence[str] = (),
        authority_ref: str | None = None,
        memo: str | None = None,
        price_usd_cents: int | None = None,
        date: date | str | None = None,
    ) -> Entry:
        """Any journal entry: ``postings`` are ``(account, amount_sat)``, positive received, negative given."""
        return recording.record_entry(self, kind, postings, txids=txids, authority_ref=authority_ref, memo=memo,
                                      price_usd_cents=price_usd_cents, date=date)

    def reverse_entry(self, entry_id: int, *, reason: str, order: str, resolves: str | None = None,
                      date: date | str | None = None) -> Entry:
        """Append the entry undoing entry ``entry_id`` (which stays as it was); returns the reversal."""
        return recording.reverse_entry(self, entry_id, reason=reason, order=order, resolves=resolves, date=date)

    def adjust_entry(self, entry_id: int, *, amount_sat: int, reason: str, order: str | None = None,
                     resolves: str | None = None, date: date | str | None = None) -> Entry:
        """Append the entry bringing what entry ``entry_id`` claims to ``amount_sat``; returns the adjustment."""
        return recording.adjust_entry(self, entry_id, amount_sat=amount_sat, reason=reason, order=order,
                                      resolves=resolves, date=date)

    def import_prices(self, prices: Sequence[Price], *, replace: bool = False) -> tuple[Price, ...]:
        """Record prices per BTC (one audited event); a stored day's price changes only with ``replace``.

        Returns the prices stored (new or changed; the same price again changes nothing).
        """
        return recording.import_prices(self, prices, replace=replace)

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
        return recording.add_wallet(self, name, descriptor=descriptor, reserve=reserve, case=case,
                                    birth_height=birth_height)

    def acknowledge_alert(self, alert_id: int, *, by: str, alert_kind: str, holding: str, txid: str) -> str:
        """Audit that ``by`` acknowledged the follower's alert ``alert_id``; returns when (ISO 8601 UTC).

        The alert's own row is the follower's: update it in the same :meth:`atomic` transaction.
        """
        event = AlertAcknowledged(alert_id, check_text(by, what="name of who acknowledges (--by)") or "",
                                  alert_kind, holding, txid)
        self.record(lambda state: event)
        return self._recorded_at()

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

    def export(self, path: str | os.PathLike[str], *, force: bool = False) -> AuditHead:
        """Write the whole book (its audit log) to a new file ``path`` as JSON (an existing one only with `force`)."""
        with self._reading() as conn:
            return export_to_file(conn, path, force=force)

    def write_export(self, out: TextIO) -> AuditHead:
        """Write the export document to an open text stream (e.g. stdout)."""
        with self._reading() as conn:
            return write_export(conn, out)

    def import_file(self, path: str | os.PathLike[str], *, progress: Callable[[int], None] | None = None,
                    check_event: Callable[[BookEvent], None] | None = None) -> ImportResult:
        """Replay an export into this book (empty, or a prefix of the file) in one transaction.

        ``check_event`` adds the checks of the layers above (see :func:`boveda.book.export.import_events`).
        """
        events, stated_head = read_export(path)
        if self._tx is not None:
            raise BookError("import cannot run inside another transaction")
        with self.store.write() as (conn, head):
            return import_events(conn, head, events, stated_head=stated_head, check_event=check_event,
                                 progress=progress)
