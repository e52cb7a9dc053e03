"""Movement classification (DESIGN.md): what one confirmed transaction did to one holding.

Inputs are counted (the scanner knows the value of tracked prevouts only); outputs are
weighed, so a zero-value output (OP_RETURN) does not turn a consolidation into an outflow.
"""

from __future__ import annotations

from boveda.reconcile.facts import ChainTx, Owned, ReconcileError
from boveda.reconcile.model import EXTERNAL, Movement, MovementKind

_INFLOW, _OUTFLOW, _INTERNAL, _MIXED = MovementKind.INFLOW, MovementKind.OUTFLOW, MovementKind.INTERNAL, MovementKind.MIXED

# (kind, amount_sat, fee_sat, in_sat, out_sat, counterparty)
Classified = tuple[MovementKind, int, "int | None", int, int, str]


def reserve_account(reserve_code: str) -> str:
    return f"reserve:{reserve_code}"


def classify(reserve_code: str, tx: ChainTx) -> Movement | None:
    """The movement ``tx`` makes for reserve ``reserve_code``; ``None`` when it does not touch it."""
    return classify_account(reserve_account(reserve_code), tx)


def classify_account(account: str, tx: ChainTx) -> Movement | None:
    """The movement ``tx`` makes for any holding (``reserve:SV``, ``custody:CASE``); ``None`` when untouched."""
    found = classify_fields(account, tx)
    if found is None:
        return None
    kind, amount_sat, fee_sat, in_sat, out_sat, counterparty = found
    return Movement(tx.txid_hex, tx.height, tx.tx_index, tx.block_date, kind, amount_sat, fee_sat, in_sat, out_sat,
                    counterparty)


def classify_fields(account: str, tx: ChainTx) -> Classified | None:
    """:func:`classify_account` as a plain tuple, for reconciling a million transactions."""
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
        return None  # DESIGN.md: an inflow needs out_R > 0
    input_count = tx.input_count
    if len(inputs) > input_count or len(tx.outputs) > tx.output_count:
        raise ReconcileError(f"transaction {tx.txid_hex}: more tracked inputs or outputs than it has")
    if not in_count:
        return _INFLOW, out_sat, None, 0, out_sat, _far_side(account, inputs, input_count) if inputs else EXTERNAL
    if in_count < input_count:
        return _MIXED, out_sat - in_sat, None, in_sat, out_sat, _far_side(account, inputs, input_count)
    output_total_sat = tx.output_total_sat
    fee_sat = in_sat - output_total_sat
    others_sat = output_total_sat - out_sat
    if fee_sat < 0 or others_sat < 0:
        raise ReconcileError(
            f"transaction {tx.txid_hex}: its outputs ({output_total_sat} sat) exceed its inputs ({in_sat} sat)"
            if fee_sat < 0 else f"transaction {tx.txid_hex}: tracked outputs exceed its output total"
        )
    if not others_sat:
        return _INTERNAL, out_sat, fee_sat, in_sat, out_sat, account
    return _OUTFLOW, others_sat, fee_sat, in_sat, out_sat, _far_side_outputs(account, tx)


def _far_side(account: str, inputs: tuple[Owned, ...], input_count: int) -> str:
    others = {owned.account for owned in inputs if owned.account != account}
    return _join(others, input_count > len(inputs)) if others else EXTERNAL


def _far_side_outputs(account: str, tx: ChainTx) -> str:
    others = {owned.account for owned in tx.outputs if owned.account != account}
    if not others:
        return EXTERNAL
    tracked_sat = sum(owned.value_sat for owned in tx.outputs)
    return _join(others, tx.output_total_sat - tracked_sat > 0)


def _join(accounts: set[str], with_external: bool) -> str:
    names = sorted(accounts)
    if with_external:
        names.append(EXTERNAL)
    return ",".join(names)
