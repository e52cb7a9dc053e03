"""``spend propose``: a policy-checked proposal with its unsigned PSBT, recorded as an audited event.

Every rule is checked, the coins selected and the PSBT built before anything is written; then the
``spend.proposed`` event, its rows and the PSBT file are written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from boveda.bitcoin.address import address_to_script
from boveda.book import Book
from boveda.book.domain import Account, AccountKind, Lot, Reserve
from boveda.book.errors import BookError
from boveda.book.spend_events import SpendProposed
from boveda.errors import CodecError
from boveda.outfiles import check_target, write_text
from boveda.spend import coins as chain_coins
from boveda.spend import store
from boveda.spend.approvals import proposal_digest
from boveda.spend.errors import PolicyRefusal, SpendError
from boveda.spend.model import Output, Purpose, PurposeKind, Utxo
from boveda.spend.policy import Proposed, check_available, check_lot_amount, check_own_output, check_proposal
from boveda.spend.psbt_build import SUPPORTED_FORMS, build_psbt, input_weight, unsigned_transaction
from boveda.spend.selection import TX_OVERHEAD_WEIGHT, Selection, SelectionRequest, output_weight, select
from boveda.wallets.descriptors import ScriptForm, WalletDescriptor, parse_descriptor
from boveda.wallets.sync import stored_network

DEFAULT_FEE_TARGET = 6


class Node(Protocol):
    """What spending asks of a running node (``boveda.chain.rpc_client.RpcClient`` is one)."""

    def getrawtransaction(self, txid: bytes, block_hash: bytes | None = None) -> bytes: ...
    def estimatesmartfee(self, conf_target: int) -> int | None: ...
    def sendrawtransaction(self, raw_tx: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class ProposeRequest:
    holding: str  # reserve:CODE or custody:CASE
    to_address: str
    amount_sat: int | None  # None: --all
    purpose: str
    order_ref: str | None
    out: Path
    lot_id: int | None = None
    fee_rate_sat_kvb: int | None = None
    fee_target_blocks: int | None = None
    counterparty: str | None = None
    wallet: str | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class ProposalResult:
    proposal_id: int
    digest: str
    unsigned_txid: str
    amount_sat: int
    fee_sat: int
    change_sat: int
    wallet: str
    inputs: int
    algorithm: str
    out: Path


def holding_account(book: Book, text: str) -> tuple[Account, Reserve | None]:
    try:
        holding = Account.parse(text)
    except BookError:
        raise SpendError(f"--from takes reserve:CODE or custody:CASE, not {text!r}") from None
    if holding.kind is AccountKind.RESERVE:
        reserve = next((r for r in book.reserves() if r.code == holding.name), None)
        if reserve is None:
            raise SpendError(f"no reserve {holding.name!r} in this book")
        return holding, reserve
    if holding.kind is AccountKind.CUSTODY:
        if not any(c.number == holding.name for c in book.cases()):
            raise SpendError(f"no case {holding.name!r} in this book")
        return holding, None
    raise SpendError(f"coins are spent from a reserve:CODE or custody:CASE holding, not {holding}")


def fee_rate(request: ProposeRequest, node: Node | None) -> int:
    return fee_rate_of(request.fee_rate_sat_kvb, request.fee_target_blocks, node)


def fee_rate_of(rate_sat_kvb: int | None, target_blocks: int | None, node: Node | None) -> int:
    """The rate given (sat/kvB), else the node's estimate for the target (default 6 blocks); SpendError if none."""
    if rate_sat_kvb is not None:
        return rate_sat_kvb
    if node is None:
        raise SpendError("give --fee-rate SAT_VB, or a running node (--rpc-url/--rpc) for its fee estimate")
    target = target_blocks or DEFAULT_FEE_TARGET
    rate = node.estimatesmartfee(target)
    if rate is None:
        raise SpendError(f"the node has no fee estimate for {target} blocks (usual on regtest or a new node): give "
                         "--fee-rate SAT_VB")
    return rate


