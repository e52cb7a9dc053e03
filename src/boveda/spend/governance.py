"""Approval policies, approvals, status and cancellation: each change an audited event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boveda.book import Book
from boveda.book.checks import check_text
from boveda.book.errors import BookError
from boveda.book.queries import JournalFilter
from boveda.book.spend_events import PolicySet, SpendApproved, SpendCancelled
from boveda.spend import store
from boveda.spend.approvals import check_approval, parse_approvers
from boveda.spend.errors import PolicyRefusal, SpendError
from boveda.spend.model import ProposalState
from boveda.spend.proposals import holding_account
from boveda.spend.store import Approval, ApprovalPolicy, ProposalRecord


def set_policy(book: Book, holding_text: str, approvers_text: str, threshold: int) -> ApprovalPolicy:
    holding, _ = holding_account(book, holding_text)
    approvers = parse_approvers(approvers_text)
    if not 1 <= threshold <= len(approvers):
        raise SpendError(f"a threshold of {threshold} needs between 1 and {len(approvers)} (the approvers named)")
    event = PolicySet(str(holding), threshold, approvers)
    with book.atomic() as conn:
        recorded_at = store.record(book, conn, event)
    return ApprovalPolicy(str(holding), threshold, approvers, recorded_at)


def _proposal(conn, proposal_id: int) -> ProposalRecord:
    found = store.proposal(conn, proposal_id)
    if found is None:
        raise SpendError(f"no spend proposal {proposal_id} (see boveda spend status)")
    return found


def approve(book: Book, proposal_id: int, by: str, signature: str) -> Approval:
    """An official's approval: BIP-322 by their key (from the holding's policy) over the proposal's digest."""
    with book.store.read() as conn:
        proposal = _proposal(conn, proposal_id)
        policy = store.policy(conn, proposal.holding)
        already = {a.approver for a in store.approvals(conn, proposal_id)}
    if proposal.state is not ProposalState.PROPOSED:
        raise SpendError(f"proposal {proposal_id} is {proposal.state.value}: approvals are taken while it is proposed")
    if policy is None:
        raise PolicyRefusal("approval-policy", f"{proposal.holding} has no approval policy")
    key = policy.key_of(by.strip())
    check_approval(by.strip(), key, proposal.digest, signature, proposal_id)
    assert key is not None
    if by.strip() in already:
        raise SpendError(f"{by.strip()} has already approved proposal {proposal_id}")
    event = SpendApproved(proposal_id, by.strip(), key, proposal.digest, signature.strip())
    with book.atomic() as conn:
        recorded_at = store.record(book, conn, event)
    return Approval(event.approver, key, event.signature, recorded_at)


@dataclass(frozen=True, slots=True)
class ProposalStatus:
    proposal: ProposalRecord
    policy: ApprovalPolicy | None
    approvals: tuple[Approval, ...]

    @property
    def counted(self) -> tuple[Approval, ...]:
        """The approvals that count under the policy as it stands: by a current approver, with their key."""
        if self.policy is None:
            return ()
        return tuple(a for a in self.approvals if self.policy.key_of(a.approver) == a.public_key)

    @property
    def approved(self) -> bool:
        return self.policy is not None and len(self.counted) >= self.policy.threshold

    def to_json(self) -> dict[str, Any]:
        p = self.proposal
        return {
            "proposal_id": p.proposal_id, "holding": p.holding, "wallet": p.wallet, "state": p.state.value,
            "purpose": p.purpose, "order_ref": p.order_ref, "lot_id": p.lot_id, "counterparty": p.counterparty,
            "amount_sat": p.amount_sat, "fee_sat": p.fee_sat, "unsigned_txid": p.unsigned_txid, "digest": p.digest,
            "inputs": list(p.inputs), "proposed_at": p.proposed_at,
            "threshold": None if self.policy is None else self.policy.threshold,
            "approvals": [{"approver": a.approver, "public_key": a.public_key, "approved_at": a.approved_at,
                           "counts": a in self.counted} for a in self.approvals],
            "approved": self.approved,
            "signers": [{"input": i, "fingerprints": list(f)} for i, f in p.signers],
            "closed_by": p.closed_by,
        }


def status(book: Book, proposal_id: int) -> ProposalStatus:
    with book.store.read() as conn:
        proposal = _proposal(conn, proposal_id)
        return ProposalStatus(proposal, store.policy(conn, proposal.holding),
                              tuple(store.approvals(conn, proposal_id)))


def list_proposals(book: Book) -> list[ProposalRecord]:
    with book.store.read() as conn:
        return store.proposals(conn)


def cancel(book: Book, proposal_id: int, by: str, reason: str) -> ProposalRecord:
    try:
        who = check_text(by, what="who cancels (--by)") or ""
        why = check_text(reason, what="reason (--reason)") or ""
    except BookError as exc:
        raise SpendError(str(exc)) from None
    with book.store.read() as conn:
        proposal = _proposal(conn, proposal_id)
    if proposal.state in (ProposalState.BROADCAST, ProposalState.CANCELLED):
        raise SpendError(f"proposal {proposal_id} is {proposal.state.value}: only a proposal not yet broadcast can be "
                         "cancelled")
    event = SpendCancelled(proposal_id, who, why)
    with book.atomic() as conn:
        store.record(book, conn, event)
        if proposal.state is ProposalState.FINALIZED:
            _reverse_pending_entries(book, proposal, why)
        return _proposal(conn, proposal_id)


def _reverse_pending_entries(book: Book, proposal: ProposalRecord, why: str) -> None:
    """A finalized proposal booked its entry; cancelled, the entry is reversed (never deleted), so the journal
    no longer claims a payment that will not happen. A custody lot's move is not an entry to reverse: the lot
    keeps its new state (docs/spend.md)."""
    memo = f"spend proposal {proposal.proposal_id}:"
    for entry in list(book.journal_where(JournalFilter(txid=proposal.unsigned_txid))):
        if (entry.memo or "").startswith(memo) and entry.lot_id is None and entry.corrects_entry_id is None:
            book.reverse_entry(entry.entry_id, reason=f"spend proposal {proposal.proposal_id} cancelled: {why}",
                               order=proposal.order_ref)
