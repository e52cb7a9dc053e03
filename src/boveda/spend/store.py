"""The one module that reads and writes the spend tables: a projection of the audit log's spend events.

:func:`project` writes one event's rows inside the write transaction that appends the event, so
the tables never hold what the log does not; :func:`rebuild` derives them again from the whole log
(after ``boveda import``, which replays the book's own tables only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.book import Book
from boveda.book.audit import iter_events, loads_no_floats
from boveda.book.spend_events import (
    SPEND_EVENT_TYPES,
    PolicySet,
    SpendApproved,
    SpendBroadcast,
    SpendCancelled,
    SpendEvent,
    SpendEventKind,
    SpendFinalized,
    SpendProposed,
)
from boveda.spend.model import ProposalState
from boveda.spend.tables import spend_approvals, spend_policies, spend_proposals


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    holding: str
    threshold: int
    approvers: tuple[tuple[str, str], ...]  # (name, public key hex)
    set_at: str

    def key_of(self, name: str) -> str | None:
        return dict(self.approvers).get(name)


@dataclass(frozen=True, slots=True)
class Approval:
    approver: str
    public_key: str
    signature: str
    approved_at: str


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    proposal_id: int
    holding: str
    wallet: str
    state: ProposalState
    purpose: str
    order_ref: str
    lot_id: int | None
    counterparty: str
    amount_sat: int
    fee_sat: int
    unsigned_txid: str
    digest: str
    psbt: str
    inputs: tuple[str, ...]
    change_script: str | None
    final_tx: str | None
    signers: tuple[tuple[int, tuple[str, ...]], ...]
    proposed_at: str
    closed_by: str | None


def project(conn: Connection, event: SpendEvent, recorded_at: str) -> None:
    """The rows of one spend event (inside the transaction that appended it)."""
    if isinstance(event, PolicySet):
        conn.execute(spend_policies.delete().where(spend_policies.c.holding == event.holding))
        conn.execute(spend_policies.insert().values(
            holding=event.holding, threshold=event.threshold, set_at=recorded_at,
            approvers=json.dumps([list(a) for a in event.approvers], separators=(",", ":"))))
    elif isinstance(event, SpendProposed):
        conn.execute(spend_proposals.insert().values(
            proposal_id=event.proposal_id, holding=event.holding, wallet=event.wallet,
            state=ProposalState.PROPOSED.value, purpose=event.purpose, order_ref=event.order_ref, lot_id=event.lot_id,
            counterparty=event.counterparty, amount_sat=event.amount_sat, fee_sat=event.fee_sat,
            unsigned_txid=event.unsigned_txid, digest=event.digest, psbt=event.psbt, inputs=" ".join(event.inputs),
            change_script=event.change_script, final_tx=None, signers=None, proposed_at=recorded_at, closed_by=None))
    elif isinstance(event, SpendApproved):
        conn.execute(spend_approvals.insert().values(
            proposal_id=event.proposal_id, approver=event.approver, public_key=event.public_key,
            signature=event.signature, approved_at=recorded_at))
    elif isinstance(event, SpendFinalized):
        _update(conn, event.proposal_id, state=ProposalState.FINALIZED.value, final_tx=event.tx_hex,
                signers=json.dumps([[i, list(f)] for i, f in event.signers], separators=(",", ":")))
    elif isinstance(event, SpendCancelled):
        _update(conn, event.proposal_id, state=ProposalState.CANCELLED.value, closed_by=f"{event.by}: {event.reason}")
    elif isinstance(event, SpendBroadcast):
        _update(conn, event.proposal_id, state=ProposalState.BROADCAST.value)


def record(book: Book, conn: Connection, event: SpendEvent) -> str:
    """Append ``event`` to the audit log and write its rows, inside ``book.atomic()``'s ``conn``; its recorded_at."""
    book.record(lambda state: event)
    stored = next(iter_events(conn, after_seq=book.audit_head().seq - 1))
    project(conn, event, stored.recorded_at)
    return stored.recorded_at


def _update(conn: Connection, proposal_id: int, **values: object) -> None:
    conn.execute(spend_proposals.update().where(spend_proposals.c.proposal_id == proposal_id).values(**values))


def rebuild(book: Book) -> int:
    """The spend tables derived again from the audit log; returns how many spend events it read."""
    kinds = {k.value for k in SpendEventKind}
    types = {cls.kind.value: cls for cls in SPEND_EVENT_TYPES}
    count = 0
    with book.atomic() as conn:
        for table in (spend_approvals, spend_proposals, spend_policies):
            conn.execute(table.delete())
        for stored in book.iter_audit_events():
            if stored.kind in kinds:
                project(conn, types[stored.kind].from_payload(loads_no_floats(stored.payload_json)),
                        stored.recorded_at)
                count += 1
    return count


# -- reading --------------------------------------------------------------------------------


def policy(conn: Connection, holding: str) -> ApprovalPolicy | None:
    row = conn.execute(sa.select(spend_policies).where(spend_policies.c.holding == holding)).first()
    if row is None:
        return None
    return ApprovalPolicy(row.holding, row.threshold, tuple((n, k) for n, k in json.loads(row.approvers)), row.set_at)


def _proposal_from_row(row) -> ProposalRecord:
    signers = tuple((i, tuple(f)) for i, f in json.loads(row.signers)) if row.signers else ()
    return ProposalRecord(
        row.proposal_id, row.holding, row.wallet, ProposalState(row.state), row.purpose, row.order_ref, row.lot_id,
        row.counterparty, row.amount_sat, row.fee_sat, row.unsigned_txid, row.digest, row.psbt,
        tuple(row.inputs.split()), row.change_script, row.final_tx, signers, row.proposed_at, row.closed_by)


def proposal(conn: Connection, proposal_id: int) -> ProposalRecord | None:
    row = conn.execute(sa.select(spend_proposals).where(spend_proposals.c.proposal_id == proposal_id)).first()
    return None if row is None else _proposal_from_row(row)


def proposals(conn: Connection) -> list[ProposalRecord]:
    return [_proposal_from_row(r) for r in conn.execute(sa.select(spend_proposals).order_by(spend_proposals.c.proposal_id))]


def approvals(conn: Connection, proposal_id: int) -> list[Approval]:
    rows = conn.execute(sa.select(spend_approvals).where(spend_approvals.c.proposal_id == proposal_id)
                        .order_by(spend_approvals.c.approved_at, spend_approvals.c.approver))
    return [Approval(r.approver, r.public_key, r.signature, r.approved_at) for r in rows]


def next_proposal_id(conn: Connection) -> int:
    return (conn.execute(sa.select(sa.func.max(spend_proposals.c.proposal_id))).scalar() or 0) + 1


def _open(conn: Connection) -> Iterable:
    return conn.execute(sa.select(spend_proposals.c.inputs, spend_proposals.c.change_script)
                        .where(spend_proposals.c.state != ProposalState.CANCELLED.value))


def reserved(conn: Connection) -> tuple[set[str], set[bytes]]:
    """The outpoints and change scripts of every proposal not cancelled: a new proposal uses neither."""
    outpoints: set[str] = set()
    scripts: set[bytes] = set()
    for inputs, change in _open(conn):
        outpoints.update(inputs.split())
        if change:
            scripts.add(bytes.fromhex(change))
    return outpoints, scripts
