"""The findings of reconciliation as values: movements, discrepancies, totals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import Any

from boveda.book.domain import Account, Entry, EntryKind


class MovementKind(StrEnum):
    """What one transaction did to one holding (docs/design.md, "Movement classification")."""

    INFLOW = "inflow"
    OUTFLOW = "outflow"
    INTERNAL = "internal"
    MIXED = "mixed"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    REVIEW = "review"

    @property
    def rank(self) -> int:
        """0 for the most severe, for sorting."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.REVIEW: 2}


class DiscrepancyKind(StrEnum):
    UNRECORDED_OUTFLOW = "unrecorded_outflow"
    UNRECORDED_INFLOW = "unrecorded_inflow"
    CLAIMED_PURCHASE_IS_INTERNAL = "claimed_purchase_is_internal"
    AMOUNT_MISMATCH = "amount_mismatch"
    UNCONFIRMED_ENTRY = "unconfirmed_entry"
    MIXED_INPUTS = "mixed_inputs"
    ENTRY_DATED_AFTER_CONFIRMATION = "entry_dated_after_confirmation"
    DUPLICATE_CITATION = "duplicate_citation"

    @property
    def severity(self) -> Severity:
        return _SEVERITIES[self]


# What each kind means, for a reader who has not seen the word before (the site, the statements; their
# Spanish catalogues translate these texts).
DISCREPANCY_MEANINGS = {
    DiscrepancyKind.UNRECORDED_OUTFLOW: "Coins left with no authorising entry in the book",
    DiscrepancyKind.UNRECORDED_INFLOW: "Coins arrived with no entry in the book",
    DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL: "Recorded as a purchase, but the chain shows a move between "
                                                  "the reserve's own wallets",
    DiscrepancyKind.AMOUNT_MISMATCH: "The book and the chain disagree on the amount",
    DiscrepancyKind.UNCONFIRMED_ENTRY: "The entry cites a transaction not confirmed at this block",
    DiscrepancyKind.MIXED_INPUTS: "The transaction also spends coins of others (to review)",
    DiscrepancyKind.ENTRY_DATED_AFTER_CONFIRMATION: "The entry is dated after the chain confirmed its transaction",
    DiscrepancyKind.DUPLICATE_CITATION: "More than one entry cites the same transaction",
}

_SEVERITIES = {
    DiscrepancyKind.UNRECORDED_OUTFLOW: Severity.CRITICAL,
    DiscrepancyKind.UNRECORDED_INFLOW: Severity.WARNING,
    DiscrepancyKind.CLAIMED_PURCHASE_IS_INTERNAL: Severity.CRITICAL,
    DiscrepancyKind.AMOUNT_MISMATCH: Severity.CRITICAL,
    DiscrepancyKind.UNCONFIRMED_ENTRY: Severity.WARNING,
    DiscrepancyKind.MIXED_INPUTS: Severity.REVIEW,
    DiscrepancyKind.ENTRY_DATED_AFTER_CONFIRMATION: Severity.WARNING,
    DiscrepancyKind.DUPLICATE_CITATION: Severity.WARNING,
}


class Outside(Enum):
    """The far side of coins paid to or spent from scripts no book tracks."""

    EXTERNAL = "external"

    def __str__(self) -> str:
        return self.value


EXTERNAL = Outside.EXTERNAL

Party = Account | Outside  # one side of a movement: a tracked holding, or EXTERNAL


def parties_text(parties: Iterable[Party]) -> str:
    """A counterparty as the statements and ``--json`` print it: ``custody:1:13-cr-00950,external``."""
    return ",".join(str(party) for party in parties)


