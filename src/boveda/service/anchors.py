"""Anchors of the audit log on chain: those the book made (for statements), and — for `audit verify
--anchors` — every one the chain holds, each checked against the current log.

The check trusts nothing the book says of its anchors: it takes every transaction the chain facts say
spent one of the book's wallets' coins, reads it from the chain source (the block at that height),
and looks at its outputs. An anchor whose hash is not the log's event at its seq, that commits an event
past the log's end, or whose seq is below an earlier anchor's, means the log was rewritten. Which
transactions spent the wallets' coins comes from the chain facts: `audit verify` checks their seal and
`facts verify` rescans them, which catches a rewrite of the facts too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from boveda.bitcoin.tx import Transaction
from boveda.book import Book
from boveda.book.domain import AuditHead
from boveda.service.chain import ChainOptions, book_route, open_source
from boveda.spend.anchor import ANCHOR_PURPOSE, AnchorPayload, AnchorUnreadable, anchor_of_proposal, read_anchor
from boveda.spend.governance import list_proposals
from boveda.spend.model import ProposalState
from boveda.wallets import facts_store as facts


@dataclass(frozen=True, slots=True)
class BookAnchor:
    """An anchor the book proposed and finalized: its transaction, where it confirmed (None: not seen yet by
    the synced chain facts), and the event it commits."""

    proposal_id: int
    holding: str
    wallet: str
    txid_hex: str
    height: int | None
    seq: int
    head_hex: str

    def to_json(self) -> dict[str, Any]:
        return {"proposal_id": self.proposal_id, "holding": self.holding, "wallet": self.wallet,
                "txid": self.txid_hex, "height": self.height, "seq": self.seq, "hash": self.head_hex}


def anchors_of(book: Book, *, at_height: int | None = None, include_unconfirmed: bool = False
               ) -> tuple[BookAnchor, ...]:
    """The book's anchors confirmed at or below ``at_height`` (default: any synced height), by height then
    proposal; with ``include_unconfirmed`` also those finalized or broadcast and not seen confirmed (last).
    Reads only the book (its spend proposals) and the chain facts — no chain source."""
    records = [(r, p) for r in list_proposals(book)
               if r.purpose == str(ANCHOR_PURPOSE) and r.state in (ProposalState.FINALIZED, ProposalState.BROADCAST)
               and (p := anchor_of_proposal(r)) is not None]
    if not records:
        return ()
    wallets = sorted({r.wallet for r, _ in records})
    with book.store.read() as conn:
        heights = {c.spent_txid[::-1].hex(): c.spent_height for c in facts.wallet_coins(conn, wallets)
                   if c.spent_txid is not None}
    found = []
    for record, payload in records:
        height = heights.get(record.unsigned_txid)
        confirmed = height is not None and (at_height is None or height <= at_height)
        if confirmed or (include_unconfirmed and height is None):
            found.append(BookAnchor(record.proposal_id, record.holding, record.wallet, record.unsigned_txid,
                                    height if confirmed else None, payload.seq, payload.head_hex))
    return tuple(sorted(found, key=lambda a: (a.height is None, a.height or 0, a.proposal_id)))


# -- audit verify --anchors ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """An anchor found on chain, and what the current log holds at its seq (None: past the log's end)."""

    txid_hex: str
    height: int
    vout: int
    seq: int
    anchored_hex: str
    log_hex: str | None
    problem: str | None  # None: the anchored head is in the log at its seq

    def to_json(self) -> dict[str, Any]:
        return {"txid": self.txid_hex, "height": self.height, "vout": self.vout, "seq": self.seq,
                "anchored_hash": self.anchored_hex, "log_hash": self.log_hex, "ok": self.problem is None,
                "problem": self.problem}


@dataclass(frozen=True, slots=True)
class AnchorCheck:
    log_head: AuditHead
    synced_height: int | None
    transactions_read: int
    anchors: tuple[ChainAnchor, ...]
    problems: tuple[str, ...]  # every anchor's problem, then what could not be read
    notes: tuple[str, ...]  # anchors the book made that the chain does not show (yet)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "log_head": {"seq": self.log_head.seq, "hash": self.log_head.hash_hex},
                "synced_height": self.synced_height, "transactions_read": self.transactions_read,
                "anchors": [a.to_json() for a in self.anchors], "problems": list(self.problems),
                "notes": list(self.notes)}


