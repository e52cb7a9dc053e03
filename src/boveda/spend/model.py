"""The values of spend governance: coins to spend, purposes, proposals and their states."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from boveda.book.domain import Account, AccountKind
from boveda.spend.errors import SpendError


class ProposalState(StrEnum):
    PROPOSED = "proposed"  # policy-checked, collecting approvals and signatures
    FINALIZED = "finalized"  # signed, final transaction written, pending journal entry recorded
    BROADCAST = "broadcast"  # sent to the node
    CANCELLED = "cancelled"


class PurposeKind(StrEnum):
    RESTITUTION = "restitution"  # to external:victims
    SHARING = "sharing"  # to partner:CODE
    RELEASE = "release"  # to external:claimant
    INTERNAL = "internal"  # to one of the holding's own wallets (or another reserve's)
    FORFEITURE = "forfeiture"  # custody → reserve, a forfeited lot allocated to it
    FEE_PAYMENT = "fee_payment"  # to expense:fees
    SALE = "sale"  # to external:exchange:NAME
    AUDIT_ANCHOR = "audit_anchor"  # a 0-sat OP_RETURN committing the audit head; only `boveda audit anchor`


@dataclass(frozen=True, slots=True)
class Purpose:
    kind: PurposeKind
    partner: str | None = None  # sharing:PARTNER
    exchange: str | None = None  # sale:EXCHANGE

    @classmethod
    def parse(cls, text: str) -> Purpose:
        head, _, rest = text.strip().partition(":")
        try:
            kind = PurposeKind(head)
        except ValueError:
            known = ", ".join(k.value for k in PurposeKind if k is not PurposeKind.SHARING)
            raise SpendError(f"unknown purpose {text!r}: use sharing:PARTNER or one of {known}") from None
        if kind is PurposeKind.SHARING:
            if not rest:
                raise SpendError("sharing needs a partner government: --purpose sharing:PARTNER")
            return cls(kind, partner=rest)
        if kind is PurposeKind.SALE:
            return cls(kind, exchange=rest or "unspecified")
        if rest:
            raise SpendError(f"purpose {head} takes no ':' part, got {text!r}")
        return cls(kind)

    def __str__(self) -> str:
        if self.partner is not None:
            return f"{self.kind.value}:{self.partner}"
        if self.exchange is not None:
            return f"{self.kind.value}:{self.exchange}"
        return self.kind.value

    def default_counterparty(self) -> Account | None:
        """The account a payment of this purpose goes to (None: found from the destination address)."""
        if self.kind is PurposeKind.RESTITUTION:
            return Account.parse("external:victims")
        if self.kind is PurposeKind.RELEASE:
            return Account.parse("external:claimant")
        if self.kind is PurposeKind.SHARING:
            return Account.partner(self.partner or "")
        if self.kind is PurposeKind.FEE_PAYMENT:
            return Account.parse("expense:fees")
        if self.kind is PurposeKind.SALE:
            return Account.exchange(self.exchange or "unspecified")
        return None


def is_exchange(account: Account) -> bool:
    return account.kind is AccountKind.EXCHANGE


@dataclass(frozen=True, slots=True)
class Utxo:
    """A confirmed, unspent coin of one of the holding's wallets, with where its script sits."""

    txid: bytes  # internal byte order
    vout: int
    value_sat: int
    script_pubkey: bytes
    wallet: str
    branch: int
    index: int
    height: int

    @property
    def outpoint(self) -> str:
        return f"{self.txid[::-1].hex()}:{self.vout}"


@dataclass(frozen=True, slots=True)
class Output:
    script_pubkey: bytes
    value_sat: int
    is_change: bool = False


_RATE_DIGITS = "0123456789"


def parse_fee_rate(text: str) -> int:
    """``--fee-rate`` in sat/vB (up to 3 decimals, e.g. 1.5) → sat/kvB, exactly; SpendError otherwise."""
    whole, _, frac = text.strip().partition(".")
    if not whole or len(whole) > 7 or len(frac) > 3 or any(c not in _RATE_DIGITS for c in whole + frac):
        raise SpendError(f"a fee rate is sat/vB such as 2 or 1.5 (at most 3 decimals), not {text[:40]!r}")
    rate = int(whole) * 1000 + int(frac.ljust(3, "0") or "0")
    if rate < 100:
        raise SpendError(f"a fee rate of {text} sat/vB is below the network's 0.1 sat/vB relay minimum")
    return rate
