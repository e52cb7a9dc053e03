"""Tables of the follower's alerts and of their deliveries to webhooks, in the book's database.

They are not part of the audit log: an alert is raised from the chain facts and the book, and
could be raised again from them. Acknowledging one is audited (an `alert.acknowledged` event).
Their migration (revision 0003) lives beside them in follower/migrations/.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from boveda.book.schema import metadata

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("raised_at", String(32), nullable=False),  # ISO 8601 UTC
    Column("height", Integer, nullable=True),  # the block of the finding; None for an unconfirmed spend
    Column("txid", String(64), nullable=False),
    Column("holding", String(200), nullable=False),  # reserve:CODE or custody:CASE
    Column("kind", String(40), nullable=False),
    Column("amount_sat", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("acknowledged_by", Text, nullable=True),
    Column("acknowledged_at", String(32), nullable=True),
    Column("resolved_at", String(32), nullable=True),  # a pending outflow that confirmed or left the mempool
    Column("resolution", String(20), nullable=True),
    UniqueConstraint("holding", "kind", "txid", name="uq_alerts_holding_kind_txid"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("url", Text, nullable=False),  # shown form: scheme://host:port/… (a path may hold a token)
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", String(32), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("delivered", Boolean, nullable=False),
    Index("ix_alert_deliveries_alert_id", "alert_id"),
)
