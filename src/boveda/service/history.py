"""A holding over time, as the transparency site draws and tabulates it: its balance on chain and in the
book at the end of each day, the coins that came, went and moved inside it each day, a period's
roll-forward (opening + inflows − outflows − fees ± mixed = closing), and each address's activity.

All of it is derived from one reconciliation (and, for the book's side, the journal it was made
from): nothing here reads the chain again or decides anything the reconciliation did not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from boveda.bitcoin.network import Network
from boveda.book.domain import Account, Entry
from boveda.reconcile.model import Movement, MovementKind, Reconciliation
from boveda.wallets import facts_store as facts
from boveda.wallets.report import ExposureReport, address_of


@dataclass(frozen=True, slots=True)
class DayPoint:
    """A holding at the end of one day on which its chain balance or its book balance changed."""

    on: date
    chain_sat: int
    book_sat: int

    def to_json(self) -> dict[str, Any]:
        return {"date": self.on.isoformat(), "chain_balance_sat": self.chain_sat, "book_balance_sat": self.book_sat}


@dataclass(frozen=True, slots=True)
class DayFlow:
    """What the chain shows of one day's movements: value received from outside, sent outside, moved
    between the holding's own wallets (no new coins), the net of mixed transactions, and fees paid."""

    on: date
    inflow_sat: int = 0
    outflow_sat: int = 0
    internal_sat: int = 0
    mixed_net_sat: int = 0
    fees_sat: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"date": self.on.isoformat(), "inflow_sat": self.inflow_sat, "outflow_sat": self.outflow_sat,
                "internal_sat": self.internal_sat, "mixed_net_sat": self.mixed_net_sat, "fees_sat": self.fees_sat}


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """The roll-forward of a period (inclusive days; open ends when None), on chain.

    ``closing_sat == opening_sat + inflow_sat - outflow_sat - fees_sat + mixed_net_sat``: an outflow's
    fee and an internal move's fee leave the holding, an inflow's fee was paid by the sender.
    """

    period_from: date | None
    period_to: date | None
    opening_sat: int
    inflow_sat: int
    outflow_sat: int
    internal_sat: int
    mixed_net_sat: int
    fees_sat: int
    closing_sat: int
    movement_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {"from": _iso(self.period_from), "to": _iso(self.period_to)},
            "opening_balance_sat": self.opening_sat, "inflow_sat": self.inflow_sat, "outflow_sat": self.outflow_sat,
            "internal_sat": self.internal_sat, "mixed_net_sat": self.mixed_net_sat, "fees_sat": self.fees_sat,
            "closing_balance_sat": self.closing_sat, "movement_count": self.movement_count,
        }


def daily_holdings(reconciliation: Reconciliation, entries: Iterable[Entry]) -> tuple[DayPoint, ...]:
    """The holding's chain balance (replayed from its movements) and book balance (from the journal's
    postings to it) at the end of every day on which either changed, oldest first."""
    account = reconciliation.account
    chain: dict[date, int] = {}
    running = 0
    for movement in _chain_order(reconciliation.movements):
        running += movement.delta_sat
        chain[movement.block_date] = running
    book: dict[date, int] = {}
    running = 0
    for entry in sorted(entries, key=lambda e: (e.effective_date, e.entry_id)):
        delta_sat = sum(p.amount_sat for p in entry.postings if p.account == account)
        if delta_sat:
            running += delta_sat
            book[entry.effective_date] = running
    points = []
    chain_sat = book_sat = 0
    for day in sorted(chain.keys() | book.keys()):
        chain_sat = chain.get(day, chain_sat)
        book_sat = book.get(day, book_sat)
        points.append(DayPoint(day, chain_sat, book_sat))
    return tuple(points)


def balance_on(points: tuple[DayPoint, ...], day: date) -> DayPoint:
    """The balances at the end of `day` (zero before the first point)."""
    found = DayPoint(day, 0, 0)
    for point in points:
        if point.on > day:
            break
        found = point
    return found


def change_over(points: tuple[DayPoint, ...], until: date, days: int) -> int:
    """How much the chain balance changed from the end of `until - days` to the end of `until`."""
    return balance_on(points, until).chain_sat - balance_on(points, until - timedelta(days=days)).chain_sat


