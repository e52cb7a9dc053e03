"""The book's first schema: reserves, partners, agencies, cases, lots and their transitions,
the journal (entries, postings, cited txids), wallets, cached balances and the audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# INTEGER PRIMARY KEY is SQLite's rowid (fast, ordered); BIGINT elsewhere.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("name", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_agencies"),
    )
    op.create_table(
        "reserves",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("no_sale", sa.Boolean(), nullable=False),
        sa.Column("address_cap_sat", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code", name="pk_reserves"),
    )
    op.create_table(
        "partners",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_partners"),
    )
    op.create_table(
        "cases",
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("agency", sa.String(500), nullable=False),
        sa.Column("court", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["agency"], ["agencies.name"], name="fk_cases_agency_agencies"),
        sa.PrimaryKeyConstraint("number", name="pk_cases"),
    )
    op.create_table(
        "lots",
        sa.Column("lot_id", Id, autoincrement=False, nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("amount_sat", sa.BigInteger(), nullable=False),
        sa.Column("seizure_txid", sa.String(64), nullable=False),
        sa.Column("seizure_outpoints", sa.Text(), nullable=False),
        sa.Column("seized_on", sa.String(10), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("seizure_ref", sa.Text(), nullable=True),
        sa.Column("parent_lot_id", Id, nullable=True),
        sa.ForeignKeyConstraint(["case_number"], ["cases.number"], name="fk_lots_case_number_cases"),
        sa.ForeignKeyConstraint(["parent_lot_id"], ["lots.lot_id"], name="fk_lots_parent_lot_id_lots"),
        sa.PrimaryKeyConstraint("lot_id", name="pk_lots"),
    )
    op.create_table(
        "entries",
        sa.Column("entry_id", Id, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("effective_date", sa.String(10), nullable=False),
        sa.Column("authority_ref", sa.Text(), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("lot_id", Id, nullable=True),
        sa.Column("price_usd_cents", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.lot_id"], name="fk_entries_lot_id_lots"),
        sa.PrimaryKeyConstraint("entry_id", name="pk_entries"),
    )
    op.create_table(
        "postings",
        sa.Column("entry_id", Id, nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("amount_sat", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.entry_id"], name="fk_postings_entry_id_entries"),
        sa.PrimaryKeyConstraint("entry_id", "line", name="pk_postings"),
    )
    op.create_index("ix_postings_account", "postings", ["account"])
    op.create_table(
        "entry_txids",
        sa.Column("entry_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("txid", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.entry_id"], name="fk_entry_txids_entry_id_entries"),
        sa.PrimaryKeyConstraint("entry_id", "position", name="pk_entry_txids"),
    )
    op.create_index("ix_entry_txids_txid", "entry_txids", ["txid"])
    op.create_table(
        "lot_transitions",
        sa.Column("transition_id", Id, autoincrement=False, nullable=False),
        sa.Column("lot_id", Id, nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("authority_ref", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.String(10), nullable=False),
        sa.Column("txid", sa.String(64), nullable=True),
        sa.Column("destination", sa.String(128), nullable=True),
        sa.Column("share_bp", sa.Integer(), nullable=True),
        sa.Column("entry_id", Id, nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.entry_id"], name="fk_lot_transitions_entry_id_entries"),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.lot_id"], name="fk_lot_transitions_lot_id_lots"),
        sa.PrimaryKeyConstraint("transition_id", name="pk_lot_transitions"),
    )
    op.create_table(
        "wallets",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("descriptor", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("birth_height", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_wallets"),
    )
    op.create_table(
        "balances",
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("balance_sat", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_balances"),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", Id, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    # The empty log's head: every writer locks this row.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])


def downgrade() -> None:
    for table in ("audit_head", "audit_events", "balances", "wallets", "lot_transitions", "entry_txids",
                  "postings", "entries", "lots", "cases", "partners", "reserves", "agencies"):
        op.drop_table(table)
