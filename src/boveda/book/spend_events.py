"""The audited events of spend governance: approval policies, proposals, approvals, finalization,
cancellation and broadcast (the rules that make them live in ``boveda.spend``).

They change none of the book's own tables: the spend layer keeps its tables beside each event, in
the same write transaction, and can rebuild them from the log. Replay checks each event's form
(:func:`check_spend_event`) so a log holding a malformed one fails ``audit verify``.
Each has one payload codec over JSON-safe values; ``from_payload`` refuses unknown or missing fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from boveda.book.checks import MAX_ID, check_stored_text, check_whole_number
from boveda.book.errors import BookError

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PUBKEY = re.compile(r"(?:0[23][0-9a-f]{64})|[0-9a-f]{64}")
_MAX_SAT = 21_000_000 * 100_000_000


class SpendEventKind(StrEnum):
    POLICY_SET = "policy.set"
    PROPOSED = "spend.proposed"
    APPROVED = "spend.approved"
    FINALIZED = "spend.finalized"
    CANCELLED = "spend.cancelled"
    BROADCAST = "spend.broadcast"


def _fields(payload: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or set(payload) != set(names):
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise BookError(f"malformed {what}: expected fields {sorted(names)}, got {got}")
    return payload


def _hex64(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise BookError(f"malformed {what}: expected 64 lower-case hex digits")


def _pubkey(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _PUBKEY.fullmatch(value):
        raise BookError(f"malformed {what}: expected a compressed (66 hex) or x-only (64 hex) public key")


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The approval policy of a holding: who may approve its spends (name and key) and how many must."""

    kind: ClassVar[SpendEventKind] = SpendEventKind.POLICY_SET
    holding: str
    threshold: int
    approvers: tuple[tuple[str, str], ...]  # (name, public key hex)

    def to_payload(self) -> dict[str, Any]:
        return {"holding": self.holding, "threshold": self.threshold,
                "approvers": [[name, key] for name, key in self.approvers]}

    @classmethod
    def from_payload(cls, payload: Any) -> PolicySet:
        f = _fields(payload, ("holding", "threshold", "approvers"), cls.kind.value)
        try:
            approvers = tuple((name, key) for name, key in f["approvers"])
        except (TypeError, ValueError):
            raise BookError("malformed policy.set: approvers are [name, public key] pairs") from None
        return cls(f["holding"], f["threshold"], approvers)


@dataclass(frozen=True, slots=True)
class SpendProposed:
    """A policy-checked proposal: its unsigned PSBT, what it pays, and the digest officials sign."""

    kind: ClassVar[SpendEventKind] = SpendEventKind.PROPOSED
    proposal_id: int
    holding: str
    wallet: str
    purpose: str
    order_ref: str
    lot_id: int | None
    counterparty: str
    amount_sat: int
    fee_sat: int
    unsigned_txid: str
    digest: str
    psbt: str  # base64
    inputs: tuple[str, ...]  # TXID:N
    change_script: str | None  # hex

    _NAMES = ("proposal_id", "holding", "wallet", "purpose", "order_ref", "lot_id", "counterparty", "amount_sat",
              "fee_sat", "unsigned_txid", "digest", "psbt", "inputs", "change_script")

    def to_payload(self) -> dict[str, Any]:
        payload = {name: getattr(self, name) for name in self._NAMES}
        payload["inputs"] = list(self.inputs)
        return payload

    @classmethod
    def from_payload(cls, payload: Any) -> SpendProposed:
        f = _fields(payload, cls._NAMES, cls.kind.value)
        if not isinstance(f["inputs"], list):
            raise BookError("malformed spend.proposed: inputs is a list of TXID:N")
        return cls(**{**f, "inputs": tuple(f["inputs"])})


@dataclass(frozen=True, slots=True)
class SpendApproved:
    """A named official's BIP-322 signature over a proposal's digest."""

    kind: ClassVar[SpendEventKind] = SpendEventKind.APPROVED
    proposal_id: int
    approver: str
    public_key: str
    digest: str
    signature: str

    def to_payload(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "approver": self.approver, "public_key": self.public_key,
                "digest": self.digest, "signature": self.signature}

    @classmethod
    def from_payload(cls, payload: Any) -> SpendApproved:
        f = _fields(payload, ("proposal_id", "approver", "public_key", "digest", "signature"), cls.kind.value)
        return cls(f["proposal_id"], f["approver"], f["public_key"], f["digest"], f["signature"])


