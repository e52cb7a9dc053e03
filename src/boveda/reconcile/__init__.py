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
    Reconciliation,
    Severity,
    Totals,
)

__all__ = [
    "EXTERNAL",
    "ChainTx",
    "Discrepancy",
    "DiscrepancyKind",
    "Explanation",
    "Movement",
    "MovementKind",
    "Owned",
    "ReconcileError",
    "Reconciliation",
    "Severity",
    "Totals",
    "classify",
    "classify_account",
    "explain",
    "explain_findings",
    "reconcile",
    "reconcile_account",
]
