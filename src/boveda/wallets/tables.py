"""Tables of chain facts kept for the book's wallets: derived scripts, their outputs, synced blocks.

They are a cache of what the chain says — rebuilt by `boveda sync`, never claims — so they are
not part of the audit log; their own seal (`wallets/facts_seal.py`: a chained digest per block and
one per other table) makes an edit of them evident. They share the book's metadata and its one
chain of migrations; theirs (revisions 0002, 0004) live beside them in wallets/migrations/.
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
    Column("facts_hash", LargeBinary, nullable=True),  # sha256 of this block's facts (facts_seal.BlockFacts)
    Column("facts_chain", LargeBinary, nullable=True),  # sha256(previous block's facts_chain || facts_hash)
)

chain_facts_seals = Table(
    "chain_facts_seals",
    metadata,
    Column("part", String(32), primary_key=True),  # facts_seal.Part
    Column("height", Integer, nullable=True),
    Column("digest", LargeBinary, nullable=False),
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
    Index("ix_txos_height", "height"),
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
