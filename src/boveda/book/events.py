"""The events of the audit log: every change to the book is one of these.

An event carries the complete new facts (a lot with its id, an entry with its postings), so
the book's tables are a function of the log: :func:`boveda.book.state.apply` derives them,
and both ``audit verify`` and ``import`` replay the log through it.

Each event has one payload codec, ``to_payload`` / ``from_payload``, over JSON-safe values
only (str, int, bool, None, lists, dicts — never floats); ``from_payload`` refuses unknown
or missing fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar

from boveda.book.checks import parse_date
from boveda.book.domain import (
    Account,
    Case,
    Entry,
    EntryKind,
    Lot,
    LotState,
    LotTransition,
    Partner,
    Posting,
    Price,
    Reserve,
    Wallet,
)
from boveda.book.errors import BookError
from boveda.book.spend_events import SPEND_EVENT_TYPES, SpendEvent


class EventKind(StrEnum):
    RESERVE_ADDED = "reserve.added"
    PARTNER_ADDED = "partner.added"
    CASE_ADDED = "case.added"
    LOT_SEIZED = "lot.seized"
    LOT_TRANSITIONED = "lot.transitioned"
    ENTRY_RECORDED = "entry.recorded"
    WALLET_ADDED = "wallet.added"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    PRICES_IMPORTED = "prices.imported"


def _fields(payload: Any, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or set(payload) != set(names):
        got = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise BookError(f"malformed {what}: expected fields {sorted(names)}, got {got}")
    return payload


def _date(value: Any) -> date:
    """Exactly YYYY-MM-DD, as the codecs write it (`date.fromisoformat` would also read `2025-W01-1`)."""
    if not isinstance(value, str):
        raise BookError("malformed date in event: expected text YYYY-MM-DD")
    try:
        return parse_date(value)
    except BookError as exc:
        raise BookError(f"malformed date in event: {exc}") from None


# -- codecs of the value types carried by events ------------------------------------------------

_ENTRY_FIELDS = ("id", "kind", "date", "postings", "txids", "authority_ref", "memo", "lot_id", "price_usd_cents")
# Fields added in schema 0005 (a correction's link to the entry it corrects and the finding it resolves,
# an internal move's two wallets): written only when set, so the payload — and the hash — of every
# entry recorded before they existed is unchanged.
_OPTIONAL_ENTRY_FIELDS = ("corrects_entry_id", "resolves", "from_wallet", "to_wallet")


def entry_to_payload(entry: Entry) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": entry.entry_id,
        "kind": entry.kind.value,
        "date": entry.effective_date.isoformat(),
        "postings": [[str(p.account), p.amount_sat] for p in entry.postings],
        "txids": list(entry.txids),
        "authority_ref": entry.authority_ref,
        "memo": entry.memo,
        "lot_id": entry.lot_id,
        "price_usd_cents": entry.price_usd_cents,
    }
    for name in _OPTIONAL_ENTRY_FIELDS:
        value = getattr(entry, name)
        if value is not None:
            payload[name] = value
    return payload


def entry_from_payload(payload: Any) -> Entry:
    optional = tuple(name for name in _OPTIONAL_ENTRY_FIELDS if isinstance(payload, dict) and name in payload)
    f = _fields(payload, _ENTRY_FIELDS + optional, "entry")
    if any(f[name] is None for name in optional):
        raise BookError("malformed entry: an optional field is written only when it has a value")
    try:
        postings = tuple(Posting(Account.parse(account), amount_sat) for account, amount_sat in f["postings"])
        return Entry(
            entry_id=f["id"],
            kind=EntryKind(f["kind"]),
            effective_date=_date(f["date"]),
            postings=postings,
            txids=tuple(f["txids"]),
            authority_ref=f["authority_ref"],
            memo=f["memo"],
            lot_id=f["lot_id"],
            price_usd_cents=f["price_usd_cents"],
            corrects_entry_id=f.get("corrects_entry_id"),
            resolves=f.get("resolves"),
            from_wallet=f.get("from_wallet"),
            to_wallet=f.get("to_wallet"),
        )
    except (TypeError, ValueError) as exc:
        raise BookError(f"malformed entry in event: {exc}") from None


_LOT_FIELDS = ("id", "case", "amount_sat", "txid", "outpoints", "seized_on", "state", "seizure_ref", "parent_lot_id")


def lot_to_payload(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.lot_id,
        "case": lot.case_number,
        "amount_sat": lot.amount_sat,
        "txid": lot.seizure_txid,
        "outpoints": list(lot.seizure_outpoints),
        "seized_on": lot.seized_on.isoformat(),
        "state": lot.state.value,
        "seizure_ref": lot.seizure_ref,
        "parent_lot_id": lot.parent_lot_id,
    }


def lot_from_payload(payload: Any) -> Lot:
    f = _fields(payload, _LOT_FIELDS, "lot")
    try:
        return Lot(
            lot_id=f["id"],
            case_number=f["case"],
            amount_sat=f["amount_sat"],
            seizure_txid=f["txid"],
            seizure_outpoints=tuple(f["outpoints"]),
            seized_on=_date(f["seized_on"]),
            state=LotState(f["state"]),
            seizure_ref=f["seizure_ref"],
            parent_lot_id=f["parent_lot_id"],
        )
    except (TypeError, ValueError) as exc:
        raise BookError(f"malformed lot in event: {exc}") from None


_TRANSITION_FIELDS = ("id", "lot_id", "from", "to", "authority_ref", "date", "txid", "destination", "share_bp", "entry_id")


def transition_to_payload(t: LotTransition) -> dict[str, Any]:
    return {
        "id": t.transition_id,
        "lot_id": t.lot_id,
        "from": t.from_state.value,
        "to": t.to_state.value,
        "authority_ref": t.authority_ref,
        "date": t.effective_date.isoformat(),
        "txid": t.txid,
        "destination": None if t.destination is None else str(t.destination),
        "share_bp": t.share_bp,
        "entry_id": t.entry_id,
    }


def transition_from_payload(payload: Any) -> LotTransition:
    f = _fields(payload, _TRANSITION_FIELDS, "lot transition")
    try:
        return LotTransition(
            transition_id=f["id"],
            lot_id=f["lot_id"],
            from_state=LotState(f["from"]),
            to_state=LotState(f["to"]),
            authority_ref=f["authority_ref"],
            effective_date=_date(f["date"]),
            txid=f["txid"],
            destination=None if f["destination"] is None else Account.parse(f["destination"]),
            share_bp=f["share_bp"],
            entry_id=f["entry_id"],
        )
    except (TypeError, ValueError) as exc:
        raise BookError(f"malformed lot transition in event: {exc}") from None


# -- the events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReserveAdded:
    kind: ClassVar[EventKind] = EventKind.RESERVE_ADDED
    reserve: Reserve

    def to_payload(self) -> dict[str, Any]:
        r = self.reserve
        return {"code": r.code, "name": r.name, "no_sale": r.no_sale, "address_cap_sat": r.address_cap_sat}

    @classmethod
    def from_payload(cls, payload: Any) -> ReserveAdded:
        f = _fields(payload, ("code", "name", "no_sale", "address_cap_sat"), cls.kind.value)
        return cls(Reserve(f["code"], f["name"], f["no_sale"], f["address_cap_sat"]))


@dataclass(frozen=True, slots=True)
class PartnerAdded:
    kind: ClassVar[EventKind] = EventKind.PARTNER_ADDED
    partner: Partner

    def to_payload(self) -> dict[str, Any]:
        return {"code": self.partner.code, "name": self.partner.name}

    @classmethod
    def from_payload(cls, payload: Any) -> PartnerAdded:
        f = _fields(payload, ("code", "name"), cls.kind.value)
        return cls(Partner(f["code"], f["name"]))


@dataclass(frozen=True, slots=True)
class CaseAdded:
    kind: ClassVar[EventKind] = EventKind.CASE_ADDED
    case: Case

    def to_payload(self) -> dict[str, Any]:
        return {"number": self.case.number, "agency": self.case.agency, "court": self.case.court}

    @classmethod
    def from_payload(cls, payload: Any) -> CaseAdded:
        f = _fields(payload, ("number", "agency", "court"), cls.kind.value)
        return cls(Case(f["number"], f["agency"], f["court"]))


@dataclass(frozen=True, slots=True)
class LotSeized:
    """A new lot in custody, and the seizure entry that moves its coins into ``custody:CASE``."""

    kind: ClassVar[EventKind] = EventKind.LOT_SEIZED
    lot: Lot
    entry: Entry

    def to_payload(self) -> dict[str, Any]:
        return {"lot": lot_to_payload(self.lot), "entry": entry_to_payload(self.entry)}

    @classmethod
    def from_payload(cls, payload: Any) -> LotSeized:
        f = _fields(payload, ("lot", "entry"), cls.kind.value)
        return cls(lot_from_payload(f["lot"]), entry_from_payload(f["entry"]))


@dataclass(frozen=True, slots=True)
class LotTransitioned:
    """A lot moves one step; ``entry`` when coins move, ``remainder`` when only part was shared."""

    kind: ClassVar[EventKind] = EventKind.LOT_TRANSITIONED
    transition: LotTransition
    entry: Entry | None = None
    remainder: Lot | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "transition": transition_to_payload(self.transition),
            "entry": None if self.entry is None else entry_to_payload(self.entry),
            "remainder": None if self.remainder is None else lot_to_payload(self.remainder),
        }

    @classmethod
    def from_payload(cls, payload: Any) -> LotTransitioned:
        f = _fields(payload, ("transition", "entry", "remainder"), cls.kind.value)
        return cls(
            transition_from_payload(f["transition"]),
            None if f["entry"] is None else entry_from_payload(f["entry"]),
            None if f["remainder"] is None else lot_from_payload(f["remainder"]),
        )


@dataclass(frozen=True, slots=True)
class EntryRecorded:
    kind: ClassVar[EventKind] = EventKind.ENTRY_RECORDED
    entry: Entry

    def to_payload(self) -> dict[str, Any]:
        return entry_to_payload(self.entry)

    @classmethod
    def from_payload(cls, payload: Any) -> EntryRecorded:
        return cls(entry_from_payload(payload))


@dataclass(frozen=True, slots=True)
class WalletAdded:
    kind: ClassVar[EventKind] = EventKind.WALLET_ADDED
    wallet: Wallet

    def to_payload(self) -> dict[str, Any]:
        w = self.wallet
        return {"name": w.name, "descriptor": w.descriptor, "owner": str(w.owner), "birth_height": w.birth_height}

    @classmethod
    def from_payload(cls, payload: Any) -> WalletAdded:
        f = _fields(payload, ("name", "descriptor", "owner", "birth_height"), cls.kind.value)
        return cls(Wallet(f["name"], f["descriptor"], Account.parse(f["owner"]), f["birth_height"]))


@dataclass(frozen=True, slots=True)
class AlertAcknowledged:
    """A named person acknowledged one of the follower's alerts (whose row lives in the follower's table).

    It changes none of the book's tables: it is in the log so that who acknowledged what, and when,
    is as tamper-evident as the book itself.
    """

    kind: ClassVar[EventKind] = EventKind.ALERT_ACKNOWLEDGED
    alert_id: int
    by: str
    alert_kind: str
    holding: str
    txid: str

    def to_payload(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "by": self.by, "alert_kind": self.alert_kind, "holding": self.holding,
                "txid": self.txid}

    @classmethod
    def from_payload(cls, payload: Any) -> AlertAcknowledged:
        f = _fields(payload, ("alert_id", "by", "alert_kind", "holding", "txid"), cls.kind.value)
        return cls(f["alert_id"], f["by"], f["alert_kind"], f["holding"], f["txid"])


@dataclass(frozen=True, slots=True)
class PricesImported:
    """Prices per BTC from the office's own source; ``replace`` allows changing a day's stored price."""

    kind: ClassVar[EventKind] = EventKind.PRICES_IMPORTED
    prices: tuple[Price, ...]
    replace: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "prices": [{"on": p.on.isoformat(), "currency": p.currency, "price_minor": p.price_minor,
                        "source": p.source} for p in self.prices],
            "replace": self.replace,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> PricesImported:
        f = _fields(payload, ("prices", "replace"), cls.kind.value)
        if not isinstance(f["prices"], list) or not isinstance(f["replace"], bool):
            raise BookError(f"malformed {cls.kind.value}: prices is a list and replace true or false")
        prices = []
        for item in f["prices"]:
            p = _fields(item, ("on", "currency", "price_minor", "source"), "price")
            prices.append(Price(_date(p["on"]), p["currency"], p["price_minor"], p["source"]))
        return cls(tuple(prices), f["replace"])


BookEvent = (ReserveAdded | PartnerAdded | CaseAdded | LotSeized | LotTransitioned | EntryRecorded | WalletAdded
             | AlertAcknowledged | PricesImported | SpendEvent)

_EVENT_TYPES: dict[str, type] = {
    cls.kind.value: cls
    for cls in (ReserveAdded, PartnerAdded, CaseAdded, LotSeized, LotTransitioned, EntryRecorded, WalletAdded,
                AlertAcknowledged, PricesImported, *SPEND_EVENT_TYPES)
}


def event_from_payload(kind: str, payload: Any) -> BookEvent:
    try:
        cls = _EVENT_TYPES[kind]
    except KeyError:
        raise BookError(f"unknown event kind {kind!r}") from None
    return cls.from_payload(payload)
