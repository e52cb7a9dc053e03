"""A reconciliation's irregularities in plain sentences, grouped where that reads better."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from boveda.money import format_btc
from boveda.reconcile.model import (
    EXTERNAL,
    Discrepancy,
    DiscrepancyKind,
    Party,
    Reconciliation,
    Severity,
    parties_text,
)

_D = DiscrepancyKind
_LISTED = 5  # findings named one by one before the rest are summed up


@dataclass(frozen=True, slots=True)
class Explanation:
    """One sentence; ``severity`` is that of the findings it sums up (``None`` for a balance note)."""

    severity: Severity | None
    text: str


def explain(reconciliation: Reconciliation) -> tuple[str, ...]:
    """One sentence per group of like findings, the most severe first; empty when the book
    matches the chain (fees the book does not record are not irregularities)."""
    return tuple(e.text for e in explain_findings(reconciliation))


def explain_findings(reconciliation: Reconciliation) -> tuple[Explanation, ...]:
    """:func:`explain` with each sentence's severity."""
    r = reconciliation
    who = r.reserve
    by_kind: dict[DiscrepancyKind, list[Discrepancy]] = {}
    for found in r.discrepancies:
        by_kind.setdefault(found.kind, []).append(found)
    sentences: list[Explanation] = []

    def add(severity: Severity | None, text: str) -> None:
        sentences.append(Explanation(severity, text + "."))

    claims = by_kind.get(_D.CLAIMED_PURCHASE_IS_INTERNAL, [])
    for counterparty, group in _by_counterparty(claims):
        where = (f"moved between {who}'s own wallets" if counterparty == (r.account,)
                 else f"came from {parties_text(counterparty)}, another tracked holding")
        add(Severity.CRITICAL, f"{_btc(group)} BTC recorded as purchases {_dates(group)} {where} ({_txs(group)})")

    for counterparty, group in _by_counterparty(by_kind.get(_D.UNRECORDED_OUTFLOW, [])):
        add(Severity.CRITICAL,
            f"{_btc(group)} BTC left {who}'s wallets {_dates(group)} to {_party(counterparty)} "
            f"with no authorising entry in the book ({_txs(group)})")

    mismatches = by_kind.get(_D.AMOUNT_MISMATCH, [])
    for found in mismatches[:_LISTED]:
        kind = found.entry_kind.value if found.entry_kind else "entry"
        who_records = (f"Entries {_ids(found.entry_ids)} ({kind}, from {found.on}) record" if found.entry_ids
                       else f"Entry #{found.entry_id} ({kind}, {found.on}) records")
        add(Severity.CRITICAL,
            f"{who_records} {_signed(found.book_amount_sat)} BTC for {who} "
            f"but the chain shows {_signed(found.chain_amount_sat)} BTC (transaction {_short(found.txid_hex)})")
    if len(mismatches) > _LISTED:
        rest = mismatches[_LISTED:]
        add(Severity.CRITICAL, f"{len(rest)} more entries disagree with the chain by {_btc(rest)} BTC in all")

    for counterparty, group in _by_counterparty(by_kind.get(_D.UNRECORDED_INFLOW, [])):
        add(Severity.WARNING,
            f"{_btc(group)} BTC arrived in {who}'s wallets {_dates(group)} from {_party(counterparty)} "
            f"with no entry in the book ({_txs(group)})")

    unconfirmed = by_kind.get(_D.UNCONFIRMED_ENTRY, [])
    if unconfirmed:
        named = ", ".join(f"#{d.entry_id} ({d.entry_kind.value if d.entry_kind else 'entry'}, {d.on})"
                          for d in unconfirmed[:_LISTED])
        more = f" and {len(unconfirmed) - _LISTED} more" if len(unconfirmed) > _LISTED else ""
        add(Severity.WARNING,
            f"{_count(len(unconfirmed), 'entry', 'entries')} ({_btc(unconfirmed)} BTC) cite transactions "
            f"not confirmed at height {r.height}: {named}{more}")

    for found in by_kind.get(_D.DUPLICATE_CITATION, []):
        kind = found.entry_kind.value if found.entry_kind else "entry"
        add(Severity.WARNING,
            f"Entries {_ids(found.entry_ids)} ({kind}) all cite one transaction ({_short(found.txid_hex)}), together "
            f"{format_btc(found.amount_sat)} BTC for {who}: check that it is not recorded twice")

    late = by_kind.get(_D.ENTRY_DATED_AFTER_CONFIRMATION, [])
    if late:
        named = ", ".join(f"#{d.entry_id} ({d.entry_kind.value if d.entry_kind else 'entry'}, {d.on}, "
                          f"{_count(d.days or 0, 'day', 'days')} late)" for d in late[:_LISTED])
        more = f" and {len(late) - _LISTED} more" if len(late) > _LISTED else ""
        add(Severity.WARNING,
            f"{_count(len(late), 'entry is', 'entries are')} dated after the transactions they cite confirmed, "
            f"and matched with them all the same: {named}{more}")

    mixed = by_kind.get(_D.MIXED_INPUTS, [])
    if mixed:
        net_sat = sum(d.chain_amount_sat or 0 for d in mixed)
        add(Severity.REVIEW,
            f"{_count(len(mixed), 'transaction', 'transactions')} {_dates(mixed)} spent {who}'s coins together "
            f"with coins of others (coinjoin or payjoin) and need review (net {_signed(net_sat)} BTC for {who})")

    for resolution in r.resolved[:_LISTED]:
        found = resolution.discrepancy
        cited = "; ".join(resolution.resolves)
        add(None, f"Resolved: {_finding_words(found)} ({_short(found.txid_hex)}), corrected by "
                  f"{'entry' if len(resolution.correction_entry_ids) == 1 else 'entries'} "
                  f"{_ids(resolution.correction_entry_ids)}" + (f" (\u201c{cited}\u201d)" if cited else ""))
    if len(r.resolved) > _LISTED:
        add(None, f"{len(r.resolved) - _LISTED} more findings were resolved by corrections in the journal")

    unexplained_sat = r.balance_difference_sat - r.totals.fees_unbooked_sat
    if unexplained_sat:
        side = "higher" if r.balance_difference_sat > 0 else "lower"
        sentence = (f"The book holds {format_btc(r.book_balance_sat)} BTC for {who} and the chain "
                    f"{format_btc(r.chain_balance_sat)} BTC at height {r.height}: the book is "
                    f"{format_btc(abs(r.balance_difference_sat))} BTC {side}")
        if r.totals.fees_unbooked_sat:
            sentence += (f", of which {format_btc(r.totals.fees_unbooked_sat)} BTC are fees paid on chain "
                         "that the book does not record")
        add(None, sentence)
    return tuple(sentences)


