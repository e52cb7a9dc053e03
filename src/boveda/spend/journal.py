"""The journal entry a finalized proposal records, through the Book's public API, citing its txid.

It is pending until the transaction confirms; then sync and reconciliation pair it with the
movement by txid. Reserve spends record a transfer with the miners' fee; custody spends move their
lot (allocation or release), whose entry the book derives; a move between a holding's own wallets
records its fee only.
"""

from __future__ import annotations

from boveda.book import Book
from boveda.book.domain import ACCOUNT_FEES, Account, AccountKind, EntryKind
from boveda.spend.errors import SpendError
from boveda.spend.model import Purpose, PurposeKind
from boveda.spend.policy import share_bp_for
from boveda.spend.store import ProposalRecord


def record_entry(book: Book, proposal: ProposalRecord, txid: str) -> str:
    """Record the proposal's entry (inside the caller's transaction); a sentence saying what was recorded."""
    holding = Account.parse(proposal.holding)
    counterparty = Account.parse(proposal.counterparty)
    purpose = Purpose.parse(proposal.purpose)
    memo = f"spend proposal {proposal.proposal_id}: {proposal.purpose}"
    order = proposal.order_ref
    fee = proposal.fee_sat
    if counterparty == holding:
        entry = book.record_entry(EntryKind.FEE, [(holding, -fee), (ACCOUNT_FEES, fee)], txids=[txid],
                                  authority_ref=order, memo=memo)
        return f"entry {entry.entry_id}: the fee of a move between {holding}'s own wallets"
    if purpose.kind is PurposeKind.FEE_PAYMENT:
        total = proposal.amount_sat + fee
        entry = book.record_entry(EntryKind.FEE, [(holding, -total), (ACCOUNT_FEES, total)], txids=[txid],
                                  authority_ref=order, memo=memo)
        return f"entry {entry.entry_id}: fee payment"
    if holding.kind is AccountKind.RESERVE:
        entry = book.add_transfer(from_account=holding, to_account=counterparty, amount_sat=proposal.amount_sat,
                                  txid=txid, reason=memo, order=order, fee_sat=fee)
        return f"entry {entry.entry_id}: {entry.kind.value} to {counterparty}"
    lot_id = proposal.lot_id
    if lot_id is None:
        raise SpendError(f"proposal {proposal.proposal_id} spends custody coins with no lot")
    if purpose.kind is PurposeKind.RELEASE:
        book.release_lot(lot_id, order=order, txid=txid)
    elif purpose.kind is PurposeKind.SHARING:
        lot = book.lot(lot_id)
        assert lot is not None
        book.allocate_lot(lot_id, to=f"sharing:{purpose.partner}", order=order, txid=txid,
                          percent_bp=share_bp_for(lot, proposal.amount_sat))
    elif purpose.kind is PurposeKind.RESTITUTION:
        book.allocate_lot(lot_id, to="restitution", order=order, txid=txid)
    elif purpose.kind is PurposeKind.FORFEITURE:
        book.allocate_lot(lot_id, to=str(counterparty), order=order, txid=txid)
    else:
        raise SpendError(f"custody coins do not move for {purpose}")
    return f"lot {lot_id}: {purpose.kind.value} citing the transaction"
