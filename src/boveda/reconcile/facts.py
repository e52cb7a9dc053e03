"""The chain side of reconciliation: what the scanner saw of each transaction touching a
tracked wallet, attributed to the book account that owns the wallet.

Filled by sync from the scanner's credits, debits and per-transaction facts; nothing here
reads a chain or a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from boveda.book.domain import Account
from boveda.errors import BovedaError


class ReconcileError(BovedaError):
    """Chain facts that contradict themselves (a txid twice, more owned inputs than inputs, a negative fee)."""


@dataclass(frozen=True, slots=True)
class Owned:
    """One input or output of a tracked wallet, by the book account owning the wallet."""

    account: Account  # reserve:SV, custody:1:13-cr-00950, ...
    wallet: str
    value_sat: int


@dataclass(frozen=True, slots=True)
class ChainTx:
    """One confirmed transaction that touched any tracked wallet.

    ``txid_hex`` is in the usual (big-endian) display order, lower-case, as the journal cites it.
    """

    txid_hex: str
    height: int
    tx_index: int  # position in its block
    block_date: date  # UTC date of the block's time
    input_count: int  # all inputs of the transaction
    output_count: int  # all outputs
    output_total_sat: int
    inputs: tuple[Owned, ...]  # only the inputs spending tracked wallets' coins
    outputs: tuple[Owned, ...]  # only the outputs paying tracked wallets
