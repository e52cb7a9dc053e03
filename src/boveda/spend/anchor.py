"""``audit anchor``: a spend proposal whose transaction commits the audit log's head in a 0-sat OP_RETURN.

The output's payload (45 bytes, within the 80 that relay policy allows) is ``b"BVDA"``, a version byte
(1), the event's seq (8 bytes, big-endian) and the event's hash (32 bytes, the bytes its hex spells).
The change goes back to the wallet; the miners' fee is the only value that leaves, booked as a fee
entry when the proposal is finalized. The proposal then follows every other spend: approved by the
reserve's officials over its digest (which spells the OP_RETURN out), signed by the cosigners,
finalized and broadcast with the ``spend`` commands.

Anchors come only from a reserve's wallets: custody coins move only as their lot's state allows, and
a fee is no lot transition. One anchor is open at a time (proposed, finalized, or broadcast and not
yet seen confirmed by the synced chain facts), so anchors confirm in the order of the seqs they
commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection

from boveda.bitcoin import script
from boveda.bitcoin.tx import Transaction
from boveda.book import Book
from boveda.book.checks import check_text
from boveda.book.domain import Account, AccountKind
from boveda.book.errors import BookError
from boveda.errors import CodecError
from boveda.outfiles import check_target
from boveda.spend import coins as chain_coins
from boveda.spend import store
from boveda.spend.errors import PolicyRefusal, SpendError
from boveda.spend.model import Output, ProposalState, Purpose, PurposeKind
from boveda.spend.policy import check_available
from boveda.spend.proposals import Drafted, Node, fee_rate_of, record_proposal
from boveda.spend.psbt_build import SUPPORTED_FORMS, input_weight
from boveda.spend.selection import TX_OVERHEAD_WEIGHT, SelectionRequest, output_weight, select
from boveda.spend.store import ProposalRecord
from boveda.wallets import facts_store as facts
from boveda.wallets.descriptors import parse_descriptor
from boveda.wallets.sync import stored_network

TAG = b"BVDA"
VERSION = 1
PAYLOAD_SIZE = len(TAG) + 1 + 8 + 32
ANCHOR_PURPOSE = Purpose(PurposeKind.AUDIT_ANCHOR)


class AnchorUnreadable(SpendError):
    """An OP_RETURN carrying the anchor tag whose payload this version cannot read."""


@dataclass(frozen=True, slots=True)
class AnchorPayload:
    """What an anchor commits: event ``seq`` of the audit log, whose hash is ``head_hex``."""

    seq: int
    head_hex: str

    def serialize(self) -> bytes:
        return TAG + bytes((VERSION,)) + self.seq.to_bytes(8, "big") + bytes.fromhex(self.head_hex)

    @property
    def script_pubkey(self) -> bytes:
        return script.null_data(self.serialize())

    @classmethod
    def parse(cls, data: bytes) -> AnchorPayload:
        """AnchorUnreadable for a tagged payload of another version or size."""
        if not data.startswith(TAG):
            raise AnchorUnreadable("not an audit anchor (no BVDA tag)")
        if len(data) == len(TAG):
            raise AnchorUnreadable("an audit anchor tag with no version or payload after it")
        if data[len(TAG)] != VERSION:
            raise AnchorUnreadable(f"an audit anchor of version {data[len(TAG)]}: this boveda reads version {VERSION}")
        if len(data) != PAYLOAD_SIZE:
            raise AnchorUnreadable(f"an audit anchor of {len(data)} bytes: version {VERSION} has {PAYLOAD_SIZE}")
        seq = int.from_bytes(data[5:13], "big")
        if seq < 1:
            raise AnchorUnreadable("an audit anchor of event 0: the log's events start at 1")
        return cls(seq, data[13:].hex())


def read_anchor(script_pubkey: bytes) -> AnchorPayload | None:
    """The anchor an output script carries; None for any other script; AnchorUnreadable for a tagged one
    this version cannot read."""
    if not script_pubkey or script_pubkey[0] != script.OP_RETURN:
        return None
    try:
        pushes = list(script.iter_ops(script_pubkey[1:]))
    except CodecError:
        return None
    if len(pushes) != 1 or pushes[0][1] is None or not pushes[0][1].startswith(TAG):
        return None
    return AnchorPayload.parse(pushes[0][1])


def anchor_of_transaction(tx: Transaction) -> tuple[int, AnchorPayload] | None:
    """(output index, payload) of the first anchor among ``tx``'s outputs (AnchorUnreadable propagates)."""
    for vout, output in enumerate(tx.outputs):
        found = read_anchor(output.script_pubkey)
        if found is not None:
            return vout, found
    return None


def anchor_of_proposal(record: ProposalRecord) -> AnchorPayload | None:
    """The anchor a finalized audit-anchor proposal's transaction carries (None for other proposals)."""
    if record.purpose != str(ANCHOR_PURPOSE) or record.final_tx is None:
        return None
    try:
        found = anchor_of_transaction(Transaction.from_hex(record.final_tx))
    except (CodecError, AnchorUnreadable):
        return None
    return None if found is None else found[1]