@dataclass(frozen=True, slots=True)
class Movement:
    """What one confirmed transaction did to one holding.

    ``amount_sat``: inflow — value received (``out_sat``); outflow — value of the outputs not
    paying the holding; internal — value that stayed (``out_sat``); mixed — the net change
    ``out_sat - in_sat``, which may be negative. ``fee_sat`` is the miners' fee when the
    holding paid all of it (outflow, internal), else ``None`` (inflow: someone else paid it;
    mixed: the fee cannot be attributed). ``counterparty`` is ``(EXTERNAL,)``, the tracked
    accounts on the other side in the order of their text (a transfer between two books,
    seen from this side; ``EXTERNAL`` last when untracked scripts take part too), or the
    holding itself for an internal move. ``entry_ids`` are the journal entries citing this
    transaction; ``entry_id`` the one that best matches it.
    """

    txid_hex: str
    height: int
    tx_index: int
    block_date: date
    kind: MovementKind
    amount_sat: int
    fee_sat: int | None
    in_sat: int
    out_sat: int
    counterparty: tuple[Party, ...]
    entry_id: int | None = None
    entry_ids: tuple[int, ...] = ()

    @property
    def delta_sat(self) -> int:
        """The change of the holding's balance: ``out_sat - in_sat``."""
        return self.out_sat - self.in_sat

    @property
    def is_transfer(self) -> bool:
        """Coins moved between two tracked books (one transfer, seen from this side)."""
        return self.kind is not MovementKind.INTERNAL and self.counterparty != (EXTERNAL,)

    def to_json(self) -> dict[str, Any]:
        return {
            "txid": self.txid_hex,
            "height": self.height,
            "tx_index": self.tx_index,
            "date": self.block_date.isoformat(),
            "kind": self.kind.value,
            "amount_sat": self.amount_sat,
            "fee_sat": self.fee_sat,
            "in_sat": self.in_sat,
            "out_sat": self.out_sat,
            "counterparty": parties_text(self.counterparty),
            "transfer": self.is_transfer,
            "entry_id": self.entry_id,
            "entry_ids": list(self.entry_ids),
        }


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One disagreement between the book and the chain (or a movement needing review).

    ``amount_sat`` is what is at stake: the value moved on chain for unrecorded and mixed
    movements, the entry's amount for claimed purchases and unconfirmed entries, and the
    difference between book and chain for an amount mismatch (both are in the detail and in
    ``book_amount_sat``/``chain_amount_sat``, signed changes of the holding). ``on`` is the
    block's date for a finding about a movement (unrecorded, mixed) and the entry's date for
    a finding about an entry. ``counterparty`` is the movement's, when there is one (else ``()``).
    ``entry_ids`` names every entry of a finding about several (a duplicate citation, a mismatch of
    a group of entries); ``entry_id`` is then the first of them. ``days`` is how many days an
    entry is dated after the confirmation of the transaction it cites.
    """

    kind: DiscrepancyKind
    txid_hex: str | None
    amount_sat: int
    detail: str
    on: date | None = None
    height: int | None = None
    entry_id: int | None = None
    entry_kind: EntryKind | None = None
    book_amount_sat: int | None = None
    chain_amount_sat: int | None = None
    counterparty: tuple[Party, ...] = ()
    entry_ids: tuple[int, ...] = ()
    days: int | None = None

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "txid": self.txid_hex,
            "amount_sat": self.amount_sat,
            "detail": self.detail,
            "date": self.on.isoformat() if self.on else None,
            "height": self.height,
            "entry_id": self.entry_id,
            "entry_kind": self.entry_kind.value if self.entry_kind else None,
            "book_amount_sat": self.book_amount_sat,
            "chain_amount_sat": self.chain_amount_sat,
            "counterparty": parties_text(self.counterparty) if self.counterparty else None,
            # Only on the findings that have them, so the documents of the other kinds keep their form.
            **({"entry_ids": list(self.entry_ids)} if self.entry_ids else {}),
            **({"days": self.days} if self.days is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class Resolution:
    """A finding the book's corrections resolved: what reconciling the entry as first recorded finds
    (``discrepancy``), the corrections (reversals, adjustments) that made it agree with the chain, and the
    findings their officials said they resolve (``resolves``, in their words)."""

    discrepancy: Discrepancy
    correction_entry_ids: tuple[int, ...]
    resolves: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"discrepancy": self.discrepancy.to_json(), "correction_entry_ids": list(self.correction_entry_ids),
                "resolves": list(self.resolves)}


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a reconciliation's movements (chain) and entries (book).

    ``fees_sat`` are the fees the holding paid on chain; ``fees_unbooked_sat`` the part of
    them the book does not record (not a discrepancy, but it explains a book balance above
    the chain's). ``by_entry_kind_sat`` has one total per journal kind: the value the entries
    of that kind moved into or out of the holding, fees excluded (a ``fee`` entry's total is
    its fee). ``book_fees_sat`` are the fees the book records, in fee entries or as fee
    postings of other entries.
    """

    inflow_sat: int
    outflow_sat: int
    internal_sat: int
    mixed_net_sat: int
    fees_sat: int
    fees_unbooked_sat: int
    book_fees_sat: int
    movement_counts: tuple[tuple[MovementKind, int], ...]
    by_entry_kind_sat: tuple[tuple[EntryKind, int], ...]

    def count(self, kind: MovementKind) -> int:
        return dict(self.movement_counts)[kind]

    def entry_kind_sat(self, kind: EntryKind) -> int:
        return dict(self.by_entry_kind_sat)[kind]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "inflow_sat": self.inflow_sat,
            "outflow_sat": self.outflow_sat,
            "internal_sat": self.internal_sat,
            "mixed_net_sat": self.mixed_net_sat,
            "fees_sat": self.fees_sat,
            "fees_unbooked_sat": self.fees_unbooked_sat,
            "book_fees_sat": self.book_fees_sat,
        }
        out.update({f"{kind.value}_count": n for kind, n in self.movement_counts})
        out.update({f"{kind.value}_sat": amount for kind, amount in self.by_entry_kind_sat})
        return out


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A holding's movements matched with its journal at one block.

    ``book_only_entries`` cite no transaction (a forfeiture order, an opening balance): they
    are neither matched nor flagged, and a statement lists them in its journal section. An entry
    and its corrections are matched as one claim of their net amount; ``resolved`` lists what the
    entry alone would have been found to be, and the corrections that resolved it.
    """

    reserve: str  # the code for a reserve ("SV"), the account's text for any other holding
    account: Account
    height: int
    block_hash_hex: str
    chain_balance_sat: int
    book_balance_sat: int
    movements: tuple[Movement, ...]
    discrepancies: tuple[Discrepancy, ...]
    totals: Totals
    book_only_entries: tuple[Entry, ...] = ()
    matched_entry_count: int = 0
    resolved: tuple[Resolution, ...] = ()  # findings the journal's corrections resolved

    @property
    def has_critical(self) -> bool:
        return any(d.kind.severity is Severity.CRITICAL for d in self.discrepancies)

    @property
    def balance_difference_sat(self) -> int:
        """Book minus chain."""
        return self.book_balance_sat - self.chain_balance_sat

    def to_json(self) -> dict[str, Any]:
        return {
            "reserve": self.reserve,
            "account": str(self.account),
            "height": self.height,
            "block_hash": self.block_hash_hex,
            "chain_balance_sat": self.chain_balance_sat,
            "book_balance_sat": self.book_balance_sat,
            "has_critical": self.has_critical,
            "movements": [m.to_json() for m in self.movements],
            "discrepancies": [d.to_json() for d in self.discrepancies],
            "totals": self.totals.to_json(),
            "book_only_entries": [e.entry_id for e in self.book_only_entries],
            "matched_entry_count": self.matched_entry_count,
            # Only when a correction resolved a finding, so the documents of books without corrections keep their form.
            **({"resolved": [r.to_json() for r in self.resolved]} if self.resolved else {}),
        }
