"""Export and import of a whole book as one JSON document: its audit log.

The tables are a function of the log, so the log is the book. ``export`` writes every
event exactly as stored (same seq, time, payload and hash); ``import`` checks the file's
chain, **replays** every event through the rules (:func:`boveda.book.state.apply`) and
stores it with its original hash. Replaying rather than copying rows means an imported
book is one the rules accept, and its audit head is the exporter's — so export → import
into an empty book gives the same balances, lots and head.

A book may also import a file that *extends* it (its log is a prefix of the file's): only
the new events are applied. Anything else is refused. The whole import is one
transaction: a crash leaves the book as it was.

The document is ``{"format": "boveda-book", "version": 1, "events": [...], "head": {...}}``,
written one event per line so that reading it streams; any equivalent JSON is accepted. Version 2
is the same document whose events may also carry ``operator`` and ``approved_by`` (who recorded
and who approved them, hashed with them); it is written only when an event does, so the export of
an older book is byte for byte what it was.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda import strict_json
from boveda.book import schema as s
from boveda.book.audit import (
    AuditEvent,
    canonical_json_of_parsed,
    check_actor,
    event_hash,
    iter_events,
    loads_no_floats,
)
from boveda.book.checks import parse_recorded_at
from boveda.book.domain import GENESIS_HASH, Account, AuditHead
from boveda.book.errors import BookError
from boveda.book.events import BookEvent, event_from_payload
from boveda.book.state import MemoryState, apply
from boveda.book.store import RowBatch, entry_by_id, read_head, write_prices
from boveda.errors import BovedaError
from boveda.outfiles import atomic_text

FORMAT = "boveda-book"
VERSION = 1
VERSION_WITH_OPERATORS = 2
_VERSIONS = (VERSION, VERSION_WITH_OPERATORS)
_HEADER_LINE = '{"events":['  # keys sorted: events, format, head, version
_EVENT_KEYS = frozenset({"seq", "kind", "recorded_at", "payload", "prev_hash", "hash"})
_ACTOR_KEYS = frozenset({"operator", "approved_by"})
_HASH_RE = re.compile(r"[0-9a-f]{64}")


def event_line(event: AuditEvent) -> str:
    """One event as canonical JSON (keys sorted), built around its stored payload text."""
    approved = "" if event.approved_by is None else f'"approved_by":{json.dumps(event.approved_by, ensure_ascii=False)},'
    by = "" if event.operator is None else f'"operator":{json.dumps(event.operator, ensure_ascii=False)},'
    return (
        f'{{{approved}"hash":"{event.hash_hex}","kind":{json.dumps(event.kind, ensure_ascii=False)},'
        f'{by}"payload":{event.payload_json},"prev_hash":"{event.prev_hash}",'
        f'"recorded_at":{json.dumps(event.recorded_at, ensure_ascii=False)},"seq":{event.seq}}}'
    )


def write_events(out: TextIO, events: Iterable[AuditEvent]) -> AuditHead:
    """Write an export document holding ``events`` (in order) to ``out``; return its head."""
    out.write(_HEADER_LINE + "\n")
    head = AuditHead(0, GENESIS_HASH)
    first = True
    version = VERSION
    for event in events:
        out.write(("" if first else ",\n") + event_line(event))
        first = False
        head = AuditHead(event.seq, event.hash_hex)
        if event.operator is not None:
            version = VERSION_WITH_OPERATORS
    out.write(
        ("\n" if not first else "")
        + f'],"format":"{FORMAT}","head":{{"hash":"{head.hash_hex}","seq":{head.seq}}},"version":{version}}}\n'
    )
    return head


def write_export(conn: Connection, out: TextIO) -> AuditHead:
    """Write the book's log as an export document to ``out``; return the head it ends at."""
    return write_events(out, iter_events(conn))


def export_to_file(conn: Connection, path: str | os.PathLike[str], *, force: bool = False) -> AuditHead:
    """Write the export to a new file ``path`` (an existing one only with `force`), atomically."""
    with atomic_text(path, force=force) as out:
        return write_export(conn, out)


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportedEvent:
    seq: int
    kind: str
    recorded_at: str
    payload: Any
    prev_hash: str
    hash_hex: str
    operator: str | None = None
    approved_by: str | None = None


