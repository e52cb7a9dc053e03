"""Movement classification (docs/design.md): what one confirmed transaction did to one holding.

Inputs are counted (the scanner knows the value of tracked prevouts only); outputs are
weighed, so a zero-value output (OP_RETURN) does not turn a consolidation into an outflow.
"""

from __future__ import annotations

from boveda.book.domain import Account
from boveda.reconcile.facts import ChainTx, Owned, ReconcileError
from boveda.reconcile.model import EXTERNAL, Movement, MovementKind, Party

_INFLOW, _OUTFLOW, _INTERNAL, _MIXED = MovementKind.INFLOW, MovementKind.OUTFLOW, MovementKind.INTERNAL, MovementKind.MIXED
_EXTERNAL_ONLY: tuple[Party, ...] = (EXTERNAL,)


def classify(reserve_code: str, tx: ChainTx) -> Movement | None:
    """The movement ``tx`` makes for reserve ``reserve_code``; ``None`` when it does not touch it."""
    return classify_account(Account.reserve(reserve_code), tx)


def classify_account(
    account: Account, tx: ChainTx, *, entry_ids: tuple[int, ...] = (), entry_id: int | None = None
) -> Movement | None:
    """The movement ``tx`` makes for any holding (``reserve:SV``, ``custody:CASE``); ``None`` when untouched.

    ``entry_ids`` and ``entry_id`` are carried into the movement as given: the journal entries
    citing the transaction and the one that best matches it (see :mod:`boveda.reconcile.match`).
    """
    in_sat = in_count = 0
    inputs = tx.inputs
    for owned in inputs:
        if owned.account == account:
            in_sat += owned.value_sat
            in_count += 1
    out_sat = 0
    for owned in tx.outputs:
        if owned.account == account:
            out_sat += owned.value_sat
    if not in_count and not out_sat:
        return None  # docs/design.md: an inflow needs out_R > 0
    input_count = tx.input_count
    if len(inputs) > input_count or len(tx.outputs) > tx.output_count:
        raise ReconcileError(f"transaction {tx.txid_hex}: more tracked inputs or outputs than it has")
    fee_sat: int | None = None
    if not in_count:
        kind, amount_sat = _INFLOW, out_sat
        counterparty = _far_side(account, inputs, input_count) if inputs else _EXTERNAL_ONLY
    elif in_count < input_count:
        kind, amount_sat = _MIXED, out_sat - in_sat
        counterparty = _far_side(account, inputs, input_count)
    else:
        output_total_sat = tx.output_total_sat
        fee_sat = in_sat - output_total_sat
        others_sat = output_total_sat - out_sat
        if fee_sat < 0 or others_sat < 0:
            raise ReconcileError(
                f"transaction {tx.txid_hex}: its outputs ({output_total_sat} sat) exceed its inputs ({in_sat} sat)"
                if fee_sat < 0 else f"transaction {tx.txid_hex}: tracked outputs exceed its output total"
            )
        if not others_sat:
            kind, amount_sat, counterparty = _INTERNAL, out_sat, (account,)
        else:
            kind, amount_sat, counterparty = _OUTFLOW, others_sat, _far_side_outputs(account, tx)
    return Movement(
        txid_hex=tx.txid_hex, height=tx.height, tx_index=tx.tx_index, block_date=tx.block_date, kind=kind,
        amount_sat=amount_sat, fee_sat=fee_sat, in_sat=in_sat, out_sat=out_sat, counterparty=counterparty,
        entry_id=entry_id, entry_ids=entry_ids,
    )


def _far_side(account: Account, inputs: tuple[Owned, ...], input_count: int) -> tuple[Party, ...]:
    others = {owned.account for owned in inputs if owned.account != account}
    return _parties(others, input_count > len(inputs)) if others else _EXTERNAL_ONLY


def _far_side_outputs(account: Account, tx: ChainTx) -> tuple[Party, ...]:
    others = {owned.account for owned in tx.outputs if owned.account != account}
    if not others:
        return _EXTERNAL_ONLY
    tracked_sat = sum(owned.value_sat for owned in tx.outputs)
    return _parties(others, tx.output_total_sat - tracked_sat > 0)


def _parties(accounts: set[Account], with_external: bool) -> tuple[Party, ...]:
    parties: list[Party] = sorted(accounts, key=str)
    if with_external:
        parties.append(EXTERNAL)
    return tuple(parties)
