"""Operators on events, corrections, internal moves and prices.

- ``audit_events.operator`` / ``approved_by``: who recorded an event and who approved it (NULL on the
  events recorded before; their hash rule is unchanged, see boveda.book.audit);
- ``entries.corrects_entry_id`` / ``resolves``: a reversal or adjustment names the entry it corrects
  and, optionally, the finding it resolves; ``from_wallet`` / ``to_wallet``: the two wallets of an
  internal move within one holding;
- ``prices``: the price per BTC per day and currency, derived from ``prices.imported`` events.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("operator", sa.Text(), nullable=True))
    op.add_column("audit_events", sa.Column("approved_by", sa.Text(), nullable=True))
    op.add_column("entries", sa.Column("corrects_entry_id", Id, nullable=True))
    op.add_column("entries", sa.Column("resolves", sa.Text(), nullable=True))
    op.add_column("entries", sa.Column("from_wallet", sa.String(100), nullable=True))
    op.add_column("entries", sa.Column("to_wallet", sa.String(100), nullable=True))
    op.create_index("ix_entries_corrects_entry_id", "entries", ["corrects_entry_id"])
    op.create_table(
        "prices",
        sa.Column("on_date", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("on_date", "currency", name="pk_prices"),
    )


def downgrade() -> None:
    op.drop_table("prices")
    op.drop_index("ix_entries_corrects_entry_id", table_name="entries")
    with op.batch_alter_table("entries") as batch:
        for name in ("to_wallet", "from_wallet", "resolves", "corrects_entry_id"):
            batch.drop_column(name)
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("approved_by")
        batch.drop_column("operator")