def _event_from_json(obj: Any, position: int) -> ExportedEvent:
    if not isinstance(obj, dict) or not (_EVENT_KEYS <= set(obj) <= _EVENT_KEYS | _ACTOR_KEYS):
        raise BookError(f"event #{position} of the file is malformed: expected fields {sorted(_EVENT_KEYS)} "
                        f"and optionally {sorted(_ACTOR_KEYS)}")
    seq, kind, recorded_at, prev_hash, hash_hex = (obj[k] for k in ("seq", "kind", "recorded_at", "prev_hash", "hash"))
    operator, approved_by = obj.get("operator"), obj.get("approved_by")
    if not (type(seq) is int and isinstance(kind, str) and isinstance(recorded_at, str)
            and isinstance(prev_hash, str) and isinstance(hash_hex, str)
            and all(isinstance(obj[k], str) for k in _ACTOR_KEYS & set(obj))):
        raise BookError(f"event #{position} of the file has a field of the wrong type")
    return ExportedEvent(seq, kind, recorded_at, obj["payload"], prev_hash, hash_hex, operator, approved_by)


def _head_from_json(head: Any, path: Any) -> AuditHead:
    if not (isinstance(head, dict) and set(head) == {"seq", "hash"} and type(head["seq"]) is int
            and head["seq"] >= 0 and isinstance(head["hash"], str) and _HASH_RE.fullmatch(head["hash"])):
        raise BookError(f"{path}: the export's head is malformed (expected {{\"seq\": N, \"hash\": 64 hex digits}})")
    return AuditHead(head["seq"], head["hash"])


