"""Tables of chain facts kept for the book's wallets: derived scripts, their outputs, synced blocks.

They are a cache of what the chain says — rebuilt by `boveda sync`, never claims — so they are
not part of the audit log. They share the book's metadata and its one chain of migrations;
theirs (revision 0002) live beside them in wallets/migrations/.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from boveda.book.schema import metadata

wallet_scripts = Table(
    "wallet_scripts",
    metadata,
    Column("script_pubkey", LargeBinary, primary_key=True),
    Column("wallet", String(100), ForeignKey("wallets.name"), nullable=False),
    Column("branch", Integer, nullable=False),
    Column("idx", Integer, nullable=False),
    Index("ix_wallet_scripts_wallet_branch_idx", "wallet", "branch", "idx", unique=True),
)

wallet_sync = Table(
    "wallet_sync",
    metadata,
    Column("wallet", String(100), ForeignKey("wallets.name"), primary_key=True),
    Column("gap_limit", Integer, nullable=False),
    Column("synced_height", Integer, nullable=True),  # None: never synced
)

chain_blocks = Table(
    "chain_blocks",
    metadata,
    Column("height", Integer, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
    Column("time", BigInteger, nullable=False),
)

chain_settings = Table(
    "chain_settings",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

txos = Table(
    "txos",
    metadata,
    Column("txid", LargeBinary, primary_key=True),
    Column("vout", Integer, primary_key=True, autoincrement=False),
    Column("wallet", String(100), ForeignKey("wallets.name"), nullable=False),
    Column("script_pubkey", LargeBinary, nullable=False),
    Column("value_sat", BigInteger, nullable=False),
    Column("height", Integer, nullable=False),
    Column("spent_txid", LargeBinary, nullable=True),
    Column("spent_height", Integer, nullable=True),
    Index("ix_txos_wallet_height", "wallet", "height"),
    Index("ix_txos_spent_height", "spent_height"),
)

chain_txs = Table(
    "chain_txs",
    metadata,
    Column("txid", LargeBinary, primary_key=True),
    Column("height", Integer, nullable=False),
    Column("tx_index", Integer, nullable=False),
    Column("input_count", Integer, nullable=False),
    Column("output_count", Integer, nullable=False),
    Column("output_total_sat", BigInteger, nullable=False),
    Index("ix_chain_txs_height", "height"),
)