def propose(book: Book, request: ProposeRequest, node: Node | None = None) -> ProposalResult:
    holding, reserve = holding_account(book, request.holding)
    network = stored_network(book.store)
    if network is None:
        raise SpendError("this book has no wallets and was never synced: add a wallet and run boveda sync")
    try:
        destination_script = address_to_script(request.to_address.strip(), network)
    except CodecError as exc:
        raise SpendError(f"--to: {exc}") from None
    purpose = Purpose.parse(request.purpose)
    lot = book.lot(request.lot_id) if request.lot_id is not None else None
    if request.lot_id is not None and lot is None:
        raise SpendError(f"unknown lot {request.lot_id}")
    all_wallets = book.wallets()
    wallets = [w for w in all_wallets if w.owner == holding and (request.wallet is None or w.name == request.wallet)]
    if not wallets:
        raise SpendError(f"{holding} has no wallet{' ' + request.wallet if request.wallet else ''} to spend from")
    check_target(request.out, force=request.force)
    with book.store.read() as conn:
        if store.policy(conn, str(holding)) is None:
            raise PolicyRefusal("approval-policy", f"{holding} has no approval policy: set one first with boveda "
                                                   "policy set")
        reserved_outpoints, reserved_scripts = store.reserved(conn)
        dest = chain_coins.destination(conn, destination_script, all_wallets)
        candidates = {w.name: chain_coins.spendable_coins(conn, w.name, reserved_outpoints) for w in wallets}
    if lot is not None and holding.kind is AccountKind.CUSTODY:
        candidates = {name: _lot_coins(lot, coins) for name, coins in candidates.items()}
    counterparty = _counterparty(request, purpose, dest.owner)
    proposed = Proposed(holding, reserve, purpose, (request.order_ref or "").strip() or None, counterparty,
                        dest.owner, lot)
    check_proposal(proposed)
    rate = fee_rate(request, node)
    wallet, coins, selection = _select(wallets, candidates, network, request, destination_script, rate)
    check_lot_amount(proposed, selection.amount_sat, selection.fee_sat)  # a sharing's share is derived again later
    check_available(holding, book.balance(holding), selection.amount_sat + selection.fee_sat)
    if dest.owner is not None:
        dest_reserve = next((r for r in book.reserves() if Account.reserve(r.code) == dest.owner), None)
        check_own_output(dest_reserve, selection.amount_sat, used=dest.used, what="the payment")
    descriptor = parse_descriptor(wallet.descriptor, network)
    order_ref = proposed.order_ref or ""
    proposal_id, digest, unsigned_txid = record_proposal(
        book, Drafted(holding, reserve, wallet.name, descriptor, coins, Output(destination_script, selection.amount_sat),
                      selection, str(purpose), order_ref, request.lot_id, str(counterparty)),
        reserved_scripts, node, request.out, force=request.force)
    return ProposalResult(proposal_id, digest, unsigned_txid, selection.amount_sat, selection.fee_sat,
                          selection.change_sat, wallet.name, len(coins), selection.algorithm, request.out)


@dataclass(frozen=True, slots=True)
class Drafted:
    """A proposal as policy and coin selection left it: what `record_proposal` turns into a PSBT and an event.
    `payment` is the output the proposal exists for (the destination, or an anchor's OP_RETURN)."""

    holding: Account
    reserve: Reserve | None
    wallet: str
    descriptor: WalletDescriptor
    coins: list[Utxo]
    payment: Output
    selection: Selection
    purpose: str
    order_ref: str
    lot_id: int | None
    counterparty: str


