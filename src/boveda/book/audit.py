"""The audit log: an append-only, hash-chained record of every change to the book.

Event ``n`` is stored with its canonical payload and

    hash_n = SHA-256( canonical_json({"kind": …, "payload": …, "prev_hash": hash_(n-1),
                                      "recorded_at": …, "seq": n}) )

as lower-case hex, with ``hash_0`` = 64 zeros. An event recorded with an operator (schema 0005
on) also hashes ``"operator"`` and, when there is one, ``"approved_by"`` — the same canonical
document with those keys added — so an event without them (every event of an older book)
keeps its hash, and who did what cannot be changed without breaking the chain. Canonical JSON is UTF-8, keys sorted, no
whitespace, no floats (RFC 8785 for the values the book uses), so anyone can recompute the
chain from an export with any JSON library.

Verification replays the log through the same rules that recorded it
(:func:`boveda.book.state.apply`) and compares the result with every table, so an edited,
deleted, inserted or reordered row — in the log or in the tables — is found, and the first
bad event is named. Truncating the newest events *and* their rows is only visible against a
head published earlier: pass it as ``expected_head``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda import strict_json
from boveda.book import schema as s
from boveda.book.checks import check_stored_text, parse_recorded_at
from boveda.book.domain import GENESIS_HASH, AuditHead, Entry, LotTransition
from boveda.book.errors import BookError
from boveda.book.events import BookEvent, event_from_payload
from boveda.book.state import MemoryState, apply
from boveda.book.store import entry_by_id

_dumps_str = json.JSONEncoder(ensure_ascii=False).encode


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text; floats are refused (amounts are integer satoshis)."""
    text = canonical_json_of_parsed(value)
    loads_no_floats(text)  # the C parser finds a float faster than walking the value in Python
    return text


def canonical_json_of_parsed(value: Any) -> str:
    """:func:`canonical_json` of a value that :func:`loads_no_floats` produced (so holds no float)."""
    if not isinstance(value, (dict, list)):
        raise BookError("an audit payload is a JSON object")
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BookError(f"an audit payload must be plain JSON: {exc}") from None


def loads_no_floats(text: str) -> Any:
    """``json.loads`` that refuses floating-point numbers, NaN, infinities and duplicate keys (BookError)."""
    try:
        return strict_json.loads(text, max_depth=None, max_int_digits=None)
    except strict_json.StrictJSONError as exc:
        raise BookError(f"not JSON this reader accepts: {exc}") from None


def event_document(seq: int, kind: str, recorded_at: str, payload_json: str, prev_hash: str,
                   operator: str | None = None, approved_by: str | None = None) -> str:
    """The canonical JSON of one event, built around its already-canonical payload text.

    Keys sorted: ``approved_by`` and ``operator`` appear only when set (an approver only beside an operator).
    """
    approved = "" if approved_by is None else f'"approved_by":{_dumps_str(approved_by)},'
    by = "" if operator is None else f'"operator":{_dumps_str(operator)},'
    return (
        f'{{{approved}"kind":{_dumps_str(kind)},{by}"payload":{payload_json},"prev_hash":{_dumps_str(prev_hash)},'
        f'"recorded_at":{_dumps_str(recorded_at)},"seq":{seq}}}'
    )