def flows_by_day(reconciliation: Reconciliation) -> tuple[DayFlow, ...]:
    """Each day's movements by kind, oldest first (days without a movement are left out)."""
    days: dict[date, list[int]] = {}
    for m in reconciliation.movements:
        row = days.setdefault(m.block_date, [0, 0, 0, 0, 0])
        row[_COLUMN[m.kind]] += m.amount_sat
        row[4] += m.fee_sat or 0
    return tuple(DayFlow(day, *row) for day, row in sorted(days.items()))


_COLUMN = {MovementKind.INFLOW: 0, MovementKind.OUTFLOW: 1, MovementKind.INTERNAL: 2, MovementKind.MIXED: 3}


def period_summary(reconciliation: Reconciliation, period_from: date | None, period_to: date | None
                   ) -> PeriodSummary:
    """The roll-forward of the reconciliation's movements from `period_from` to `period_to` (inclusive)."""
    low, high = period_from or date.min, period_to or date.max
    opening = sum(m.delta_sat for m in reconciliation.movements if m.block_date < low)
    inside = [m for m in reconciliation.movements if low <= m.block_date <= high]
    by_kind = {kind: sum(m.amount_sat for m in inside if m.kind is kind) for kind in MovementKind}
    return PeriodSummary(
        period_from, period_to, opening, by_kind[MovementKind.INFLOW], by_kind[MovementKind.OUTFLOW],
        by_kind[MovementKind.INTERNAL], by_kind[MovementKind.MIXED], sum(m.fee_sat or 0 for m in inside),
        opening + sum(m.delta_sat for m in inside), len(inside),
    )


def _chain_order(movements: Iterable[Movement]) -> list[Movement]:
    return sorted(movements, key=lambda m: (m.height, m.tx_index))


# -- addresses ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressActivity:
    """One address of a holding that the chain has paid, at a height: what it holds and has received,
    when it was first and last used (paid or spent from), and why it is exposed (at the synced tip)."""

    wallet: str
    address: str
    branch: int | None
    index: int | None
    balance_sat: int
    utxo_count: int
    received_count: int
    received_sat: int
    first_height: int
    last_height: int
    exposure: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"wallet": self.wallet, "address": self.address, "branch": self.branch, "index": self.index,
                "balance_sat": self.balance_sat, "utxo_count": self.utxo_count,
                "received_count": self.received_count, "received_sat": self.received_sat,
                "first_used_height": self.first_height, "last_used_height": self.last_height,
                "exposure": list(self.exposure)}


def address_activity(conn: Connection, account: Account, height: int, network: Network,
                     exposure: ExposureReport | None = None) -> tuple[AddressActivity, ...]:
    """Every address of `account`'s wallets paid at or below `height`, the largest balance first."""
    names = [name for name, owner in facts.wallet_owners(conn).items() if Account.parse(owner) == account]
    reasons = {a.address: a.reasons for a in exposure.addresses} if exposure is not None else {}
    per_script: dict[bytes, dict[str, Any]] = {}
    for coin in facts.wallet_coins(conn, names, made_by=height, with_locations=True):
        row = per_script.setdefault(coin.script_pubkey, {
            "wallet": coin.wallet, "branch": coin.branch, "index": coin.index, "balance": 0, "utxos": 0,
            "received": 0, "received_sat": 0, "first": coin.height, "last": coin.height})
        row["received"] += 1
        row["received_sat"] += coin.value_sat
        row["first"] = min(row["first"], coin.height)
        row["last"] = max(row["last"], coin.height)
        if coin.spent_height is not None and coin.spent_height <= height:
            row["last"] = max(row["last"], coin.spent_height)
        else:
            row["balance"] += coin.value_sat
            row["utxos"] += 1
    lines = []
    for script, row in per_script.items():
        address = address_of(script, network)
        lines.append(AddressActivity(row["wallet"], address, row["branch"], row["index"], row["balance"],
                                     row["utxos"], row["received"], row["received_sat"], row["first"], row["last"],
                                     tuple(reasons.get(address, ()))))
    lines.sort(key=lambda a: (-a.balance_sat, -a.last_height, a.address))
    return tuple(lines)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
