"""The book's value types: reserves, cases, lots, accounts, journal entries, wallets.

All frozen; satoshis are ``int``; dates are ``datetime.date``; closed sets are enums.
Constructors do not validate — the ``parse_*``/``check_*`` functions of
:mod:`boveda.book.checks`, :func:`check_account` here and the rules in
:mod:`boveda.book.ledger` and :mod:`boveda.book.custody` do, so that replaying a stored
event and recording a new one go through the same checks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from boveda.book.checks import check_case_number, check_code, check_name
from boveda.book.errors import BookError


class LotState(StrEnum):
    """Where a seized lot stands in the custody lifecycle (docs/design.md)."""

    SEIZED = "seized"
    FORFEITURE_PENDING = "forfeiture_pending"
    FORFEITED = "forfeited"
    ALLOCATED_RESERVE = "allocated:reserve"
    ALLOCATED_RESTITUTION = "allocated:restitution"
    ALLOCATED_SHARING = "allocated:sharing"
    RELEASED = "released"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_LOT_STATES


_FINAL_LOT_STATES = frozenset(
    {LotState.ALLOCATED_RESERVE, LotState.ALLOCATED_RESTITUTION, LotState.ALLOCATED_SHARING, LotState.RELEASED}
)


class EntryKind(StrEnum):
    """Why coins moved between two accounts of the journal."""

    PURCHASE = "purchase"
    SEIZURE = "seizure"
    FORFEITURE_TRANSFER = "forfeiture_transfer"
    RESTITUTION = "restitution"
    SHARING = "sharing"
    RELEASE = "release"
    INTERNAL_TRANSFER = "internal_transfer"
    FEE = "fee"
    DONATION = "donation"
    MINING = "mining"
    SALE = "sale"


class AccountKind(StrEnum):
    """The closed set of account families; the value is the account's prefix."""

    RESERVE = "reserve"  # reserve:CODE — a reserve's holding
    CUSTODY = "custody"  # custody:CASE — coins seized in a case, not (yet) reserve property
    PARTNER = "partner"  # partner:CODE — a partner government under a sharing agreement
    EXCHANGE = "external:exchange"  # external:exchange:NAME — where coins are bought and sold
    VICTIMS = "external:victims"  # restitution goes here
    CLAIMANT = "external:claimant"  # the party coins were seized from; releases go back here
    MINER = "external:miner"  # coins mined by the state
    DONOR = "external:donor"  # coins given to the state
    FEES = "expense:fees"  # miners' fees paid when coins move

    @property
    def is_holding(self) -> bool:
        """Holdings are coins the state keeps; they may never go negative."""
        return self in (AccountKind.RESERVE, AccountKind.CUSTODY)

    @property
    def takes_name(self) -> bool:
        return self in (AccountKind.RESERVE, AccountKind.CUSTODY, AccountKind.PARTNER, AccountKind.EXCHANGE)


# Longest prefixes first so that "external:exchange:X" is not read as a bare "external:…".
_PREFIXES = {kind: kind.value for kind in AccountKind}
_NAMED_KINDS = frozenset(kind for kind in AccountKind if kind.takes_name)
_ACCOUNT_KINDS_BY_PREFIX = sorted(AccountKind, key=lambda kind: -len(kind.value))

ACCOUNT_FORMS = (
    "reserve:CODE, custody:CASE, partner:CODE, external:exchange:NAME, external:victims, "
    "external:claimant, external:miner, external:donor, expense:fees"
)


@dataclass(frozen=True, slots=True)
class Account:
    kind: AccountKind
    name: str = ""

    # Written out rather than generated: reconciliation and the rules compare accounts millions
    # of times, and the generated __eq__ builds two tuples per comparison.
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is not Account:
            return NotImplemented
        return self.kind is other.kind and self.name == other.name  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __str__(self) -> str:
        # Through module tables: Enum.value and takes_name are slow on the paths that write a
        # million postings.
        prefix = _PREFIXES[self.kind]
        return f"{prefix}:{self.name}" if self.kind in _NAMED_KINDS else prefix

    @classmethod
    def parse(cls, text: str) -> Account:
        """Parse ``reserve:SV``, ``external:victims``, …; refuse anything outside the closed set."""
        return _parse_account(text) if isinstance(text, str) else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> Account:
        if not isinstance(text, str):
            raise BookError(f"account must be text such as reserve:SV, not {type(text).__name__}")
        for kind in _ACCOUNT_KINDS_BY_PREFIX:
            if kind.takes_name and text.startswith(kind.value + ":"):
                name = text[len(kind.value) + 1 :]
                if kind is AccountKind.RESERVE or kind is AccountKind.PARTNER:
                    check_code(name, what=f"{kind.value} code")
                elif kind is AccountKind.CUSTODY:
                    check_case_number(name)
                else:
                    check_name(name, what="exchange name")
                return cls(kind, name)
            if not kind.takes_name and text == kind.value:
                return cls(kind)
        raise BookError(f"unknown account {text!r}: accounts are {ACCOUNT_FORMS}")

    @classmethod
    def reserve(cls, code: str) -> Account:
        return cls(AccountKind.RESERVE, code)

    @classmethod
    def custody(cls, case_number: str) -> Account:
        return cls(AccountKind.CUSTODY, case_number)

    @classmethod
    def partner(cls, code: str) -> Account:
        return cls(AccountKind.PARTNER, code)

    @classmethod
    def exchange(cls, name: str) -> Account:
        return cls(AccountKind.EXCHANGE, name)