def event_hash(seq: int, kind: str, recorded_at: str, payload_json: str, prev_hash: str,
               operator: str | None = None, approved_by: str | None = None) -> str:
    if approved_by is not None and operator is None:
        raise BookError("an event names its approver only beside its operator")
    document = event_document(seq, kind, recorded_at, payload_json, prev_hash, operator, approved_by)
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def check_actor(operator: str | None, approved_by: str | None) -> None:
    """Who recorded an event and who approved it, as stored: trimmed one-line names; an approver needs an operator."""
    check_stored_text(operator, what="operator (--by)", required=False)
    check_stored_text(approved_by, what="approver (--approved-by)", required=False)
    if approved_by is not None and operator is None:
        raise BookError("an approver (--approved-by) is recorded beside the operator who recorded the change (--by)")
    if approved_by is not None and approved_by == operator:
        raise BookError(f"{operator} cannot approve their own change: --approved-by names someone else")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One stored event of the log."""

    seq: int
    kind: str
    recorded_at: str
    payload_json: str
    prev_hash: str
    hash_hex: str
    operator: str | None = None  # who recorded it (None in events recorded before schema 0005)
    approved_by: str | None = None  # who approved it, when someone did

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "kind": self.kind,
            "recorded_at": self.recorded_at,
            "payload": json.loads(self.payload_json),
            "prev_hash": self.prev_hash,
            "hash": self.hash_hex,
        }
        if self.operator is not None:
            out["operator"] = self.operator
        if self.approved_by is not None:
            out["approved_by"] = self.approved_by
        return out

    @property
    def expected_hash(self) -> str:
        return event_hash(self.seq, self.kind, self.recorded_at, self.payload_json, self.prev_hash, self.operator,
                          self.approved_by)


def seal(head: AuditHead, event: BookEvent, recorded_at: str, *, operator: str | None = None,
         approved_by: str | None = None) -> AuditEvent:
    """The audit record of ``event`` appended after ``head``, recorded by ``operator`` (approved by ``approved_by``)."""
    check_actor(operator, approved_by)
    payload_json = canonical_json(event.to_payload())
    seq = head.seq + 1
    kind = event.kind.value
    return AuditEvent(seq, kind, recorded_at, payload_json, head.hash_hex,
                      event_hash(seq, kind, recorded_at, payload_json, head.hash_hex, operator, approved_by),
                      operator, approved_by)


def append(conn: Connection, event: AuditEvent) -> AuditHead:
    """Store ``event`` and move the head to it (inside the caller's write transaction)."""
    conn.execute(
        s.audit_events.insert().values(
            seq=event.seq, kind=event.kind, recorded_at=event.recorded_at, payload=event.payload_json,
            prev_hash=event.prev_hash, hash=event.hash_hex, operator=event.operator, approved_by=event.approved_by,
        )
    )
    conn.execute(s.audit_head.update().where(s.audit_head.c.id == 1).values(seq=event.seq, hash=event.hash_hex))
    return AuditHead(event.seq, event.hash_hex)


def raw_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders) straight from the driver, inside ``conn``'s transaction.

    Verification and export read every row of the book; skipping SQLAlchemy's per-row
    processing roughly halves their time. Only for columns whose driver types are already
    the Python ones (text, integers).
    """
    if conn.dialect.name != "sqlite":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def iter_events(conn: Connection, *, after_seq: int = 0, chunk: int = 20_000) -> Iterator[AuditEvent]:
    """All stored events in order, streamed in chunks by key range (constant memory on both databases)."""
    sql = ("SELECT seq, kind, recorded_at, payload, prev_hash, hash, operator, approved_by FROM audit_events "
           "WHERE seq > ? ORDER BY seq LIMIT ?")
    last = after_seq
    while True:
        rows = raw_rows(conn, sql, (last, chunk))
        for row in rows:
            yield AuditEvent(*row)
        if len(rows) < chunk:
            return
        last = rows[-1][0]


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """Something in the book that its log does not account for; ``seq`` is the event it concerns."""

    seq: int | None
    message: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    events_checked: int
    head: AuditHead
    problems: tuple[AuditProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "head": {"seq": self.head.seq, "hash": self.head.hash_hex},
            "first_bad_seq": self.first_bad_seq,
            "problems": [{"seq": p.seq, "message": p.message} for p in self.problems],
        }


class _Stop(Exception):
    """The log cannot be followed past this point."""


class _TableStream:
    """Rows of an append-only table in key order, compared one by one with the rows the log implies."""

    def __init__(self, conn: Connection, table: sa.Table, chunk: int = 20_000) -> None:
        self.conn = conn
        self.table = table
        self.key_columns = list(table.primary_key.columns)
        self.chunk = chunk
        self.buffer: list[tuple[Any, ...]] = []
        self.pos = 0
        self.last_key: tuple[Any, ...] | None = None
        self.exhausted = False

    def _refill(self) -> None:
        columns = ", ".join(c.name for c in self.table.columns)
        keys = [c.name for c in self.key_columns]
        order = ", ".join(keys)
        if self.last_key is None:
            where, params = "", ()
        elif len(keys) == 1:
            where, params = f"WHERE {keys[0]} > ? ", self.last_key
        else:
            where = f"WHERE ({order}) > ({', '.join('?' for _ in keys)}) "
            params = self.last_key
        sql = f"SELECT {columns} FROM {self.table.name} {where}ORDER BY {order} LIMIT ?"
        self.buffer = raw_rows(self.conn, sql, (*params, self.chunk))
        self.pos = 0
        if len(self.buffer) < self.chunk:
            self.exhausted = True
        if self.buffer:
            self.last_key = tuple(self.buffer[-1][: len(keys)])

    def next_row(self) -> tuple[Any, ...] | None:
        if self.pos >= len(self.buffer):
            if self.exhausted:
                return None
            self._refill()
            if not self.buffer:
                return None
        row = self.buffer[self.pos]
        self.pos += 1
        return row

    def expect(self, expected: tuple[Any, ...], seq: int) -> None:
        actual = self.next_row()
        if actual == expected:
            return
        name = self.table.name
        width = len(self.key_columns)
        if actual is None:
            raise _Stop(AuditProblem(seq, f"event {seq}: row {name}{list(expected[:width])} is missing"))
        if actual[:width] != expected[:width]:
            if actual[:width] < expected[:width]:
                raise _Stop(AuditProblem(seq, f"event {seq}: row {name}{list(actual[:width])} is not in the audit log"))
            raise _Stop(AuditProblem(seq, f"event {seq}: row {name}{list(expected[:width])} is missing"))
        raise _Stop(AuditProblem(seq, f"event {seq}: row {name}{list(expected[:width])} differs from the audit log: "
                                      f"{_diff(self.table, expected, actual)}"))

    def leftover(self) -> AuditProblem | None:
        actual = self.next_row()
        if actual is None:
            return None
        width = len(self.key_columns)
        return AuditProblem(None, f"row {self.table.name}{list(actual[:width])} is not in the audit log")


def _diff(table: sa.Table, expected: tuple[Any, ...], actual: tuple[Any, ...]) -> str:
    parts = [
        f"{column.name} is {a!r}, the log says {e!r}"
        for column, e, a in zip(table.columns, expected, actual)
        if e != a
    ]
    return "; ".join(parts)


def verify(
    conn: Connection,
    *,
    expected_head: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Check the chain and replay it against every table; stop at the first broken link."""
    state = MemoryState(entry_source=functools.partial(entry_by_id, conn))
    streams = {name: _TableStream(conn, getattr(s, name)) for name in ("entries", "postings", "entry_txids",
                                                                       "lot_transitions")}
    touched: dict[tuple[str, Any], int] = {}  # (table, key) -> last event that wrote the row
    prev_hash = GENESIS_HASH
    seq_expected = 1
    seen_expected_head = expected_head is None or expected_head == GENESIS_HASH
    problems: list[AuditProblem] = []
    entries_s, postings_s, txids_s, transitions_s = (streams[n] for n in ("entries", "postings", "entry_txids",
                                                                            "lot_transitions"))
    try:
        for event in iter_events(conn):
            seq = event.seq
            if seq != seq_expected:
                what = "missing" if seq > seq_expected else "out of order"
                raise _Stop(AuditProblem(seq_expected, f"event {seq_expected} is {what} (found event {seq} next)"))
            if event.prev_hash != prev_hash:
                raise _Stop(AuditProblem(seq, f"event {seq} does not link to event {seq - 1} (prev_hash differs)"))
            try:
                altered = event.expected_hash != event.hash_hex
            except BookError:
                altered = True
            if altered:
                raise _Stop(AuditProblem(seq, f"event {seq} ({event.kind}) was altered: its content does not "
                                              "match its hash"))
            try:
                check_actor(event.operator, event.approved_by)
                book_event = event_from_payload(event.kind, loads_no_floats(event.payload_json))
                effects = apply(state, book_event, recorded_on=parse_recorded_at(event.recorded_at))
            except (BookError, ValueError) as exc:
                raise _Stop(AuditProblem(seq, f"event {seq} ({event.kind}) breaks a rule: {exc}")) from None
            for record in effects.added:
                if isinstance(record, Entry):
                    entries_s.expect(s.entry_row(record), seq)
                    for row in s.posting_rows(record):
                        postings_s.expect(row, seq)
                    for row in s.txid_rows(record):
                        txids_s.expect(row, seq)
                elif isinstance(record, LotTransition):
                    transitions_s.expect(s.transition_row(record), seq)
                else:
                    touched[(type(record).__name__, _key(record))] = seq
            for lot in effects.lots_changed:
                touched[("Lot", lot.lot_id)] = seq
            for balance in effects.balances:
                touched[("Balance", str(balance.account))] = seq
            for price in effects.prices:
                touched[("Price", (price.on.isoformat(), price.currency))] = seq
            state.commit(effects)
            prev_hash = event.hash_hex
            seen_expected_head = seen_expected_head or prev_hash == expected_head
            seq_expected += 1
            if progress is not None and seq % 100_000 == 0:
                progress(seq)
    except _Stop as stop:
        problems.append(stop.args[0])
    head = AuditHead(seq_expected - 1, prev_hash)
    if problems:
        return AuditReport(seq_expected - 1, head, tuple(problems))

    for stream in streams.values():
        leftover = stream.leftover()
        if leftover is not None:
            problems.append(leftover)
    problems.extend(_compare_tables(conn, state, touched))
    problem = _check_stored_head(conn, head)
    if problem is not None:
        problems.append(problem)
    if not seen_expected_head:
        problems.append(AuditProblem(None, f"the published head {expected_head} is not in this audit log: "
                                           "events were removed or rewritten"))
    problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    return AuditReport(seq_expected - 1, head, tuple(problems))


