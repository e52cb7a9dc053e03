"""The book's tables (SQLAlchemy Core), one schema for SQLite and PostgreSQL, and the row codec
of each value type.

The migrations in ``boveda/book/migrations`` create exactly these tables; a test compares them.
Dates are stored as ISO text (``YYYY-MM-DD``) so both databases and the audit log agree on
their form; amounts are BIGINT satoshis.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from boveda.book.domain import (
    Account,
    Agency,
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
)

# On SQLite only "INTEGER PRIMARY KEY" is the fast rowid; BIGINT there would be a separate key.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

reserves = Table(
    "reserves",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("no_sale", Boolean, nullable=False),
    Column("address_cap_sat", BigInteger, nullable=True),
)

partners = Table(
    "partners",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
)

agencies = Table(
    "agencies",
    metadata,
    Column("name", String(500), primary_key=True),
)

cases = Table(
    "cases",
    metadata,
    Column("number", String(64), primary_key=True),
    Column("agency", String(500), ForeignKey("agencies.name"), nullable=False),
    Column("court", Text, nullable=True),
)

lots = Table(
    "lots",
    metadata,
    Column("lot_id", Id, primary_key=True, autoincrement=False),
    Column("case_number", String(64), ForeignKey("cases.number"), nullable=False),
    Column("amount_sat", BigInteger, nullable=False),
    Column("seizure_txid", String(64), nullable=False),
    Column("seizure_outpoints", Text, nullable=False),  # space-separated TXID:N
    Column("seized_on", String(10), nullable=False),
    Column("state", String(32), nullable=False),
    Column("seizure_ref", Text, nullable=True),
    Column("parent_lot_id", Id, ForeignKey("lots.lot_id"), nullable=True),
)

entries = Table(
    "entries",
    metadata,
    Column("entry_id", Id, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("effective_date", String(10), nullable=False),
    Column("authority_ref", Text, nullable=True),
    Column("memo", Text, nullable=True),
    Column("lot_id", Id, ForeignKey("lots.lot_id"), nullable=True),
    Column("price_usd_cents", BigInteger, nullable=True),
    # 0005: corrections (a reversal or adjustment names the entry it corrects) and internal moves' wallets.
    Column("corrects_entry_id", Id, nullable=True),
    Column("resolves", Text, nullable=True),
    Column("from_wallet", String(100), nullable=True),
    Column("to_wallet", String(100), nullable=True),
    Index(None, "corrects_entry_id"),
)

postings = Table(
    "postings",
    metadata,
    Column("entry_id", Id, ForeignKey("entries.entry_id"), primary_key=True),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("account", String(128), nullable=False),
    Column("amount_sat", BigInteger, nullable=False),
    Index(None, "account"),
)

entry_txids = Table(
    "entry_txids",
    metadata,
    Column("entry_id", Id, ForeignKey("entries.entry_id"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("txid", String(64), nullable=False),
    Index(None, "txid"),
)

lot_transitions = Table(
    "lot_transitions",
    metadata,
    Column("transition_id", Id, primary_key=True, autoincrement=False),
    Column("lot_id", Id, ForeignKey("lots.lot_id"), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("authority_ref", Text, nullable=False),
    Column("effective_date", String(10), nullable=False),
    Column("txid", String(64), nullable=True),
    Column("destination", String(128), nullable=True),
    Column("share_bp", Integer, nullable=True),
    Column("entry_id", Id, ForeignKey("entries.entry_id"), nullable=True),
)

wallets = Table(
    "wallets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("descriptor", Text, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("birth_height", Integer, nullable=True),
)

# Derived from postings, kept so balances and the negative-holding rule cost one lookup.
balances = Table(
    "balances",
    metadata,
    Column("account", String(128), primary_key=True),
    Column("balance_sat", BigInteger, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("kind", String(40), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # 0005: who recorded the event and who approved it (NULL in events recorded before 0005).
    Column("operator", Text, nullable=True),
    Column("approved_by", Text, nullable=True),
)

# One row (id = 1): the last event. Writers lock it, so the chain never forks.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Derived from prices.imported events: one price per day and currency.
prices = Table(
    "prices",
    metadata,
    Column("on_date", String(10), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("price_minor", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
)

BOOK_TABLES = (
    reserves,
    partners,
    agencies,
    cases,
    lots,
    entries,
    postings,
    entry_txids,
    lot_transitions,
    wallets,
    balances,
    prices,
    audit_events,
    audit_head,
)


# -- row codecs: value type <-> tuple in the table's column order -------------------------------


def reserve_row(r: Reserve) -> tuple[Any, ...]:
    return (r.code, r.name, r.no_sale, r.address_cap_sat)


def reserve_from_row(row: Any) -> Reserve:
    return Reserve(row[0], row[1], bool(row[2]), row[3])


def partner_row(p: Partner) -> tuple[Any, ...]:
    return (p.code, p.name)


def partner_from_row(row: Any) -> Partner:
    return Partner(row[0], row[1])


def agency_row(a: Agency) -> tuple[Any, ...]:
    return (a.name,)


def agency_from_row(row: Any) -> Agency:
    return Agency(row[0])


def case_row(c: Case) -> tuple[Any, ...]:
    return (c.number, c.agency, c.court)


def case_from_row(row: Any) -> Case:
    return Case(row[0], row[1], row[2])


def lot_row(lot: Lot) -> tuple[Any, ...]:
    return (
        lot.lot_id,
        lot.case_number,
        lot.amount_sat,
        lot.seizure_txid,
        " ".join(lot.seizure_outpoints),
        lot.seized_on.isoformat(),
        lot.state.value,
        lot.seizure_ref,
        lot.parent_lot_id,
    )


def lot_from_row(row: Any) -> Lot:
    return Lot(
        lot_id=row[0],
        case_number=row[1],
        amount_sat=row[2],
        seizure_txid=row[3],
        seizure_outpoints=tuple(row[4].split()),
        seized_on=date.fromisoformat(row[5]),
        state=LotState(row[6]),
        seizure_ref=row[7],
        parent_lot_id=row[8],
    )


def transition_row(t: LotTransition) -> tuple[Any, ...]:
    return (
        t.transition_id,
        t.lot_id,
        t.from_state.value,
        t.to_state.value,
        t.authority_ref,
        t.effective_date.isoformat(),
        t.txid,
        None if t.destination is None else str(t.destination),
        t.share_bp,
        t.entry_id,
    )


def transition_from_row(row: Any) -> LotTransition:
    return LotTransition(
        transition_id=row[0],
        lot_id=row[1],
        from_state=LotState(row[2]),
        to_state=LotState(row[3]),
        authority_ref=row[4],
        effective_date=date.fromisoformat(row[5]),
        txid=row[6],
        destination=None if row[7] is None else Account.parse(row[7]),
        share_bp=row[8],
        entry_id=row[9],
    )


def entry_row(e: Entry) -> tuple[Any, ...]:
    return (e.entry_id, e.kind.value, e.effective_date.isoformat(), e.authority_ref, e.memo, e.lot_id, e.price_usd_cents,
            e.corrects_entry_id, e.resolves, e.from_wallet, e.to_wallet)


def posting_rows(e: Entry) -> list[tuple[Any, ...]]:
    return [(e.entry_id, line, str(p.account), p.amount_sat) for line, p in enumerate(e.postings)]


def txid_rows(e: Entry) -> list[tuple[Any, ...]]:
    return [(e.entry_id, position, txid) for position, txid in enumerate(e.txids)]


def entry_from_rows(row: Any, posting_rows_: list[Any], txid_rows_: list[Any]) -> Entry:
    return Entry(
        entry_id=row[0],
        kind=EntryKind(row[1]),
        effective_date=date.fromisoformat(row[2]),
        authority_ref=row[3],
        memo=row[4],
        lot_id=row[5],
        price_usd_cents=row[6],
        corrects_entry_id=row[7],
        resolves=row[8],
        from_wallet=row[9],
        to_wallet=row[10],
        postings=tuple(Posting(Account.parse(p[2]), p[3]) for p in posting_rows_),
        txids=tuple(t[2] for t in txid_rows_),
    )


def wallet_row(w: Wallet) -> tuple[Any, ...]:
    return (w.name, w.descriptor, str(w.owner), w.birth_height)


def wallet_from_row(row: Any) -> Wallet:
    return Wallet(row[0], row[1], Account.parse(row[2]), row[3])


def price_row(p: Price) -> tuple[Any, ...]:
    return (p.on.isoformat(), p.currency, p.price_minor, p.source)


def price_from_row(row: Any) -> Price:
    return Price(date.fromisoformat(row[0]), row[1], row[2], row[3])


def as_dicts(table: Table, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as the column-name dicts that ``insert()`` with executemany wants."""
    names = [c.name for c in table.columns]
    return [dict(zip(names, row)) for row in rows]
