"""The chain facts' seal: a chained digest per synced block and one per other chain-fact table.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chain_blocks") as batch:
        batch.add_column(sa.Column("facts_hash", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("facts_chain", sa.LargeBinary(), nullable=True))
    op.create_table(
        "chain_facts_seals",
        sa.Column("part", sa.String(32), nullable=False),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("part", name="pk_chain_facts_seals"),
    )
    op.create_index("ix_txos_height", "txos", ["height"])
    # A book synced before the seal existed: seal what it holds (`facts verify` checks it against the chain).
    from boveda.wallets.facts_seal import seal_everything

    seal_everything(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_txos_height", "txos")
    op.drop_table("chain_facts_seals")
    with op.batch_alter_table("chain_blocks") as batch:
        batch.drop_column("facts_chain")
        batch.drop_column("facts_hash")
