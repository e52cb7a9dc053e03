"""Tables of spend governance in the book's database: approval policies, proposals, approvals.

They are a projection of the audit log's ``policy.set`` and ``spend.*`` events, written beside each
event in the same transaction (``spend.store``) and rebuilt from the log by ``spend.store.rebuild``.
Their migration (revision 0006) lives beside them in spend/migrations/.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from boveda.book.schema import metadata

spend_policies = Table(
    "spend_policies",
    metadata,
    Column("holding", String(200), primary_key=True),  # reserve:CODE or custody:CASE
    Column("threshold", Integer, nullable=False),
    Column("approvers", Text, nullable=False),  # JSON [[name, public key hex], ...]
    Column("set_at", String(32), nullable=False),
)

spend_proposals = Table(
    "spend_proposals",
    metadata,
    Column("proposal_id", Integer, primary_key=True, autoincrement=False),
    Column("holding", String(200), nullable=False),
    Column("wallet", String(100), nullable=False),
    Column("state", String(20), nullable=False),  # proposed, finalized, broadcast, cancelled
    Column("purpose", Text, nullable=False),
    Column("order_ref", Text, nullable=False),
    Column("lot_id", Integer, nullable=True),
    Column("counterparty", String(200), nullable=False),
    Column("amount_sat", BigInteger, nullable=False),
    Column("fee_sat", BigInteger, nullable=False),
    Column("unsigned_txid", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("psbt", Text, nullable=False),  # the unsigned PSBT, base64
    Column("inputs", Text, nullable=False),  # space-separated TXID:N
    Column("change_script", Text, nullable=True),  # hex
    Column("final_tx", Text, nullable=True),  # hex, once finalized
    Column("signers", Text, nullable=True),  # JSON [[input index, [fingerprint hex, ...]], ...]
    Column("proposed_at", String(32), nullable=False),
    Column("closed_by", Text, nullable=True),  # who cancelled, and why
)

spend_approvals = Table(
    "spend_approvals",
    metadata,
    Column("proposal_id", Integer, ForeignKey("spend_proposals.proposal_id"), primary_key=True),
    Column("approver", String(200), primary_key=True),
    Column("public_key", String(66), nullable=False),
    Column("signature", Text, nullable=False),
    Column("approved_at", String(32), nullable=False),
)

SPEND_TABLES = (spend_policies, spend_proposals, spend_approvals)