@dataclass(frozen=True, slots=True)
class SpendFinalized:
    """The cosigners' signatures combined into the final transaction; who signed each input."""

    kind: ClassVar[SpendEventKind] = SpendEventKind.FINALIZED
    proposal_id: int
    txid: str
    tx_hex: str
    signers: tuple[tuple[int, tuple[str, ...]], ...]  # (input index, fingerprints hex)

    def to_payload(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "txid": self.txid, "tx_hex": self.tx_hex,
                "signers": [[index, list(fingerprints)] for index, fingerprints in self.signers]}

    @classmethod
    def from_payload(cls, payload: Any) -> SpendFinalized:
        f = _fields(payload, ("proposal_id", "txid", "tx_hex", "signers"), cls.kind.value)
        try:
            signers = tuple((index, tuple(fps)) for index, fps in f["signers"])
        except (TypeError, ValueError):
            raise BookError("malformed spend.finalized: signers are [input index, [fingerprint, ...]] pairs") from None
        return cls(f["proposal_id"], f["txid"], f["tx_hex"], signers)


@dataclass(frozen=True, slots=True)
class SpendCancelled:
    kind: ClassVar[SpendEventKind] = SpendEventKind.CANCELLED
    proposal_id: int
    by: str
    reason: str

    def to_payload(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "by": self.by, "reason": self.reason}

    @classmethod
    def from_payload(cls, payload: Any) -> SpendCancelled:
        f = _fields(payload, ("proposal_id", "by", "reason"), cls.kind.value)
        return cls(f["proposal_id"], f["by"], f["reason"])


@dataclass(frozen=True, slots=True)
class SpendBroadcast:
    kind: ClassVar[SpendEventKind] = SpendEventKind.BROADCAST
    proposal_id: int
    txid: str

    def to_payload(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "txid": self.txid}

    @classmethod
    def from_payload(cls, payload: Any) -> SpendBroadcast:
        f = _fields(payload, ("proposal_id", "txid"), cls.kind.value)
        return cls(f["proposal_id"], f["txid"])


SpendEvent = PolicySet | SpendProposed | SpendApproved | SpendFinalized | SpendCancelled | SpendBroadcast
SPEND_EVENT_TYPES = (PolicySet, SpendProposed, SpendApproved, SpendFinalized, SpendCancelled, SpendBroadcast)


def _check_id(value: Any) -> None:
    check_whole_number(value, what="proposal id", minimum=1, maximum=MAX_ID)


def check_spend_event(event: SpendEvent) -> None:
    """The form of a spend event (its rules against the book are the spend layer's): BookError if malformed."""
    if isinstance(event, PolicySet):
        check_stored_text(event.holding, what="policy holding")
        names = [name for name, _ in event.approvers]
        if not names or len(set(names)) != len(names):
            raise BookError("an approval policy names each approver once, at least one")
        for name, key in event.approvers:
            check_stored_text(name, what="approver name")
            _pubkey(key, "approver key")
        check_whole_number(event.threshold, what="approval threshold", minimum=1, maximum=len(names))
        return
    _check_id(event.proposal_id)
    if isinstance(event, SpendProposed):
        for value, what in ((event.holding, "holding"), (event.wallet, "wallet"), (event.purpose, "purpose"),
                            (event.order_ref, "order reference"), (event.counterparty, "counterparty")):
            check_stored_text(value, what=what)
        if not isinstance(event.psbt, str) or not event.psbt:
            raise BookError("malformed spend.proposed: no PSBT")
        if event.lot_id is not None:
            check_whole_number(event.lot_id, what="lot id", minimum=1, maximum=MAX_ID)
        check_whole_number(event.amount_sat, what="amount", minimum=0 if event.purpose == "audit_anchor" else 1,
                           maximum=_MAX_SAT)  # an audit anchor pays 0 sat to its OP_RETURN
        check_whole_number(event.fee_sat, what="fee", minimum=0, maximum=_MAX_SAT)
        _hex64(event.unsigned_txid, "unsigned txid")
        _hex64(event.digest, "proposal digest")
        if not event.inputs or not all(isinstance(o, str) for o in event.inputs):
            raise BookError("malformed spend.proposed: a proposal spends at least one TXID:N")
    elif isinstance(event, SpendApproved):
        check_stored_text(event.approver, what="approver name")
        _pubkey(event.public_key, "approver key")
        _hex64(event.digest, "proposal digest")
        if not isinstance(event.signature, str) or not event.signature:
            raise BookError("malformed spend.approved: no signature")
    elif isinstance(event, SpendFinalized):
        _hex64(event.txid, "txid")
        if not isinstance(event.tx_hex, str) or not re.fullmatch(r"(?:[0-9a-f]{2})+", event.tx_hex):
            raise BookError("malformed spend.finalized: the transaction is hex")
    elif isinstance(event, SpendCancelled):
        check_stored_text(event.by, what="who cancels")
        check_stored_text(event.reason, what="reason for cancelling")
    elif isinstance(event, SpendBroadcast):
        _hex64(event.txid, "txid")