def record_proposal(book: Book, draft: Drafted, reserved_scripts, node: Node | None, out: Path, *,
                    force: bool) -> tuple[int, str, str]:
    """The PSBT of `draft` (change to the wallet's next unused internal address, checked against the
    reserve's rules) written to `out`, and its `spend.proposed` event, in one transaction:
    (proposal id, digest, unsigned txid)."""
    selection, coins = draft.selection, draft.coins
    with book.store.read() as conn:
        change = chain_coins.next_change(conn, draft.wallet, draft.descriptor.branches, reserved_scripts) \
            if selection.change_sat else None
        block_hashes = {c.txid: chain_coins.block_hash_at(conn, c.height) for c in coins}
    outputs = [draft.payment]
    if change is not None:
        check_own_output(draft.reserve, selection.change_sat, used=False, what="the change")
        outputs.append(Output(change[0], selection.change_sat, is_change=True))
    previous = _previous_txs(node, draft.descriptor.form, coins, block_hashes)
    psbt = build_psbt(draft.descriptor, coins, outputs, previous, None if change is None else (change[1], change[2]))
    unsigned_txid = unsigned_transaction(psbt).txid_hex
    psbt_text = psbt.to_base64()
    with book.atomic() as conn:
        proposal_id = store.next_proposal_id(conn)
        digest = proposal_digest(
            proposal_id=proposal_id, holding=str(draft.holding), unsigned_txid=unsigned_txid,
            outputs=[(o.script_pubkey, o.value_sat) for o in outputs], fee_sat=selection.fee_sat,
            purpose=draft.purpose, order_ref=draft.order_ref, counterparty=draft.counterparty, lot_id=draft.lot_id)
        event = SpendProposed(
            proposal_id, str(draft.holding), draft.wallet, draft.purpose, draft.order_ref, draft.lot_id,
            draft.counterparty, draft.payment.value_sat, selection.fee_sat, unsigned_txid, digest, psbt_text,
            tuple(c.outpoint for c in coins), None if change is None else change[0].hex())
        store.record(book, conn, event)
        write_text(out, psbt_text + "\n", force=force)
    return proposal_id, digest, unsigned_txid


def _lot_coins(lot: Lot, coins: list[Utxo]) -> list[Utxo]:
    """The coins of ``lot`` — its seizure outpoints, or its seizure transaction's outputs — when the wallet
    still holds them; else every coin (the case's coins were moved between its own wallets since)."""
    named = set(lot.seizure_outpoints)
    own = [c for c in coins if (c.outpoint in named if named else c.txid[::-1].hex() == lot.seizure_txid)]
    return own or coins


def _counterparty(request: ProposeRequest, purpose: Purpose, owner: Account | None) -> Account:
    if request.counterparty is not None:
        try:
            return Account.parse(request.counterparty.strip())
        except BookError as exc:
            raise SpendError(f"--counterparty: {exc}") from None
    found = purpose.default_counterparty()
    if found is not None:
        return found
    if owner is not None:
        return owner
    if purpose.kind in (PurposeKind.INTERNAL, PurposeKind.FORFEITURE):
        raise PolicyRefusal("purpose", f"{purpose} pays one of the book's own wallets; the destination is none of them")
    raise SpendError(f"say who receives the coins: --counterparty ACCOUNT (purpose {purpose})")


def _select(wallets, candidates, network, request: ProposeRequest, destination_script: bytes, rate: int
            ) -> tuple:
    """The first wallet (largest spendable total first) whose coins cover the spend."""
    ordered = sorted(wallets, key=lambda w: -sum(c.value_sat for c in candidates[w.name]))
    refusal: PolicyRefusal | None = None
    for wallet in ordered:
        descriptor = parse_descriptor(wallet.descriptor, network)
        if descriptor.form not in SUPPORTED_FORMS:
            continue
        coins = candidates[wallet.name]
        change_len = len(descriptor.derive(descriptor.branches[-1], 0, 1)[0].script_pubkey)
        try:
            selection: Selection = select(SelectionRequest(
                [c.value_sat for c in coins], request.amount_sat or 0, rate, input_weight(descriptor),
                TX_OVERHEAD_WEIGHT + output_weight(len(destination_script)), output_weight(change_len),
                sweep=request.amount_sat is None))
        except PolicyRefusal as exc:
            refusal = refusal or exc
            continue
        return wallet, [coins[i] for i in selection.indexes], selection
    if refusal is not None:
        raise refusal
    raise SpendError("none of the holding's wallets is of a form proposals spend (wpkh, wsh(multi), tr)")


def _previous_txs(node: Node | None, form: ScriptForm, coins: list[Utxo], block_hashes: dict) -> dict[bytes, bytes]:
    if form is ScriptForm.TR or node is None:
        return {}
    found = {}
    for coin in coins:
        if coin.txid not in found:
            found[coin.txid] = node.getrawtransaction(coin.txid, block_hashes.get(coin.txid))
    return found
