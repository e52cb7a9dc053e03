"""The one module that reads and writes the follower's tables: alerts and their webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.follower.tables import alert_deliveries, alerts
from boveda.reconcile.model import DiscrepancyKind, Severity


class AlertKind(StrEnum):
    """What an alert is about: a critical finding of reconciliation, or an unconfirmed spend of a watched coin."""

    UNRECORDED_OUTFLOW = DiscrepancyKind.UNRECORDED_OUTFLOW.value
    CLAIMED_PURCHASE_IS_INTERNAL = DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL.value
    AMOUNT_MISMATCH = DiscrepancyKind.AMOUNT_MISMATCH.value
    PENDING_OUTFLOW = "pending_outflow"

    @classmethod
    def of_finding(cls, kind: DiscrepancyKind) -> AlertKind:
        """The alert a critical discrepancy raises."""
        if kind.severity is not Severity.CRITICAL:
            raise ValueError(f"{kind.value} is not critical: it raises no alert")
        return cls(kind.value)


class Resolution(StrEnum):
    """How a pending outflow ended."""

    CONFIRMED = "confirmed"  # the transaction was mined
    LEFT_MEMPOOL = "left_mempool"  # dropped, replaced or expired, its coins unspent on chain
    CONFLICTED = "conflicted"  # another transaction spending the same coins was mined


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert about to be raised; `txid_hex` in display order."""

    kind: AlertKind
    holding: str
    txid_hex: str
    amount_sat: int
    message: str
    height: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes it one finding: it is never raised twice."""
        return (self.holding, self.kind.value, self.txid_hex)


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: int
    raised_at: str
    height: int | None
    txid_hex: str
    holding: str
    kind: AlertKind
    amount_sat: int
    message: str
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    resolution: Resolution | None = None

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_by is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.alert_id, "raised_at": self.raised_at, "height": self.height, "txid": self.txid_hex,
            "holding": self.holding, "kind": self.kind.value, "severity": self.severity.value,
            "amount_sat": self.amount_sat, "message": self.message, "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at, "resolved_at": self.resolved_at,
            "resolution": None if self.resolution is None else self.resolution.value,
        }


def _alert(row: sa.Row) -> Alert:
    return Alert(row.id, row.raised_at, row.height, row.txid, row.holding, AlertKind(row.kind), row.amount_sat,
                 row.message, row.acknowledged_by, row.acknowledged_at, row.resolved_at,
                 None if row.resolution is None else Resolution(row.resolution))


def raise_alert(conn: Connection, new: NewAlert, raised_at: str) -> Alert | None:
    """Stores `new` unless the same finding was raised before (then None). Call in a write transaction."""
    holding, kind, txid_hex = new.key
    known = conn.execute(sa.select(alerts.c.id).where(
        alerts.c.holding == holding, alerts.c.kind == kind, alerts.c.txid == txid_hex)).first()
    if known is not None:
        return None
    alert_id = conn.execute(alerts.insert().values(
        raised_at=raised_at, height=new.height, txid=txid_hex, holding=holding, kind=kind,
        amount_sat=new.amount_sat, message=new.message)).inserted_primary_key[0]
    return alert_by_id(conn, alert_id)


def alert_by_id(conn: Connection, alert_id: int) -> Alert | None:
    row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
    return None if row is None else _alert(row)


def list_alerts(conn: Connection, *, include_acknowledged: bool = False) -> list[Alert]:
    """Alerts oldest first: those nobody acknowledged yet, or all of them."""
    query = sa.select(alerts).order_by(alerts.c.id)
    if not include_acknowledged:
        query = query.where(alerts.c.acknowledged_by.is_(None))
    return [_alert(row) for row in conn.execute(query)]


def mark_acknowledged(conn: Connection, alert_id: int, by: str, at: str) -> None:
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(acknowledged_by=by, acknowledged_at=at))


def unresolved_pending(conn: Connection) -> list[Alert]:
    """Pending outflows whose transaction has neither confirmed nor left the mempool, as far as is known."""
    return [_alert(row) for row in conn.execute(sa.select(alerts).where(
        alerts.c.kind == AlertKind.PENDING_OUTFLOW.value, alerts.c.resolution.is_(None)).order_by(alerts.c.id))]


def resolve(conn: Connection, alert_id: int, resolution: Resolution, at: str) -> None:
    conn.execute(alerts.update().where(alerts.c.id == alert_id, alerts.c.resolution.is_(None))
                 .values(resolution=resolution.value, resolved_at=at))


# -- deliveries ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    alert_id: int
    url: str
    attempt: int
    attempted_at: str
    status_code: int | None
    error: str | None
    delivered: bool


def log_delivery(conn: Connection, delivery: Delivery) -> None:
    conn.execute(alert_deliveries.insert().values(
        alert_id=delivery.alert_id, url=delivery.url, attempt=delivery.attempt, attempted_at=delivery.attempted_at,
        status_code=delivery.status_code, error=delivery.error, delivered=delivery.delivered))


def deliveries(conn: Connection, alert_id: int | None = None) -> list[Delivery]:
    query = sa.select(alert_deliveries).order_by(alert_deliveries.c.id)
    if alert_id is not None:
        query = query.where(alert_deliveries.c.alert_id == alert_id)
    return [Delivery(r.alert_id, r.url, r.attempt, r.attempted_at, r.status_code, r.error, r.delivered)
            for r in conn.execute(query)]


def undelivered(conn: Connection, url: str) -> list[Alert]:
    """Unacknowledged alerts whose delivery to `url` was tried and never succeeded (to try again)."""
    tried = sa.select(alert_deliveries.c.alert_id).where(alert_deliveries.c.url == url)
    done = tried.where(alert_deliveries.c.delivered.is_(True))
    return [_alert(row) for row in conn.execute(sa.select(alerts).where(
        alerts.c.id.in_(tried), alerts.c.id.not_in(done), alerts.c.acknowledged_by.is_(None)).order_by(alerts.c.id))]
