"""Labels in the book's database: import a checked file (all of it or none), export in import order,
and look labels up for whatever lists an address or a transaction."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.book import Book
from boveda.labels.errors import LabelsError
from boveda.labels.file import IgnoredLine, read_labels
from boveda.labels.records import LabelRecord, merged
from boveda.labels.refs import LabelType, lookup_key
from boveda.labels.scope import LabelScope
from boveda.labels.tables import label_imports, labels

LOOKUP_BATCH = 5_000
LABEL_SEPARATOR = "; "  # between the labels of one ref from different wallets (origins)


@dataclass(frozen=True, slots=True)
class LabelsImport:
    """What one import did: records read, labels added and changed, lines skipped as BIP-329 asks."""

    import_id: int
    file_sha256: str
    records: int
    added: int
    updated: int
    removed: int  # by --replace
    ignored: tuple[IgnoredLine, ...]


def import_labels(book: Book, path: str | os.PathLike[str], *, replace: bool = False) -> LabelsImport:
    """Read and check every line of `path`, then store its records in one transaction.

    Without `replace`, a record for a label already stored (same type, ref and origin) updates it:
    the fields it gives replace the stored ones, those it omits stay. With `replace`, every stored
    label is removed first. Any bad line: LabelsError naming it, and nothing is stored.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise LabelsError(f"cannot read {os.fspath(path)}: {exc.strerror or type(exc).__name__}") from None
    parsed = read_labels(data, name=f"labels file {os.fspath(path)}")
    with book.atomic() as conn:
        removed = conn.execute(labels.delete()).rowcount if replace else 0
        import_id = conn.execute(label_imports.insert().values(
            imported_at=book.clock().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"), file_name=os.fspath(path),
            file_sha256=parsed.sha256_hex, records=len(parsed.records), ignored=len(parsed.ignored),
            replaced=replace)).inserted_primary_key[0]
        stored = {} if replace else _stored_records(conn)
        changes: dict[tuple[str, str, str], tuple[int | None, LabelRecord]] = {}
        for record in parsed.records:
            row_id, before = changes.get(record.key) or stored.get(record.key) or (None, None)
            changes[record.key] = (row_id, record if before is None else merged(before, record))
        added = [_row(record, import_id) for row_id, record in changes.values() if row_id is None]
        if added:
            conn.execute(labels.insert(), added)
        updated = [(row_id, record) for row_id, record in changes.values() if row_id is not None]
        for row_id, record in updated:
            conn.execute(labels.update().where(labels.c.id == row_id).values(_row(record, import_id)))
    return LabelsImport(import_id, parsed.sha256_hex, len(parsed.records), len(added), len(updated), removed,
                        parsed.ignored)


def export_lines(book: Book, scope: LabelScope | None = None) -> Iterator[str]:
    """The stored records' JSON lines (without newlines) in import order; only `scope`'s when given."""
    with book.store.read() as conn:
        rows = conn.execute(sa.select(labels.c.kind, labels.c.ref_key, labels.c.origin_key, labels.c.line)
                            .order_by(labels.c.id)).all()
    for kind, ref_key, origin_key, line in rows:
        if scope is None or scope.holds(LabelType(kind), ref_key, origin_key or None):
            yield line


def labels_for(source: Book | Connection, refs: Iterable[str]) -> dict[str, str]:
    """The label of each ref that has one (txid, address, TXID:INDEX, pubkey or xpub, in any case for hex
    and bech32). A ref labelled from several wallets (origins) gets their labels joined by "; ", in
    import order; empty labels are left out."""
    if isinstance(source, Book):
        with source.store.read() as conn:
            return labels_for(conn, refs)
    wanted: dict[str, list[str]] = {}
    for ref in refs:
        wanted.setdefault(lookup_key(ref), []).append(ref)
    found: dict[str, list[str]] = {}
    keys = sorted(wanted)
    for start in range(0, len(keys), LOOKUP_BATCH):
        rows = source.execute(sa.select(labels.c.ref_key, labels.c.label)
                              .where(labels.c.ref_key.in_(keys[start:start + LOOKUP_BATCH]),
                                     labels.c.label.is_not(None), labels.c.label != "")
                              .order_by(labels.c.id))
        for ref_key, label in rows:
            if label not in found.setdefault(ref_key, []):
                found[ref_key].append(label)
    return {ref: LABEL_SEPARATOR.join(texts) for key, texts in found.items() for ref in wanted[key]}


def _stored_records(conn: Connection) -> dict[tuple[str, str, str], tuple[int, LabelRecord]]:
    rows = conn.execute(sa.select(labels.c.id, labels.c.kind, labels.c.ref, labels.c.ref_key, labels.c.origin_key,
                                  labels.c.label, labels.c.spendable, labels.c.line))
    stored = {}
    for row_id, kind, ref, ref_key, origin_key, label, spendable, line in rows:
        record = LabelRecord(LabelType(kind), ref, ref_key, label, origin_key or None, spendable, line)
        stored[record.key] = (row_id, record)
    return stored


def _row(record: LabelRecord, import_id: int) -> dict:
    return {"kind": record.kind.value, "ref": record.ref, "ref_key": record.ref_key, "origin_key": record.origin or "",
            "label": record.label, "spendable": record.spendable, "line": record.line, "import_id": import_id}
