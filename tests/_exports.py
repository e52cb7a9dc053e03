"""Export files written by hand, with a consistent hash chain: what an adversary hands to `boveda import`.

Every event is sealed exactly as the book seals it, so only the rules can refuse what it holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from boveda.book.audit import event_hash
from boveda.book.domain import GENESIS_HASH

RECORDED_AT = "2025-03-06T12:00:01.000000Z"


def sealed(events: Iterable[tuple[str, Any]], *, recorded_at: str | Sequence[str] = RECORDED_AT) -> list[dict]:
    """(kind, payload) pairs as an export's events, chained and hashed (payloads are taken as given)."""
    out, prev = [], GENESIS_HASH
    for seq, (kind, payload) in enumerate(events, start=1):
        when = recorded_at if isinstance(recorded_at, str) else recorded_at[seq - 1]
        payload_json = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = event_hash(seq, kind, when, payload_json, prev)
        out.append({"seq": seq, "kind": kind, "recorded_at": when, "payload": payload, "prev_hash": prev,
                    "hash": digest})
        prev = digest
    return out


def write_export(path: Path, events: list[dict], *, head: dict | None = None) -> Path:
    """The export document around `events`; its head names the last event unless `head` says otherwise."""
    last = {"seq": events[-1]["seq"], "hash": events[-1]["hash"]} if events else {"seq": 0, "hash": GENESIS_HASH}
    document = {"events": events, "format": "boveda-book", "head": head or last, "version": 1}
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def reserve_added(code: str = "SV", name: str = "El Salvador") -> tuple[str, dict]:
    return "reserve.added", {"code": code, "name": name, "no_sale": False, "address_cap_sat": None}


def wallet_added(descriptor: str, *, name: str = "w", owner: str = "reserve:SV") -> tuple[str, dict]:
    return "wallet.added", {"name": name, "descriptor": descriptor, "owner": owner, "birth_height": None}


def purchase(entry_id: int, *, amount_sat: int = 100_000_000, txid: str = "ab" * 32, date: str = "2025-03-01",
             memo: str | None = None, reserve: str = "SV") -> tuple[str, dict]:
    return "entry.recorded", {
        "id": entry_id, "kind": "purchase", "date": date,
        "postings": [["external:exchange:unspecified", -amount_sat], [f"reserve:{reserve}", amount_sat]],
        "txids": [txid], "authority_ref": None, "memo": memo, "lot_id": None, "price_usd_cents": None,
    }
