"""Alerts: the critical findings of reconciliation in the holdings a block touched, raised once each,
and acknowledged by a named person (an audited event).

Reserves and custody holdings are reconciled alike (`service.reserve.holding_views`, the same
`reconcile_account` code path `boveda reconcile` takes), so a custody wallet's coins leaving with no
lot transition citing the transaction are an `unrecorded_outflow` there too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC

from boveda.book import Book
from boveda.book.domain import Account, AccountKind
from boveda.errors import BovedaError
from boveda.follower import alerts_store as store
from boveda.follower.alerts_store import Alert, AlertKind, NewAlert, Resolution
from boveda.money import format_btc
from boveda.reconcile.model import Severity
from boveda.service.reserve import holding_views


class AlertError(BovedaError):
    """An alert that cannot be listed or acknowledged as asked."""


def now_iso(book: Book) -> str:
    return book.clock().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def critical_findings(book: Book, holdings: Iterable[str], height: int) -> list[NewAlert]:
    """Every critical discrepancy of each reserve or custody holding at `height`, as the alert it would raise."""
    accounts = [Account.parse(str(holding)) for holding in sorted({str(h) for h in holdings})]
    wanted = [(a, a.name if a.kind is AccountKind.RESERVE else None) for a in accounts
              if a.kind in (AccountKind.RESERVE, AccountKind.CUSTODY)]
    if not wanted:
        return []
    found = []
    for account, view in holding_views(book, wanted, height).items():
        holding = str(account)
        for finding in view.reconciliation.discrepancies:
            if finding.severity is not Severity.CRITICAL or finding.txid_hex is None:
                continue
            kind = AlertKind.of_finding(finding.kind)
            found.append(NewAlert(kind, holding, finding.txid_hex, finding.amount_sat,
                                  f"{kind.value} in {holding}: {finding.detail}", finding.height))
    return found


def pending_outflow(holding: str, txid_hex: str, wallets: Sequence[str], amount_sat: int, coins: int) -> NewAlert:
    """The alert for an unconfirmed transaction spending `coins` watched coins of `holding`."""
    return NewAlert(
        AlertKind.PENDING_OUTFLOW, holding, txid_hex, amount_sat,
        f"pending_outflow from {holding}: unconfirmed transaction {txid_hex} spends {coins} coin(s) "
        f"({format_btc(amount_sat)} BTC) of wallet {', '.join(sorted(set(wallets)))} and no entry cites it",
    )


def raise_new(book: Book, candidates: Iterable[NewAlert]) -> list[Alert]:
    """Stores the candidates not raised before, in one transaction; the new alerts, in order."""
    candidates = list(candidates)
    if not candidates:
        return []
    raised_at = now_iso(book)
    with book.store.write() as (conn, _head):
        raised = [store.raise_alert(conn, candidate, raised_at) for candidate in candidates]
    return [alert for alert in raised if alert is not None]


def resolve(book: Book, alert: Alert, resolution: Resolution) -> Alert:
    at = now_iso(book)
    with book.store.write() as (conn, _head):
        store.resolve(conn, alert.alert_id, resolution, at)
        resolved = store.alert_by_id(conn, alert.alert_id)
    assert resolved is not None
    return resolved


def unresolved_pending(book: Book) -> list[Alert]:
    with book.store.read() as conn:
        return store.unresolved_pending(conn)


def list_alerts(book: Book, *, include_acknowledged: bool = False) -> list[Alert]:
    with book.store.read() as conn:
        return store.list_alerts(conn, include_acknowledged=include_acknowledged)


def acknowledge(book: Book, alert_id: int, by: str) -> Alert:
    """Marks alert `alert_id` acknowledged by `by`, audited in the book's log in the same transaction.

    An unknown or already acknowledged alert is refused and nothing is written.
    """
    with book.atomic() as conn:
        alert = store.alert_by_id(conn, alert_id)
        if alert is None:
            raise AlertError(f"no alert {alert_id}: see boveda alerts --all")
        if alert.acknowledged:
            raise AlertError(f"alert {alert_id} was already acknowledged by {alert.acknowledged_by} "
                             f"at {alert.acknowledged_at}")
        at = book.acknowledge_alert(alert_id, by=by, alert_kind=alert.kind.value, holding=alert.holding,
                                    txid=alert.txid_hex)
        store.mark_acknowledged(conn, alert_id, by.strip(), at)
        acknowledged = store.alert_by_id(conn, alert_id)
    assert acknowledged is not None
    return acknowledged


def deliveries(book: Book, alert_id: int | None = None) -> list[store.Delivery]:
    with book.store.read() as conn:
        return store.deliveries(conn, alert_id)
