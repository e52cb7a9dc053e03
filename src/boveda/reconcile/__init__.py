"""Reconciliation: classify what the chain shows for a holding, match it with the book's
journal, and state every disagreement as a value. Pure: no disk, no network."""

from boveda.reconcile.classify import classify, classify_account
from boveda.reconcile.explain import Explanation, explain, explain_findings
from boveda.reconcile.facts import ChainTx, Owned, ReconcileError
from boveda.reconcile.match import reconcile, reconcile_account
from boveda.reconcile.model import (
    EXTERNAL,
    Discrepancy,
    DiscrepancyKind,
    Movement,
    MovementKind,
    Outside,
    Party,
    Reconciliation,
    Severity,
    Totals,
    parties_text,
)

__all__ = [
    "EXTERNAL",
    "ChainTx",
    "Discrepancy",
    "DiscrepancyKind",
    "Explanation",
    "Movement",
    "MovementKind",
    "Outside",
    "Owned",
    "Party",
    "ReconcileError",
    "Reconciliation",
    "Severity",
    "Totals",
    "classify",
    "classify_account",
    "explain",
    "explain_findings",
    "parties_text",
    "reconcile",
    "reconcile_account",
]
