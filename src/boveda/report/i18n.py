"""The statement's languages: English, and Spanish from ``messages_es.toml`` beside this module.

The site (``web/i18n.py``) keeps its own catalogue of the same form — English text = its Spanish —
for its pages; the layers keep ``report`` from importing ``web``, so the statement's words live here.
Amounts stay as every other face prints them (BTC with 8 decimals, no grouping) and dates stay ISO
8601, so a figure reads the same in the PDF, the CSV and ``--json`` whatever the language.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from boveda.book.domain import EntryKind
from boveda.errors import BovedaError
from boveda.reconcile.model import DISCREPANCY_MEANINGS, DiscrepancyKind, MovementKind, Severity

LANGUAGES = ("en", "es")
_CATALOG = Path(__file__).with_name("messages_es.toml")

# Closed sets in words: a label that wraps as words, never as snake_case.
_DISCREPANCY_WORDS = {
    DiscrepancyKind.UNRECORDED_OUTFLOW: "unrecorded outflow",
    DiscrepancyKind.UNRECORDED_INFLOW: "unrecorded inflow",
    DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL: "purchase that was an internal move",
    DiscrepancyKind.AMOUNT_MISMATCH: "amount mismatch",
    DiscrepancyKind.UNCONFIRMED_ENTRY: "unconfirmed entry",
    DiscrepancyKind.MIXED_INPUTS: "mixed inputs",
    DiscrepancyKind.ENTRY_DATED_AFTER_CONFIRMATION: "entry dated after confirmation",
    DiscrepancyKind.DUPLICATE_CITATION: "transaction cited twice",
}

_EN_PLURALS = {"discrepancy": "discrepancies", "warning": "warnings", "review": "to review"}


class StatementLanguageError(BovedaError):
    """A statement language Bóveda does not offer."""


@functools.cache
def _spanish() -> dict[str, str]:
    with open(_CATALOG, "rb") as handle:
        return tomllib.load(handle)


@dataclass(frozen=True, slots=True)
class Words:
    """The statement's words in one language (``code``: en or es)."""

    code: str

    def _(self, text: str) -> str:
        """``text`` in this language (English text is its own translation)."""
        return text if self.code == "en" else _spanish().get(text, text)

    def discrepancy(self, kind: DiscrepancyKind) -> str:
        return self._(_DISCREPANCY_WORDS.get(kind, kind.value.replace("_", " ")))

    def meaning(self, kind: DiscrepancyKind) -> str:
        return self._(DISCREPANCY_MEANINGS.get(kind, kind.value.replace("_", " ")))

    def movement(self, kind: MovementKind) -> str:
        return self._(kind.value)

    def entry(self, kind: EntryKind) -> str:
        return self._(kind.value.replace("_", " "))

    def severity(self, severity: Severity) -> str:
        return self._(severity.value)

    def count(self, n: int, noun: str) -> str:
        """``n`` and ``noun`` in the right number: ``1 discrepancy``, ``3 discrepancies``, ``2 warnings``;
        in Spanish from the catalogue's ``[plural]`` table (``5 críticas``)."""
        if n == 1:
            return f"{n} {self._(noun)}"
        if self.code == "en":
            return f"{n} {_EN_PLURALS.get(noun, noun)}"
        return f"{n} {_spanish().get('plural', {}).get(noun, self._(noun))}"

    def severities(self, severity: Severity, n: int) -> str:
        return self.count(n, severity.value)


def words(code: str) -> Words:
    """The Words of ``en`` or ``es``; StatementLanguageError for any other."""
    if code not in LANGUAGES:
        raise StatementLanguageError(f"the statement is written in {' or '.join(LANGUAGES)}, not {code!r}")
    return Words(code)
