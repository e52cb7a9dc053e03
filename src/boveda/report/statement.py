"""A reserve's statement at a block: holdings, movements of a period by kind, fees,
discrepancies in plain words, and the book beside the chain — as one value the renderers
(table, JSON, CSV, HTML) turn into text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from boveda.book.domain import Account, Entry, EntryKind
from boveda.reconcile.explain import Explanation, explain_findings
from boveda.reconcile.facts import ChainTx
from boveda.reconcile.model import Discrepancy, Movement, MovementKind, Reconciliation, Severity
from boveda.report.fiat import FiatSummary
from boveda.report.rollforward import RollForward

STATEMENT_FORMAT = 1  # the version of to_json()'s layout (keys "rollforward" and "fiat" were added to it)


class SeriesBasis(StrEnum):
    """What the layers of the holdings chart are."""

    WALLET = "wallet"
    SOURCE = "source"  # purchases, forfeitures, sharing, …


@dataclass(frozen=True, slots=True)
class Holding:
    wallet: str
    balance_sat: int


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """Holdings on one day: one value per :attr:`Statement.series_labels`."""

    on: date
    values_sat: tuple[int, ...]

    @property
    def total_sat(self) -> int:
        return sum(self.values_sat)


@dataclass(frozen=True, slots=True)
class KindSummary:
    kind: MovementKind
    count: int
    amount_sat: int
    fee_sat: int


@dataclass(frozen=True, slots=True)
class AnchorLine:
    """An audit anchor confirmed by the statement's height: the audit log's head (event `seq`, its hash)
    committed in an OP_RETURN of transaction `txid_hex` (`boveda audit anchor`)."""

    txid_hex: str
    height: int
    seq: int
    head_hex: str


@dataclass(frozen=True, slots=True)
class JournalLine:
    """A book entry shown in the statement: its change to the holding and the other accounts."""

    entry_id: int
    kind: EntryKind
    on: date
    delta_sat: int
    other_accounts: tuple[Account, ...]
    authority_ref: str | None
    memo: str | None


@dataclass(frozen=True, slots=True)
class Statement:
    """Everything a statement shows. Movements and the journal are those of the period;
    holdings, balances and discrepancies are at ``height`` (the period's last block: the whole history
    up to it). ``rollforward`` is the period's opening-to-closing account on both sides, ``fiat`` the
    value and cost basis in one currency (each None when the caller had no data for it)."""

    reserve: str
    account: Account
    reserve_name: str | None
    height: int
    block_hash_hex: str
    block_date: date | None
    period_from: date | None
    period_to: date | None
    holdings: tuple[Holding, ...]
    series_basis: SeriesBasis
    series_labels: tuple[str, ...]
    series: tuple[SeriesPoint, ...]
    movements: tuple[Movement, ...]
    by_kind: tuple[KindSummary, ...]
    fees_sat: int
    discrepancies: tuple[Discrepancy, ...]
    explanations: tuple[Explanation, ...]
    journal: tuple[JournalLine, ...]
    chain_balance_sat: int
    book_balance_sat: int
    fees_unbooked_sat: int
    matched_entry_count: int
    rollforward: RollForward | None = None
    fiat: FiatSummary | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # BIP-329 labels of the txids shown, by txid
    anchors: tuple[AnchorLine, ...] = ()

    @property
    def holdings_total_sat(self) -> int:
        return sum(h.balance_sat for h in self.holdings)

    @property
    def difference_sat(self) -> int:
        """Book minus chain."""
        return self.book_balance_sat - self.chain_balance_sat

    @property
    def has_critical(self) -> bool:
        return any(d.severity is Severity.CRITICAL for d in self.discrepancies)

    def discrepancy_kinds_by_txid(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for d in self.discrepancies:
            if d.txid_hex:
                found.setdefault(d.txid_hex, []).append(d.kind.value)
        return {txid: tuple(kinds) for txid, kinds in found.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATEMENT_FORMAT,
            "reserve": self.reserve,
            "account": str(self.account),
            "reserve_name": self.reserve_name,
            "height": self.height,
            "block_hash": self.block_hash_hex,
            "block_date": _iso(self.block_date),
            "period": {"from": _iso(self.period_from), "to": _iso(self.period_to)},
            "chain_balance_sat": self.chain_balance_sat,
            "book_balance_sat": self.book_balance_sat,
            "difference_sat": self.difference_sat,
            "fees_unbooked_sat": self.fees_unbooked_sat,
            "has_critical": self.has_critical,
            "holdings": [{"wallet": h.wallet, "balance_sat": h.balance_sat} for h in self.holdings],
            "holdings_total_sat": self.holdings_total_sat,
            "series": {
                "basis": self.series_basis.value,
                "labels": list(self.series_labels),
                "points": [{"date": p.on.isoformat(), "values_sat": list(p.values_sat)} for p in self.series],
            },
            "by_kind": [{"kind": k.kind.value, "count": k.count, "amount_sat": k.amount_sat, "fee_sat": k.fee_sat}
                        for k in self.by_kind],
            "fees_sat": self.fees_sat,
            "movements": [m.to_json() for m in self.movements],
            "discrepancies": [d.to_json() for d in self.discrepancies],
            "explanations": [{"severity": e.severity.value if e.severity else None, "text": e.text}
                             for e in self.explanations],
            "journal": [
                {"entry_id": j.entry_id, "kind": j.kind.value, "date": j.on.isoformat(), "delta_sat": j.delta_sat,
                 "other_accounts": [str(a) for a in j.other_accounts], "authority_ref": j.authority_ref, "memo": j.memo}
                for j in self.journal
            ],
            "matched_entry_count": self.matched_entry_count,
            "rollforward": self.rollforward.to_json() if self.rollforward else None,
            "fiat": self.fiat.to_json() if self.fiat else None,
            "labels": dict(sorted(self.labels.items())),
            "anchors": [{"txid": a.txid_hex, "height": a.height, "seq": a.seq, "hash": a.head_hex} for a in self.anchors],
        }


def build_statement(
    reconciliation: Reconciliation,
    *,
    holdings_sat: Mapping[str, int],
    series: Sequence[tuple[date, Mapping[str, int]]] = (),
    series_basis: SeriesBasis | str = SeriesBasis.WALLET,
    period_from: date | None = None,
    period_to: date | None = None,
    block_date: date | None = None,
    reserve_name: str | None = None,
    movements_after_height: int | None = None,
    rollforward: RollForward | None = None,
    fiat: FiatSummary | None = None,
    txid_labels: Mapping[str, str] | None = None,
    anchors: Sequence[AnchorLine] = (),
) -> Statement:
    """The statement of ``reconciliation``'s holding.

    ``holdings_sat`` maps each wallet to its balance at the height; ``series`` is the chart's
    history as (day, {wallet or source: balance_sat}) points (see :func:`holdings_by_source`).
    Movements and book-only entries outside ``period_from``..``period_to`` (inclusive; open
    when ``None``) are left out; with ``movements_after_height`` the period's movements are those of
    the blocks above it instead (the blocks of a period, whatever their header dates say).
    """
    r = reconciliation
    in_period = _period_filter(period_from, period_to)
    if movements_after_height is None:
        movements = tuple(m for m in r.movements if in_period(m.block_date))
    else:
        movements = tuple(m for m in r.movements if m.height > movements_after_height)
    by_kind = []
    for kind in MovementKind:
        of_kind = [m for m in movements if m.kind is kind]
        by_kind.append(KindSummary(kind, len(of_kind), sum(m.amount_sat for m in of_kind),
                                   sum(m.fee_sat or 0 for m in of_kind)))
    labels = _labels(series)
    points = tuple(
        SeriesPoint(day, tuple(values.get(label, 0) for label in labels))
        for day, values in sorted(series, key=lambda point: point[0])
    )
    journal = tuple(_journal_line(r.account, e) for e in r.book_only_entries if in_period(e.effective_date))
    holdings = tuple(Holding(wallet, balance_sat) for wallet, balance_sat in
                     sorted(holdings_sat.items(), key=lambda item: (-item[1], item[0])))
    return Statement(
        reserve=r.reserve,
        account=r.account,
        reserve_name=reserve_name,
        height=r.height,
        block_hash_hex=r.block_hash_hex,
        block_date=block_date,
        period_from=period_from,
        period_to=period_to,
        holdings=holdings,
        series_basis=SeriesBasis(series_basis),
        series_labels=labels,
        series=points,
        movements=movements,
        by_kind=tuple(by_kind),
        fees_sat=sum(k.fee_sat for k in by_kind),
        discrepancies=r.discrepancies,
        explanations=explain_findings(r),
        journal=journal,
        chain_balance_sat=r.chain_balance_sat,
        book_balance_sat=r.book_balance_sat,
        fees_unbooked_sat=r.totals.fees_unbooked_sat,
        matched_entry_count=r.matched_entry_count,
        rollforward=rollforward,
        fiat=fiat,
        labels=dict(txid_labels or {}),
        anchors=tuple(anchors),
    )


# Where the coins of a holding came from, by the kind of the entry that brought them.
SOURCE_OF_KIND = {
    EntryKind.PURCHASE: "purchases",
    EntryKind.FORFEITURE_TRANSFER: "forfeitures",
    EntryKind.SHARING: "sharing",
    EntryKind.MINING: "mining",
    EntryKind.DONATION: "donations",
    EntryKind.INTERNAL_TRANSFER: "transfers",
    EntryKind.SEIZURE: "seizures",
}


def holdings_by_source(account: Account, entries: Iterable[Entry]) -> tuple[tuple[date, dict[str, int]], ...]:
    """The book's holdings of ``account`` by source, one point per day an entry changed them.

    Coins that leave (sales, restitution, sharing out, fees) are taken from every source
    pro rata to what it holds, so each layer stays what it was bought or forfeited for.
    """
    sources: dict[str, int] = {}
    points: dict[date, dict[str, int]] = {}
    for entry in sorted(entries, key=lambda e: (e.effective_date, e.entry_id)):
        delta_sat = sum(p.amount_sat for p in entry.postings if p.account == account)
        if not delta_sat:
            continue
        if delta_sat > 0:
            source = SOURCE_OF_KIND.get(entry.kind, entry.kind.value)
            sources[source] = sources.get(source, 0) + delta_sat
        else:
            _take_pro_rata(sources, -delta_sat)
        points[entry.effective_date] = dict(sources)
    return tuple(points.items())


def holdings_by_wallet(account: Account, chain_txs: Iterable[ChainTx], *, height: int | None = None
                       ) -> tuple[tuple[date, dict[str, int]], ...]:
    """Each of ``account``'s wallets' balance, one point per day a transaction changed them,
    replayed from the chain facts (up to ``height`` when given). The last point's values are
    the holdings at that height."""
    balances: dict[str, int] = {}
    points: dict[date, dict[str, int]] = {}
    for tx in sorted(chain_txs, key=lambda t: (t.height, t.tx_index)):
        if height is not None and tx.height > height:
            break
        changed = False
        for owned in tx.inputs:
            if owned.account == account:
                balances[owned.wallet] = balances.get(owned.wallet, 0) - owned.value_sat
                changed = True
        for owned in tx.outputs:
            if owned.account == account:
                balances[owned.wallet] = balances.get(owned.wallet, 0) + owned.value_sat
                changed = True
        if changed:
            points[tx.block_date] = dict(balances)
    return tuple(points.items())


def _take_pro_rata(sources: dict[str, int], amount_sat: int) -> None:
    total_sat = sum(sources.values())
    if total_sat <= 0:
        return
    amount_sat = min(amount_sat, total_sat)
    taken = {name: amount_sat * held // total_sat for name, held in sources.items()}
    rest_sat = amount_sat - sum(taken.values())
    for name in sorted(sources, key=lambda n: -(sources[n] - taken[n])):
        if not rest_sat:
            break
        step = min(rest_sat, sources[name] - taken[name])
        taken[name] += step
        rest_sat -= step
    for name, sat in taken.items():
        sources[name] -= sat


def _labels(series: Sequence[tuple[date, Mapping[str, int]]]) -> tuple[str, ...]:
    """Layer names, largest at the last point first, so the biggest layer sits at the bottom."""
    seen: dict[str, int] = {}
    for _, values in series:
        for label in values:
            seen.setdefault(label, 0)
    if series:
        last = max(series, key=lambda point: point[0])[1]
        for label in seen:
            seen[label] = last.get(label, 0)
    return tuple(sorted(seen, key=lambda label: (-seen[label], label)))


def _period_filter(period_from: date | None, period_to: date | None) -> Callable[[date], bool]:
    low = period_from or date.min
    high = period_to or date.max
    return lambda day: low <= day <= high


def _journal_line(account: Account, entry: Entry) -> JournalLine:
    delta_sat = sum(p.amount_sat for p in entry.postings if p.account == account)
    others = tuple(p.account for p in entry.postings if p.account != account)
    return JournalLine(entry_id=entry.entry_id, kind=entry.kind, on=entry.effective_date, delta_sat=delta_sat,
                       other_accounts=others, authority_ref=entry.authority_ref, memo=entry.memo)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
