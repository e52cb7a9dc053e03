"""The site's plain words for the book's and the chain's closed sets: what a movement did, what a
discrepancy means, where a lot stands. English here; Spanish in messages_es.toml."""

from __future__ import annotations

from boveda.book.domain import Account, AccountKind, EntryKind, LotState
from boveda.reconcile.model import (
    DISCREPANCY_MEANINGS,
    EXTERNAL,
    DiscrepancyKind,
    Movement,
    MovementKind,
    Party,
    Severity,
)
from boveda.web.i18n import Lang

_ENTRY_KINDS = {
    EntryKind.PURCHASE: "purchase", EntryKind.SEIZURE: "seizure", EntryKind.FORFEITURE_TRANSFER: "forfeiture transfer",
    EntryKind.RESTITUTION: "restitution", EntryKind.SHARING: "sharing", EntryKind.RELEASE: "release",
    EntryKind.INTERNAL_TRANSFER: "internal transfer", EntryKind.FEE: "fee", EntryKind.DONATION: "donation",
    EntryKind.MINING: "mining", EntryKind.SALE: "sale",
}
_SEVERITIES = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.REVIEW: "review"}
_STATES = {
    LotState.SEIZED: "Seized", LotState.FORFEITURE_PENDING: "Forfeiture pending", LotState.FORFEITED: "Forfeited",
    LotState.ALLOCATED_RESERVE: "Allocated to a reserve", LotState.ALLOCATED_RESTITUTION: "Returned to victims",
    LotState.ALLOCATED_SHARING: "Shared with a partner government", LotState.RELEASED: "Released to the claimant",
}
_STATE_NOTES = {
    LotState.SEIZED: "Held by the seizing agency; not government property yet.",
    LotState.FORFEITURE_PENDING: "Forfeiture proceedings are open in court.",
    LotState.FORFEITED: "A final order made the coins government property.",
    LotState.ALLOCATED_RESERVE: "Forfeited coins moved into a reserve.",
    LotState.ALLOCATED_RESTITUTION: "Forfeited coins paid to victims under a restitution order.",
    LotState.ALLOCATED_SHARING: "A share of forfeited coins given to a partner government under an agreement.",
    LotState.RELEASED: "Coins returned to the person they were seized from, under an order.",
}


def entry_kind(lang: Lang, kind: EntryKind) -> str:
    return lang._(_ENTRY_KINDS.get(kind, kind.value))


def discrepancy(lang: Lang, kind: DiscrepancyKind) -> str:
    return lang._(DISCREPANCY_MEANINGS.get(kind, kind.value))


def severity(lang: Lang, value: Severity) -> str:
    return lang._(_SEVERITIES[value])


def lot_state(lang: Lang, state: LotState) -> str:
    return lang._(_STATES[state])


def lot_state_note(lang: Lang, state: LotState) -> str:
    return lang._(_STATE_NOTES[state])


def party(lang: Lang, value: Party) -> str:
    if value is EXTERNAL:
        return lang._("outside the book")
    assert isinstance(value, Account)
    if value.kind is AccountKind.CUSTODY:
        return lang._("custody of case") + f" {value.name}"
    if value.kind is AccountKind.RESERVE:
        return lang._("reserve") + f" {value.name}"
    return str(value)


def movement(lang: Lang, m: Movement) -> str:
    """What the transaction did to the holding, in a few words."""
    others = [p for p in m.counterparty if p is not EXTERNAL]
    if m.kind is MovementKind.INTERNAL:
        return lang._("Moved between its own wallets (no coins in or out)")
    if m.kind is MovementKind.MIXED:
        return lang._("Mixed: also spends coins of others (to review)")
    if m.kind is MovementKind.INFLOW:
        if others:
            return lang._("Received from") + " " + ", ".join(party(lang, p) for p in others)
        return lang._("Received from outside the book")
    if others:
        return lang._("Sent to") + " " + ", ".join(party(lang, p) for p in others)
    return lang._("Sent outside the book")
