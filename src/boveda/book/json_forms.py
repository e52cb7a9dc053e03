"""The JSON shapes of the book's values: one home, shared by the CLI's --json and the web API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boveda.book.checks import format_percent_bp
from boveda.book.domain import AuditHead, Balance, Case, Entry, Lot, LotTransition, Price, Reserve, Wallet
from boveda.book.prices import format_price_minor
from boveda.money import format_btc


def lot_json(lot: Lot, transitions: Iterable[LotTransition] = ()) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id,
        "case": lot.case_number,
        "amount_sat": lot.amount_sat,
        "amount_btc": format_btc(lot.amount_sat),
        "state": lot.state.value,
        "seizure_txid": lot.seizure_txid,
        "seizure_outpoints": list(lot.seizure_outpoints),
        "seized_on": lot.seized_on.isoformat(),
        "seizure_ref": lot.seizure_ref,
        "parent_lot_id": lot.parent_lot_id,
        "transitions": [transition_json(t) for t in transitions],
    }


def transition_json(t: LotTransition) -> dict[str, Any]:
    return {
        "transition_id": t.transition_id,
        "from": t.from_state.value,
        "to": t.to_state.value,
        "authority_ref": t.authority_ref,
        "date": t.effective_date.isoformat(),
        "txid": t.txid,
        "destination": None if t.destination is None else str(t.destination),
        "share_percent": None if t.share_bp is None else format_percent_bp(t.share_bp),
        "entry_id": t.entry_id,
    }


def entry_json(entry: Entry, *, operator: str | None = None, approved_by: str | None = None,
               corrected_by: Iterable[int] = ()) -> dict[str, Any]:
    """An entry; the keys of corrections, internal moves and operators appear only on entries that have them."""
    out = {
        "entry_id": entry.entry_id,
        "kind": entry.kind.value,
        "date": entry.effective_date.isoformat(),
        "amount_sat": entry.amount_sat,
        "fee_sat": entry.fee_sat,
        "postings": [{"account": str(p.account), "amount_sat": p.amount_sat} for p in entry.postings],
        "txids": list(entry.txids),
        "authority_ref": entry.authority_ref,
        "memo": entry.memo,
        "lot_id": entry.lot_id,
        "price_usd_cents": entry.price_usd_cents,
    }
    for key, value in (("corrects_entry_id", entry.corrects_entry_id), ("resolves", entry.resolves),
                       ("from_wallet", entry.from_wallet), ("to_wallet", entry.to_wallet),
                       ("operator", operator), ("approved_by", approved_by)):
        if value is not None:
            out[key] = value
    corrections = list(corrected_by)
    if corrections:
        out["corrected_by"] = corrections
    return out


def price_json(price: Price) -> dict[str, Any]:
    return {"date": price.on.isoformat(), "currency": price.currency, "price_minor": price.price_minor,
            "price": format_price_minor(price.price_minor), "source": price.source}


def balance_json(balance: Balance) -> dict[str, Any]:
    return {"account": str(balance.account), "balance_sat": balance.balance_sat,
            "balance_btc": format_btc(balance.balance_sat)}


def wallet_json(wallet: Wallet) -> dict[str, Any]:
    return {"name": wallet.name, "owner": str(wallet.owner), "descriptor": wallet.descriptor,
            "birth_height": wallet.birth_height}


def audit_head_json(head: AuditHead) -> dict[str, Any]:
    return {"seq": head.seq, "hash": head.hash_hex}


def reserve_json(reserve: Reserve) -> dict[str, Any]:
    return {"code": reserve.code, "name": reserve.name, "no_sale": reserve.no_sale,
            "address_cap_sat": reserve.address_cap_sat}


def case_json(case: Case) -> dict[str, Any]:
    return {"number": case.number, "agency": case.agency, "court": case.court}