def read_export(path: str | os.PathLike[str]) -> tuple[Iterator[ExportedEvent], Callable[[], AuditHead | None]]:
    """Stream the events of an export file; the second value gives the file's stated head once read."""
    try:
        handle = open(path, encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL byte
        raise BookError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    stated: dict[str, AuditHead | None] = {"head": None}

    def footer(obj: dict[str, Any]) -> None:
        if obj.get("format") != FORMAT or obj.get("version") not in _VERSIONS:
            raise BookError(f"{path} is not a {FORMAT} export of version {' or '.join(map(str, _VERSIONS))}")
        stated["head"] = _head_from_json(obj.get("head"), path)

    def events() -> Iterator[ExportedEvent]:
        with handle:
            try:
                yield from _read_events(handle, footer, path)
            except UnicodeDecodeError:
                raise BookError(f"{path} is not UTF-8 text") from None

    return events(), lambda: stated["head"]


def _read_events(handle: TextIO, footer: Callable[[dict[str, Any]], None], path: Any) -> Iterator[ExportedEvent]:
    first = handle.readline()
    if first.rstrip("\n") == _HEADER_LINE:
        yield from _stream_lines(handle, footer, path)
        return
    handle.seek(0)
    try:
        document = strict_json.loads(handle.read(), max_depth=None, max_int_digits=None)
    except strict_json.StrictJSONError as exc:
        raise BookError(f"{path} is not JSON this reader accepts: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list) \
            or set(document) != {"events", "format", "head", "version"}:
        raise BookError(f"{path} is not a {FORMAT} export")
    footer(document)
    for position, obj in enumerate(document["events"], start=1):
        yield _event_from_json(obj, position)


def _stream_lines(handle: TextIO, footer: Callable[[dict[str, Any]], None], path: Any) -> Iterator[ExportedEvent]:
    position = 0
    for line in handle:
        if line.startswith("]"):
            try:
                closing = loads_no_floats("{" + line[2:])
            except BookError:
                raise BookError(f"{path}: the export's closing line is malformed") from None
            if not isinstance(closing, dict) or set(closing) != {"format", "head", "version"}:
                raise BookError(f"{path}: the export's closing line is malformed")
            footer(closing)
            if handle.read().strip():
                raise BookError(f"{path}: unexpected text after the export's end")
            return
        position += 1
        text = line.rstrip("\n")
        if text.endswith(","):
            text = text[:-1]
        try:
            obj = loads_no_floats(text)
        except BookError as exc:
            raise BookError(f"{path}: event #{position} is not JSON this reader accepts ({exc})") from None
        yield _event_from_json(obj, position)
    raise BookError(f"{path} ends before the export does (truncated?)")


# -- importing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    events_in_file: int
    events_applied: int
    head: AuditHead


def load_state(conn: Connection, entry_source: Callable[[int], Any] | None = None) -> MemoryState:
    """The book's current state, in memory, for replaying more events onto it (the journal stays in the
    database: ``entry_source`` reads an entry of it)."""
    state = MemoryState(entry_source=entry_source or (lambda entry_id: entry_by_id(conn, entry_id)))
    for row in conn.execute(sa.select(s.prices)):
        price = s.price_from_row(row)
        state.prices[(price.currency, price.on)] = price
    corrected: dict[int, list[int]] = {}
    for entry_id, original_id in conn.execute(sa.select(s.entries.c.entry_id, s.entries.c.corrects_entry_id)
                                              .where(s.entries.c.corrects_entry_id.is_not(None))
                                              .order_by(s.entries.c.entry_id)):
        corrected.setdefault(original_id, []).append(entry_id)
    for original_id, ids in corrected.items():
        state.corrections_of[original_id] = tuple(e for e in (entry_by_id(conn, i) for i in ids) if e is not None)
    for row in conn.execute(sa.select(s.reserves)):
        reserve = s.reserve_from_row(row)
        state.reserves[reserve.code] = reserve
    for row in conn.execute(sa.select(s.partners)):
        partner = s.partner_from_row(row)
        state.partners[partner.code] = partner
    for row in conn.execute(sa.select(s.agencies)):
        state.agencies[row[0]] = s.agency_from_row(row)
    for row in conn.execute(sa.select(s.cases)):
        case = s.case_from_row(row)
        state.cases[case.number] = case
    for row in conn.execute(sa.select(s.lots)):
        lot = s.lot_from_row(row)
        state.lots[lot.lot_id] = lot
    for row in conn.execute(sa.select(s.wallets)):
        wallet = s.wallet_from_row(row)
        state.wallets[wallet.name] = wallet
        state.wallet_descriptors[wallet.descriptor] = wallet.name
    for account, balance_sat in conn.execute(sa.select(s.balances.c.account, s.balances.c.balance_sat)):
        state.balances[Account.parse(account)] = balance_sat
    state.last_entry_id = conn.execute(sa.select(sa.func.max(s.entries.c.entry_id))).scalar() or 0
    state.last_lot_id = conn.execute(sa.select(sa.func.max(s.lots.c.lot_id))).scalar() or 0
    state.last_transition_id = conn.execute(sa.select(sa.func.max(s.lot_transitions.c.transition_id))).scalar() or 0
    return state


class BulkWriter:
    """Inserts rows in large batches with the database's fastest path (PostgreSQL COPY, SQLite executemany)."""

    def __init__(self, conn: Connection, *, batch_rows: int = 20_000,
                 progress: Callable[[int], None] | None = None) -> None:
        self.conn = conn
        self.is_postgres = conn.dialect.name == "postgresql"
        self.rows = RowBatch()
        self.audit_rows: list[tuple[Any, ...]] = []
        self.batch_rows = batch_rows
        self.progress = progress
        self.events_written = 0

    def add_event(self, event: AuditEvent) -> None:
        self.audit_rows.append(
            (event.seq, event.kind, event.recorded_at, event.payload_json, event.prev_hash, event.hash_hex,
             event.operator, event.approved_by)
        )
        if len(self.audit_rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        for table in RowBatch.ORDER:
            self._insert(table, self.rows.rows[table.name])
        self.events_written += len(self.audit_rows)
        self._insert(s.audit_events, self.audit_rows)
        self.rows.count = 0
        if self.progress is not None and self.events_written:
            self.progress(self.events_written)

    def _insert(self, table: sa.Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = [c.name for c in table.columns]
        if self.is_postgres:
            cursor = self.conn.connection.driver_connection.cursor()
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.close()
        else:
            placeholders = ", ".join("?" for _ in columns)
            self.conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})", rows)
        rows.clear()


def import_events(
    conn: Connection,
    head: AuditHead,
    events: Iterator[ExportedEvent],
    *,
    stated_head: Callable[[], AuditHead | None] | None = None,
    check_event: Callable[[BookEvent], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Replay ``events`` onto the book inside the caller's write transaction (which holds the lock).

    All or nothing against the file's own claims: once every event is read, ``stated_head()`` (the
    head the file states) must name the last of them, with its number and hash — a file cut short,
    or with events added, is refused. ``progress`` is called with the number of events written so
    far (not yet committed) after every batch. ``check_event`` is what the layers above check of an
    event when it is recorded on the command line (a descriptor fully parsed, say): it raises to refuse.
    """
    writer = BulkWriter(conn, progress=progress)

    def entry_source(entry_id: int) -> Any:
        writer.flush()  # a correction's original may still be in the batch (corrections are rare)
        return entry_by_id(conn, entry_id)

    state = load_state(conn, entry_source)
    own_events = iter_events(conn)
    changed_prices: set[tuple[str, Any]] = set()
    existing_accounts = set(state.balances)
    changed_lots: set[int] = set()
    changed_accounts: set[Account] = set()
    prev_hash = GENESIS_HASH
    count = applied = 0
    for count, item in enumerate(events, start=1):
        if item.seq != count:
            raise BookError(f"file event #{count} has seq {item.seq}: the file's log is out of order")
        if item.prev_hash != prev_hash:
            raise BookError(f"file event {count} does not link to event {count - 1}: the file's chain is broken")
        try:
            payload_json = canonical_json_of_parsed(item.payload)
        except BookError as exc:
            raise BookError(f"file event {count}: {exc}") from None
        try:
            check_actor(item.operator, item.approved_by)
            expected_hash = event_hash(count, item.kind, item.recorded_at, payload_json, prev_hash, item.operator,
                                       item.approved_by)
        except BookError as exc:
            raise BookError(f"file event {count} ({item.kind}): {exc}") from None
        if expected_hash != item.hash_hex:
            raise BookError(f"file event {count} ({item.kind}) does not match its hash: the file was altered")
        prev_hash = item.hash_hex
        if count <= head.seq:
            own = next(own_events)
            if own.hash_hex != item.hash_hex:
                raise BookError(
                    f"the file's history differs from this book's at event {count}: "
                    "import only into an empty book or one whose log the file extends"
                )
            continue
        try:
            recorded_on = parse_recorded_at(item.recorded_at)
            book_event = event_from_payload(item.kind, item.payload)
            effects = apply(state, book_event, recorded_on=recorded_on)
            if check_event is not None:
                check_event(book_event)
        except BovedaError as exc:
            raise BookError(f"file event {count} ({item.kind}) is refused: {exc}") from None
        state.commit(effects)
        for record in effects.added:
            writer.rows.add(record)
        changed_lots.update(lot.lot_id for lot in effects.lots_changed)
        changed_accounts.update(b.account for b in effects.balances)
        changed_prices.update((p.currency, p.on) for p in effects.prices)
        writer.add_event(AuditEvent(count, item.kind, item.recorded_at, payload_json, item.prev_hash, item.hash_hex,
                                    item.operator, item.approved_by))
        applied += 1
    claimed = None if stated_head is None else stated_head()
    if stated_head is not None and claimed is None:
        raise BookError("the file states no head for its log: nothing was imported")
    if claimed is not None and (claimed.seq, claimed.hash_hex) != (count, prev_hash):
        raise BookError(
            f"the file states its log ends at event {claimed.seq} ({claimed.hash_hex[:16]}…) but it holds "
            f"{count} events ending at {prev_hash[:16]}…: the file was cut or extended; nothing was imported"
        )
    if count < head.seq:
        raise BookError(
            f"the file holds {count} events and this book {head.seq}: the file does not extend this book"
        )
    if writer.audit_rows:
        writer.flush()
    _write_final_state(conn, state, changed_lots, changed_accounts, existing_accounts)
    write_prices(conn, tuple(state.prices[key] for key in sorted(changed_prices)))
    new_head = AuditHead(count, prev_hash) if count else read_head(conn)
    conn.execute(s.audit_head.update().where(s.audit_head.c.id == 1).values(seq=new_head.seq, hash=new_head.hash_hex))
    return ImportResult(count, applied, new_head)


def _write_final_state(
    conn: Connection,
    state: MemoryState,
    changed_lots: set[int],
    changed_accounts: set[Account],
    existing_accounts: set[Account],
) -> None:
    # Lots were inserted as they came; only their state may have moved on since.
    lot_updates = [{"k": lot_id, "state": state.lots[lot_id].state.value} for lot_id in sorted(changed_lots)]
    if lot_updates:
        conn.execute(
            s.lots.update().where(s.lots.c.lot_id == sa.bindparam("k")).values(state=sa.bindparam("state")),
            lot_updates,
        )
    updates = [{"k": str(a), "balance_sat": state.balances[a]}
               for a in sorted(changed_accounts & existing_accounts, key=str)]
    inserts = [{"account": str(a), "balance_sat": state.balances[a]}
               for a in sorted(changed_accounts - existing_accounts, key=str)]
    if updates:
        conn.execute(
            s.balances.update().where(s.balances.c.account == sa.bindparam("k"))
            .values(balance_sat=sa.bindparam("balance_sat")),
            updates,
        )
    if inserts:
        conn.execute(s.balances.insert(), inserts)