@dataclass(frozen=True, slots=True)
class AnchorRequest:
    wallet: str
    out: Path
    fee_rate_sat_kvb: int | None = None
    fee_target_blocks: int | None = None
    order_ref: str | None = None  # default: "audit anchor of event SEQ"
    force: bool = False


@dataclass(frozen=True, slots=True)
class AnchorProposal:
    proposal_id: int
    payload: AnchorPayload
    digest: str
    unsigned_txid: str
    fee_sat: int
    change_sat: int
    wallet: str
    inputs: int
    out: Path


def open_anchor(conn: Connection, wallet_names: list[str]) -> ProposalRecord | None:
    """An audit-anchor proposal not cancelled whose coins the synced chain facts have not seen spent (by it,
    once it confirmed; by another transaction, when it never can)."""
    anchors = [p for p in store.proposals(conn)
               if p.purpose == str(ANCHOR_PURPOSE) and p.state is not ProposalState.CANCELLED]
    if not anchors:
        return None
    spent = {f"{c.txid[::-1].hex()}:{c.vout}" for c in facts.wallet_coins(conn, wallet_names) if c.spent_txid}
    return next((p for p in anchors if not spent.intersection(p.inputs)), None)


def propose_anchor(book: Book, request: AnchorRequest, node: Node | None = None) -> AnchorProposal:
    """Propose the anchor of the current audit head from reserve wallet ``request.wallet``; nothing is written
    unless every check passes, then the ``spend.proposed`` event and the PSBT file in one transaction."""
    network = stored_network(book.store)
    if network is None:
        raise SpendError("this book has no wallets and was never synced: add a wallet and run boveda sync")
    all_wallets = book.wallets()
    wallet = next((w for w in all_wallets if w.name == request.wallet.strip()), None)
    if wallet is None:
        raise SpendError(f"no wallet {request.wallet.strip()[:100]!r} in this book (see boveda wallet list)")
    holding = wallet.owner
    if holding.kind is not AccountKind.RESERVE:
        raise PolicyRefusal("anchor-reserve", f"wallet {wallet.name} belongs to {holding}: custody coins move only "
                                              "as their lot's state allows, so anchors are paid from a reserve's "
                                              "wallet")
    reserve = next((r for r in book.reserves() if Account.reserve(r.code) == holding), None)
    descriptor = parse_descriptor(wallet.descriptor, network)
    if descriptor.form not in SUPPORTED_FORMS:
        raise SpendError(f"wallet {wallet.name} is a {descriptor.form.value} wallet: anchors spend from wpkh, "
                         "wsh(multi|sortedmulti) or tr(KEY) wallets")
    try:
        order_ref = check_text(request.order_ref, what="order reference (--order)", required=False)
    except BookError as exc:
        raise SpendError(str(exc)) from None
    check_target(request.out, force=request.force)
    head = book.audit_head()
    payload = AnchorPayload(head.seq, head.hash_hex)
    anchor_script = payload.script_pubkey
    with book.store.read() as conn:
        if store.policy(conn, str(holding)) is None:
            raise PolicyRefusal("approval-policy", f"{holding} has no approval policy: set one first with boveda "
                                                   "policy set")
        pending = open_anchor(conn, [w.name for w in all_wallets if w.owner.kind is AccountKind.RESERVE])
        if pending is not None:
            raise PolicyRefusal("one-anchor-at-a-time", f"anchor proposal {pending.proposal_id} is "
                                                        f"{pending.state.value} and not seen confirmed: cancel it, "
                                                        "or broadcast it and sync once it confirms, so anchors "
                                                        "confirm in the order of the events they commit")
        reserved_outpoints, reserved_scripts = store.reserved(conn)
        coins = chain_coins.spendable_coins(conn, wallet.name, reserved_outpoints)
    rate = fee_rate_of(request.fee_rate_sat_kvb, request.fee_target_blocks, node)
    change_len = len(descriptor.derive(descriptor.branches[-1], 0, 1)[0].script_pubkey)
    selection = select(SelectionRequest([c.value_sat for c in coins], 0, rate, input_weight(descriptor),
                                        TX_OVERHEAD_WEIGHT + output_weight(len(anchor_script)),
                                        output_weight(change_len)))
    check_available(holding, book.balance(holding), selection.fee_sat)
    chosen = [coins[i] for i in selection.indexes]
    proposal_id, digest, unsigned_txid = record_proposal(
        book, Drafted(holding, reserve, wallet.name, descriptor, chosen, Output(anchor_script, 0), selection,
                      str(ANCHOR_PURPOSE), order_ref or f"audit anchor of event {payload.seq}", None, str(holding)),
        reserved_scripts, node, request.out, force=request.force)
    return AnchorProposal(proposal_id, payload, digest, unsigned_txid, selection.fee_sat, selection.change_sat,
                          wallet.name, len(chosen), request.out)