def _finding_words(found: Discrepancy) -> str:
    entry = f"entry #{found.entry_id}" if found.entry_id is not None else "the transaction"
    if found.kind is _D.AMOUNT_MISMATCH:
        return (f"{entry} recorded {_signed(found.book_amount_sat)} BTC where the chain shows "
                f"{_signed(found.chain_amount_sat)} BTC")
    return f"{found.kind.value.replace('_', ' ')} of {entry}, {format_btc(found.amount_sat)} BTC"


def _by_counterparty(found: Iterable[Discrepancy]) -> list[tuple[tuple[Party, ...], list[Discrepancy]]]:
    groups: dict[tuple[Party, ...], list[Discrepancy]] = {}
    for d in found:
        groups.setdefault(d.counterparty or (EXTERNAL,), []).append(d)
    return sorted(groups.items(), key=lambda item: -sum(d.amount_sat for d in item[1]))


def _btc(found: Sequence[Discrepancy]) -> str:
    return format_btc(sum(d.amount_sat for d in found))


def _signed(amount_sat: int | None) -> str:
    amount_sat = amount_sat or 0
    return ("+" if amount_sat > 0 else "") + format_btc(amount_sat)


def _dates(found: Sequence[Discrepancy]) -> str:
    days = sorted({d.on for d in found if d.on is not None})
    if not days:
        return ""
    return f"on {days[0]}" if len(days) == 1 else f"on {_day(days[0])}..{_day(days[-1])}"


def _day(day: date) -> str:
    return day.isoformat()


def _txs(found: Sequence[Discrepancy]) -> str:
    txids = {d.txid_hex for d in found}
    if len(txids) == 1:
        return f"1 transaction, {_short(next(iter(txids)))}"
    return f"{len(txids)} transactions"


def _party(counterparty: tuple[Party, ...]) -> str:
    tracked = parties_text(p for p in counterparty if p is not EXTERNAL)
    if not tracked:
        return "addresses outside the book"
    return tracked + (" and addresses outside the book" if EXTERNAL in counterparty else "")


def _ids(entry_ids: Sequence[int]) -> str:
    return ", ".join(f"#{entry_id}" for entry_id in entry_ids)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _short(txid_hex: str | None) -> str:
    return f"{txid_hex[:12]}…" if txid_hex else "none"
