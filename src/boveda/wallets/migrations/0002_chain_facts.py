"""Chain facts kept for the book's wallets by `boveda sync`: derived scripts, their outputs,
the transactions that touched them, the blocks synced, and the chain settings.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_scripts",
        sa.Column("script_pubkey", sa.LargeBinary(), nullable=False),
        sa.Column("wallet", sa.String(100), nullable=False),
        sa.Column("branch", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["wallet"], ["wallets.name"], name="fk_wallet_scripts_wallet_wallets"),
        sa.PrimaryKeyConstraint("script_pubkey", name="pk_wallet_scripts"),
    )
    op.create_index("ix_wallet_scripts_wallet_branch_idx", "wallet_scripts", ["wallet", "branch", "idx"], unique=True)
    op.create_table(
        "wallet_sync",
        sa.Column("wallet", sa.String(100), nullable=False),
        sa.Column("gap_limit", sa.Integer(), nullable=False),
        sa.Column("synced_height", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["wallet"], ["wallets.name"], name="fk_wallet_sync_wallet_wallets"),
        sa.PrimaryKeyConstraint("wallet", name="pk_wallet_sync"),
    )
    op.create_table(
        "chain_blocks",
        sa.Column("height", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("height", name="pk_chain_blocks"),
    )
    op.create_table(
        "chain_settings",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_chain_settings"),
    )
    op.create_table(
        "txos",
        sa.Column("txid", sa.LargeBinary(), nullable=False),
        sa.Column("vout", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wallet", sa.String(100), nullable=False),
        sa.Column("script_pubkey", sa.LargeBinary(), nullable=False),
        sa.Column("value_sat", sa.BigInteger(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("spent_txid", sa.LargeBinary(), nullable=True),
        sa.Column("spent_height", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["wallet"], ["wallets.name"], name="fk_txos_wallet_wallets"),
        sa.PrimaryKeyConstraint("txid", "vout", name="pk_txos"),
    )
    op.create_index("ix_txos_wallet_height", "txos", ["wallet", "height"])
    op.create_index("ix_txos_spent_height", "txos", ["spent_height"])
    op.create_table(
        "chain_txs",
        sa.Column("txid", sa.LargeBinary(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("input_count", sa.Integer(), nullable=False),
        sa.Column("output_count", sa.Integer(), nullable=False),
        sa.Column("output_total_sat", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("txid", name="pk_chain_txs"),
    )
    op.create_index("ix_chain_txs_height", "chain_txs", ["height"])


def downgrade() -> None:
    for table in ("chain_txs", "txos", "chain_settings", "chain_blocks", "wallet_sync", "wallet_scripts"):
        op.drop_table(table)