def as_account(value: Account | str) -> Account:
    """An account given as itself or as its text (``reserve:SV``), for the book's commands."""
    return value if isinstance(value, Account) else Account.parse(value)


def check_account(account: Account) -> Account:
    """``account`` if :meth:`Account.parse` would make it from its text; BookError naming what is wrong.

    The constructors (``Account.reserve(code)``, …) do not validate; the rules call this.
    """
    if not isinstance(account, Account):
        raise BookError(f"account must be an account such as reserve:SV, not {account!r}")
    return _check_account(account)


@functools.lru_cache(maxsize=4096)
def _check_account(account: Account) -> Account:
    parsed = Account.parse(str(account))
    if parsed != account:
        raise BookError(f"malformed account {account!r}: accounts are {ACCOUNT_FORMS}")
    return parsed


@functools.lru_cache(maxsize=4096)
def _parse_account(text: str) -> Account:
    # Journals name few accounts many times; import and verification parse each posting.
    return Account._parse(text)


ACCOUNT_VICTIMS = Account(AccountKind.VICTIMS)
ACCOUNT_CLAIMANT = Account(AccountKind.CLAIMANT)
ACCOUNT_FEES = Account(AccountKind.FEES)
ACCOUNT_MINER = Account(AccountKind.MINER)
ACCOUNT_DONOR = Account(AccountKind.DONOR)


@dataclass(frozen=True, slots=True)
class Reserve:
    code: str
    name: str
    no_sale: bool = False
    address_cap_sat: int | None = None

    @property
    def account(self) -> Account:
        return Account.reserve(self.code)


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner government that may receive a share of forfeited coins."""

    code: str
    name: str

    @property
    def account(self) -> Account:
        return Account.partner(self.code)


@dataclass(frozen=True, slots=True)
class Agency:
    """A seizing agency; recorded the first time a case names it."""

    name: str


@dataclass(frozen=True, slots=True)
class Case:
    number: str
    agency: str
    court: str | None = None

    @property
    def account(self) -> Account:
        return Account.custody(self.number)


@dataclass(frozen=True, slots=True)
class Lot:
    """An amount seized in a case. ``parent_lot_id`` is set on the remainder of a partly shared lot."""

    lot_id: int
    case_number: str
    amount_sat: int
    seizure_txid: str
    seizure_outpoints: tuple[str, ...]
    seized_on: date
    state: LotState
    seizure_ref: str | None = None
    parent_lot_id: int | None = None


@dataclass(frozen=True, slots=True)
class LotTransition:
    """One step of a lot's lifecycle, with the authority that ordered it.

    ``destination`` is the account the coins went to (``None`` when no coin moved, as
    in forfeiture); ``share_bp`` is a sharing agreement's share in basis points
    (10000 = 100 %).
    """

    transition_id: int
    lot_id: int
    from_state: LotState
    to_state: LotState
    authority_ref: str
    effective_date: date
    txid: str | None = None
    destination: Account | None = None
    share_bp: int | None = None
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an entry: ``amount_sat > 0`` adds to the account, ``< 0`` takes from it."""

    account: Account
    amount_sat: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A double-entry journal record: its postings sum to zero.

    A wrong entry is never edited: a correction (a reversal or an adjustment) is a new entry of the
    same kind whose ``corrects_entry_id`` names it; the two together are what the book claims.
    """

    entry_id: int
    kind: EntryKind
    effective_date: date
    postings: tuple[Posting, ...]
    txids: tuple[str, ...] = ()
    authority_ref: str | None = None
    memo: str | None = None
    lot_id: int | None = None
    price_usd_cents: int | None = None
    corrects_entry_id: int | None = None  # a reversal or adjustment: the entry it corrects (never edited)
    resolves: str | None = None  # the reconciliation finding a correction resolves, in the correcting official's words
    from_wallet: str | None = None  # an internal move between two wallets of one holding: the paying wallet
    to_wallet: str | None = None  # … and the receiving one

    @property
    def is_correction(self) -> bool:
        return self.corrects_entry_id is not None

    @property
    def fee_sat(self) -> int:
        """The miners' fee the entry books to ``expense:fees`` (0 when none)."""
        return sum(p.amount_sat for p in self.postings if p.amount_sat > 0 and p.account == ACCOUNT_FEES)

    @property
    def amount_sat(self) -> int:
        """The value moved to the receiving accounts, without the fee (a fee entry's amount is its fee)."""
        moved_sat = sum(p.amount_sat for p in self.postings if p.amount_sat > 0)
        return moved_sat if self.kind is EntryKind.FEE else moved_sat - self.fee_sat


@dataclass(frozen=True, slots=True)
class Wallet:
    """A watch-only wallet: its output descriptor and the holding it belongs to."""

    name: str
    descriptor: str
    owner: Account
    birth_height: int | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    account: Account
    balance_sat: int


@dataclass(frozen=True, slots=True)
class Price:
    """The price of one bitcoin in ``currency`` on day ``on``, as the office's ``source`` stated it.

    ``price_minor`` is in the currency's hundredths (cents per BTC for USD); ``currency`` is an
    ISO 4217 code such as ``USD``.
    """

    on: date
    currency: str
    price_minor: int
    source: str


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last event of the audit log; ``seq == 0`` and 64 zeros for an empty book."""

    seq: int
    hash_hex: str


GENESIS_HASH = "0" * 64
