"""The labels' tables, in the book's database (revision 0007, in labels/migrations/).

Labels are not claims: they move no coin, change no balance and no rule reads them, so they are
kept beside the book rather than in its audit log. Each import is recorded (`label_imports`: when,
the file's SHA-256, how many records) and every label names the import that last set it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from boveda.book.schema import metadata

label_imports = Table(
    "label_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("imported_at", String(32), nullable=False),  # ISO 8601 UTC
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("records", Integer, nullable=False),  # records read (ignored ones not counted)
    Column("ignored", Integer, nullable=False),  # records of types BIP-329 does not define
    Column("replaced", Boolean, nullable=False),  # --replace: every earlier label was removed first
)

labels = Table(
    "labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # import order: export follows it
    Column("kind", String(8), nullable=False),  # tx, addr, pubkey, input, output, xpub
    Column("ref", Text, nullable=False),  # as written in the file
    Column("ref_key", String(200), nullable=False),  # as looked up: hex and bech32 lowercased
    Column("origin_key", Text, nullable=False),  # the origin as written, "" without one
    Column("label", Text, nullable=True),  # None: the records never gave one
    Column("spendable", Boolean, nullable=True),
    Column("line", Text, nullable=False),  # the record's JSON text, written back by export
    Column("import_id", Integer, ForeignKey("label_imports.id"), nullable=False),
    UniqueConstraint("kind", "ref_key", "origin_key", name="uq_labels_kind_ref_key_origin_key"),
    Index("ix_labels_ref_key", "ref_key"),
)

LABEL_TABLES = (label_imports, labels)
