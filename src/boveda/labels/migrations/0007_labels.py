"""BIP-329 labels and the record of their imports.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("imported_at", sa.String(32), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("replaced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_label_imports"),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("ref_key", sa.String(200), nullable=False),
        sa.Column("origin_key", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("spendable", sa.Boolean(), nullable=True),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["label_imports.id"], name="fk_labels_import_id_label_imports"),
        sa.PrimaryKeyConstraint("id", name="pk_labels"),
        sa.UniqueConstraint("kind", "ref_key", "origin_key", name="uq_labels_kind_ref_key_origin_key"),
    )
    op.create_index("ix_labels_ref_key", "labels", ["ref_key"])


def downgrade() -> None:
    op.drop_table("labels")
    op.drop_table("label_imports")