def _check_stored_head(conn: Connection, head: AuditHead) -> AuditProblem | None:
    """The head row must name the last event: a lower seq means events were appended behind
    the tool's back, a higher one that the newest events were deleted."""
    rows = conn.execute(sa.select(s.audit_head.c.id, s.audit_head.c.seq, s.audit_head.c.hash)).all()
    if len(rows) != 1 or rows[0][0] != 1:
        return AuditProblem(None, f"the audit head table should hold one row (id 1), it holds {len(rows)}")
    stored = AuditHead(rows[0][1], rows[0][2])
    if stored == head:
        return None
    if stored.seq > head.seq:
        return AuditProblem(head.seq + 1, f"event {head.seq + 1} is missing: the stored head says the log ends at "
                                          f"event {stored.seq}, but it ends at event {head.seq}")
    if stored.seq < head.seq:
        return AuditProblem(stored.seq + 1, f"event {stored.seq + 1} was added behind the tool's back: the stored "
                                            f"head says the log ends at event {stored.seq}")
    return AuditProblem(head.seq, f"the stored head hash {stored.hash_hex} is not event {head.seq}'s {head.hash_hex}")


def _key(record: object) -> Any:
    for attr in ("lot_id", "code", "number", "name"):
        if hasattr(record, attr):
            return getattr(record, attr)
    raise TypeError(type(record).__name__)


