"""``spend finalize`` and ``spend broadcast``: the approved transaction assembled, recorded and sent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from boveda.book import Book
from boveda.book.spend_events import SpendBroadcast, SpendFinalized
from boveda.outfiles import check_target, write_text
from boveda.spend import journal, signing, store
from boveda.spend.errors import PolicyRefusal, SpendError
from boveda.spend.governance import status
from boveda.spend.model import ProposalState
from boveda.spend.proposals import Node
from boveda.spend.psbt_build import parse_psbt, read_psbt_file


@dataclass(frozen=True, slots=True)
class FinalizeResult:
    proposal_id: int
    txid: str
    tx_hex: str
    signers: tuple[tuple[int, tuple[str, ...]], ...]
    entry: str
    out: Path | None


def finalize(book: Book, proposal_id: int, psbt_paths: list[Path], *, out: Path | None = None,
             force: bool = False) -> FinalizeResult:
    """Combine the cosigners' PSBTs into the approved transaction; record it and its pending journal entry."""
    view = status(book, proposal_id)
    proposal = view.proposal
    if proposal.state is not ProposalState.PROPOSED:
        raise SpendError(f"proposal {proposal_id} is {proposal.state.value}: only a proposed spend is finalized")
    if view.policy is None or not view.approved:
        needed = "?" if view.policy is None else view.policy.threshold
        raise PolicyRefusal("approval-threshold", f"proposal {proposal_id} has {len(view.counted)} of the {needed} "
                                                  "approvals its holding's policy requires")
    if not psbt_paths:
        raise SpendError("give the cosigners' signed PSBT files")
    if out is not None:
        check_target(out, force=force)
    signed = [(path.name, read_psbt_file(path)) for path in psbt_paths]
    done = signing.finalize(parse_psbt(proposal.psbt.encode("ascii"), f"proposal {proposal_id}'s PSBT"), signed)
    txid = done.tx.txid_hex
    if txid != proposal.unsigned_txid:
        raise SpendError(f"the assembled transaction {txid} is not the approved {proposal.unsigned_txid}")
    tx_hex = done.tx.serialize().hex()
    event = SpendFinalized(proposal_id, txid, tx_hex, done.signers)
    with book.atomic() as conn:
        store.record(book, conn, event)
        entry = journal.record_entry(book, proposal, txid)
        if out is not None:
            write_text(out, tx_hex + "\n", force=force)
    return FinalizeResult(proposal_id, txid, tx_hex, done.signers, entry, out)


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    proposal_id: int
    txid: str
    tx_hex: str
    sent: bool


def broadcast(book: Book, proposal_id: int, node: Node | None) -> BroadcastResult:
    """Send the finalized transaction through ``node`` (audited), or, without one, give its hex to print."""
    proposal = status(book, proposal_id).proposal
    if proposal.state is ProposalState.CANCELLED:
        raise SpendError(f"proposal {proposal_id} was cancelled ({proposal.closed_by}): it is never broadcast")
    if proposal.state is ProposalState.PROPOSED or proposal.final_tx is None:
        raise SpendError(f"proposal {proposal_id} is not finalized yet: boveda spend finalize {proposal_id} PSBT…")
    if node is None:
        return BroadcastResult(proposal_id, proposal.unsigned_txid, proposal.final_tx, False)
    sent = node.sendrawtransaction(bytes.fromhex(proposal.final_tx))[::-1].hex()
    if sent != proposal.unsigned_txid:
        raise SpendError(f"the node answered txid {sent}, not {proposal.unsigned_txid}")
    if proposal.state is ProposalState.FINALIZED:
        event = SpendBroadcast(proposal_id, sent)
        with book.atomic() as conn:
            store.record(book, conn, event)
    return BroadcastResult(proposal_id, sent, proposal.final_tx, True)
