"""Spend proposals, approval policies and approvals.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spend_policies",
        sa.Column("holding", sa.String(200), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("approvers", sa.Text(), nullable=False),
        sa.Column("set_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("holding", name="pk_spend_policies"),
    )
    op.create_table(
        "spend_proposals",
        sa.Column("proposal_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holding", sa.String(200), nullable=False),
        sa.Column("wallet", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("order_ref", sa.Text(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("counterparty", sa.String(200), nullable=False),
        sa.Column("amount_sat", sa.BigInteger(), nullable=False),
        sa.Column("fee_sat", sa.BigInteger(), nullable=False),
        sa.Column("unsigned_txid", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("psbt", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("change_script", sa.Text(), nullable=True),
        sa.Column("final_tx", sa.Text(), nullable=True),
        sa.Column("signers", sa.Text(), nullable=True),
        sa.Column("proposed_at", sa.String(32), nullable=False),
        sa.Column("closed_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("proposal_id", name="pk_spend_proposals"),
    )
    op.create_table(
        "spend_approvals",
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("public_key", sa.String(66), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("approved_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["proposal_id"], ["spend_proposals.proposal_id"],
                                name="fk_spend_approvals_proposal_id_spend_proposals"),
        sa.PrimaryKeyConstraint("proposal_id", "approver", name="pk_spend_approvals"),
    )


def downgrade() -> None:
    op.drop_table("spend_approvals")
    op.drop_table("spend_proposals")
    op.drop_table("spend_policies")
