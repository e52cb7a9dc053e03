"""The book's value types: reserves, cases, lots, accounts, journal entries, wallets.

All frozen; satoshis are ``int``; dates are ``datetime.date``; closed sets are enums.
Constructors do not validate — the ``parse_*``/``check_*`` functions here and the rules
in :mod:`boveda.book.ledger` and :mod:`boveda.book.custody` do, so that replaying a
stored event and recording a new one go through the same checks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from boveda.book.errors import BookError


class LotState(StrEnum):
    """Where a seized lot stands in the custody lifecycle (DESIGN.md)."""

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
_ACCOUNT_KINDS_BY_PREFIX = sorted(AccountKind, key=lambda kind: -len(kind.value))

_CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
_CASE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._/-]{0,63}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TXID_RE = re.compile(r"[0-9a-f]{64}")
_WALLET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

ACCOUNT_FORMS = (
    "reserve:CODE, custody:CASE, partner:CODE, external:exchange:NAME, external:victims, "
    "external:claimant, external:miner, external:donor, expense:fees"
)


@dataclass(frozen=True, slots=True)
class Account:
    kind: AccountKind
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}" if self.kind.takes_name else self.kind.value

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
    destination: str | None = None
    share_bp: int | None = None
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an entry: ``amount_sat > 0`` adds to the account, ``< 0`` takes from it."""

    account: str
    amount_sat: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A double-entry journal record: its postings sum to zero."""

    entry_id: int
    kind: EntryKind
    effective_date: date
    postings: tuple[Posting, ...]
    txids: tuple[str, ...] = ()
    authority_ref: str | None = None
    memo: str | None = None
    lot_id: int | None = None
    price_usd_cents: int | None = None

    @property
    def fee_sat(self) -> int:
        """The miners' fee the entry books to ``expense:fees`` (0 when none)."""
        return sum(p.amount_sat for p in self.postings if p.amount_sat > 0 and p.account == "expense:fees")

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
    owner: str
    birth_height: int | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    balance_sat: int


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last event of the audit log; ``seq == 0`` and 64 zeros for an empty book."""

    seq: int
    hash_hex: str


GENESIS_HASH = "0" * 64


# -- checks of single values (used by commands and by replay) --------------------------------


def check_code(code: str, *, what: str = "code") -> str:
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise BookError(f"bad {what} {code!r}: use 1-32 capital letters, digits, '-' or '_' (e.g. SV, US-SBR)")
    return code


def check_case_number(number: str) -> str:
    if not isinstance(number, str) or not _CASE_RE.fullmatch(number):
        raise BookError(
            f"bad case number {number!r}: use 1-64 letters, digits and ':._/-', no spaces (e.g. 1:21-cr-00399)"
        )
    return number


def check_name(name: str, *, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise BookError(f"bad {what} {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return name


def check_wallet_name(name: str) -> str:
    if not isinstance(name, str) or not _WALLET_RE.fullmatch(name):
        raise BookError(f"bad wallet name {name!r}: use 1-100 letters, digits, '.', '_' or '-'")
    return name


def check_text(text: str, *, what: str, required: bool = True) -> str | None:
    """A free-text field (name, court, reference): one line, not blank when required."""
    if text is None:
        if required:
            raise BookError(f"{what} is required")
        return None
    if not isinstance(text, str):
        raise BookError(f"{what} must be text")
    stripped = text.strip()
    if not stripped:
        if required:
            raise BookError(f"{what} is required and may not be blank")
        return None
    if "\n" in stripped or "\r" in stripped or len(stripped) > 500:
        raise BookError(f"{what} must be one line of at most 500 characters")
    return stripped


def check_stored_text(text: str | None, *, what: str, required: bool = True) -> None:
    """A text field of a stored event: as :func:`check_text` would have left it (trimmed, one line)."""
    if text is None and not required:
        return
    if check_text(text, what=what, required=required) != text:
        raise BookError(f"{what} must not be blank or have leading or trailing blanks")


def check_txid(txid: str) -> str:
    """A transaction id as 64 hex digits (the usual big-endian display order); returned lower-case."""
    if not isinstance(txid, str) or not _TXID_RE.fullmatch(txid.lower()):
        raise BookError(f"bad txid {txid!r}: expected 64 hex digits")
    return txid.lower()


def check_outpoint(outpoint: str) -> str:
    txid, sep, vout = outpoint.rpartition(":") if isinstance(outpoint, str) else ("", "", "")
    if not sep or not vout.isdigit() or int(vout) > 0xFFFFFFFF:
        raise BookError(f"bad outpoint {outpoint!r}: expected TXID:N")
    return f"{check_txid(txid)}:{int(vout)}"


def check_amount_sat(amount_sat: int, *, what: str = "amount") -> int:
    if isinstance(amount_sat, bool) or not isinstance(amount_sat, int):
        raise BookError(f"{what} must be a whole number of satoshis, not {type(amount_sat).__name__}")
    if amount_sat <= 0:
        raise BookError(f"{what} must be positive, got {amount_sat} sat")
    if amount_sat > 21_000_000 * 100_000_000:
        raise BookError(f"{what} {amount_sat} sat exceeds the 21,000,000 BTC supply")
    return amount_sat


def parse_date(text: str | date) -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else _bad_date(text)
    except ValueError:
        return _bad_date(text)


def _bad_date(text: object) -> date:
    raise BookError(f"bad date {text!r}: expected YYYY-MM-DD")


def parse_percent_bp(text: str) -> int:
    """Parse a share such as ``"25"`` or ``"33.33"`` percent into basis points (2500, 3333), exactly."""
    match = re.fullmatch(r"([0-9]{1,3})(?:\.([0-9]{1,2}))?", text.strip()) if isinstance(text, str) else None
    if match is None:
        raise BookError(f"bad percentage {text!r}: expected a number such as 25 or 33.33 (at most 2 decimals)")
    share_bp = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    return check_share_bp(share_bp)


def check_share_bp(share_bp: int | None) -> int:
    if share_bp is None:
        raise BookError("sharing needs the partner's percentage (--percent)")
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 0 < share_bp <= 10_000:
        raise BookError(f"sharing percentage must be above 0 and at most 100, got {share_bp} basis points")
    return share_bp


def format_percent_bp(share_bp: int) -> str:
    whole, frac = divmod(share_bp, 100)
    return f"{whole}.{frac:02d}".rstrip("0").rstrip(".")


def parse_usd_cents(text: str) -> int:
    """Parse a USD price such as ``"104250.5"`` into cents, exactly."""
    match = re.fullmatch(r"([0-9]{1,15})(?:\.([0-9]{1,2}))?", text.strip().replace(",", "")) if isinstance(
        text, str
    ) else None
    if match is None:
        raise BookError(f"bad USD price {text!r}: expected a number such as 104250 or 104250.50")
    cents = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    if cents <= 0:
        raise BookError(f"USD price {text!r} must be positive")
    return cents


def check_descriptor(descriptor: str) -> str:
    """An output descriptor with a valid BIP-380 checksum (``…#abcdefgh``); full parsing is the wallets layer's."""
    from embit.descriptor.checksum import DescriptorError, checksum

    if not isinstance(descriptor, str) or not descriptor.strip():
        raise BookError("a wallet needs an output descriptor")
    body, sep, given = descriptor.partition("#")
    try:
        expected = checksum(body)
    except DescriptorError as exc:
        raise BookError(f"bad descriptor: {exc}") from None
    if not sep:
        raise BookError(f"descriptor has no checksum: if it is right, it reads {body}#{expected}")
    if given != expected:
        raise BookError(f"descriptor checksum {given!r} does not match its text (expected {expected!r}): check for typos")
    return descriptor