def _compare_tables(conn: Connection, state: MemoryState, touched: dict[tuple[str, Any], int]) -> list[AuditProblem]:
    """Compare the small and mutable tables with the state the log implies."""
    problems: list[AuditProblem] = []
    checks: list[tuple[sa.Table, str, dict[Any, tuple[Any, ...]]]] = [
        (s.reserves, "Reserve", {k: s.reserve_row(v) for k, v in state.reserves.items()}),
        (s.partners, "Partner", {k: s.partner_row(v) for k, v in state.partners.items()}),
        (s.agencies, "Agency", {k: s.agency_row(v) for k, v in state.agencies.items()}),
        (s.cases, "Case", {k: s.case_row(v) for k, v in state.cases.items()}),
        (s.lots, "Lot", {k: s.lot_row(v) for k, v in state.lots.items()}),
        (s.wallets, "Wallet", {k: s.wallet_row(v) for k, v in state.wallets.items()}),
        (s.balances, "Balance", {str(k): (str(k), v) for k, v in state.balances.items()}),
    ]
    prices = {(p.on.isoformat(), p.currency): s.price_row(p) for p in state.prices.values()}
    for table, record_type, expected in [*checks, (s.prices, "Price", prices)]:
        width = len(table.primary_key.columns)
        actual = {(row[0] if width == 1 else tuple(row[:width])): tuple(row) for row in conn.execute(sa.select(table))}
        for key in sorted(set(expected) | set(actual), key=str):
            e, a = expected.get(key), actual.get(key)
            if e == a:
                continue
            seq = touched.get((record_type, key))
            if a is None:
                problems.append(AuditProblem(seq, f"event {seq}: row {table.name}[{key!r}] is missing"))
            elif e is None:
                problems.append(AuditProblem(None, f"row {table.name}[{key!r}] is not in the audit log"))
            else:
                problems.append(AuditProblem(seq, f"event {seq}: row {table.name}[{key!r}] differs from the audit "
                                                  f"log: {_diff(table, e, a)}"))
    return problems