@dataclass(frozen=True, slots=True)
class _Found:
    txid_hex: str
    height: int
    vout: int
    payload: AnchorPayload


def verify_anchors(book: Book, options: ChainOptions) -> AnchorCheck:
    """Every anchor in the transactions spending the book's wallets' coins, read from the chain, checked
    against the current audit log. Writes nothing."""
    route = book_route(book, options)
    names = [w.name for w in book.wallets()]
    with book.store.read() as conn:
        synced = facts.top_height(conn)
        spends: dict[int, set[bytes]] = defaultdict(set)
        for coin in facts.wallet_coins(conn, names):
            if coin.spent_txid is not None and coin.spent_height is not None:
                spends[coin.spent_height].add(coin.spent_txid)
    found: list[_Found] = []
    unreadable: list[str] = []
    read = 0
    with open_source(route) as source:
        for height in sorted(spends):
            for block in source.blocks(height, height):
                in_block = {tx.txid: tx for tx in block.block.transactions}
                for txid in sorted(spends[height] - set(in_block)):
                    unreadable.append(f"the chain facts place transaction {txid[::-1].hex()} at height {height}, "
                                      "but the chain's block there does not hold it: run boveda sync (a "
                                      "reorganisation) or boveda facts verify")
                for tx in block.block.transactions:  # block order: anchors in the order they confirmed
                    if tx.txid in spends[height]:
                        read += 1
                        _read_outputs(tx, height, found, unreadable)
    head = book.audit_head()
    wanted = {f.payload.seq for f in found if f.payload.seq <= head.seq}
    log = {e.seq: e.hash_hex for e in book.iter_audit_events() if e.seq in wanted} if wanted else {}
    anchors = _judge(found, log, head)
    on_chain = {a.txid_hex for a in anchors}
    notes = tuple(f"the book's anchor proposal {a.proposal_id} (event {a.seq}, txid {a.txid_hex}) is not on chain "
                  "as far as the synced chain facts show: not confirmed yet, or run boveda sync"
                  for a in anchors_of(book, include_unconfirmed=True) if a.txid_hex not in on_chain)
    problems = tuple(a.problem for a in anchors if a.problem is not None) + tuple(unreadable)
    return AnchorCheck(head, synced, read, anchors, problems, notes)


def _read_outputs(tx: Transaction, height: int, found: list[_Found], unreadable: list[str]) -> None:
    for vout, output in enumerate(tx.outputs):
        try:
            payload = read_anchor(output.script_pubkey)
        except AnchorUnreadable as exc:
            unreadable.append(f"output {tx.txid_hex}:{vout} (height {height}) carries the anchor tag but cannot be "
                              f"read: {exc}")
            continue
        if payload is not None:
            found.append(_Found(tx.txid_hex, height, vout, payload))


def _judge(found: list[_Found], log: dict[int, str], head: AuditHead) -> tuple[ChainAnchor, ...]:
    """Each anchor against the log (in chain order): its hash at its seq, within the log, no seq going back."""
    judged = []
    highest: _Found | None = None
    for f in found:
        seq, anchored = f.payload.seq, f.payload.head_hex
        name = f"anchor {f.txid_hex} (height {f.height})"
        log_hex = log.get(seq)
        if seq > head.seq:
            problem = (f"{name} commits event {seq}, past the log's end at event {head.seq}: events anchored on "
                       "chain were removed")
        elif log_hex != anchored:
            problem = (f"{name} commits event {seq} with hash {anchored}, but the log's event {seq} has hash "
                       f"{log_hex}: the log was rewritten at or before event {seq}")
        elif highest is not None and seq < highest.payload.seq:
            problem = (f"{name} commits event {seq}, below event {highest.payload.seq} that the earlier anchor "
                       f"{highest.txid_hex} (height {highest.height}) commits: anchors never go back")
        else:
            problem = None
        judged.append(ChainAnchor(f.txid_hex, f.height, f.vout, seq, anchored, log_hex, problem))
        if highest is None or seq > highest.payload.seq:
            highest = f
    return tuple(judged)
