"""The simulation's own books of the chain it builds: every script's credits and debits, every
wallet's coins and its balance by height, kept in step with the blocks (and undone on a reorg)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from boveda.bitcoin.tx import OutPoint, Transaction, encode_witness
from boveda.chain.regtest.builder import COINBASE_MATURITY

MAX_BLOCK_WEIGHT = 4_000_000
_BLOCK_WEIGHT_FOR_TXS = MAX_BLOCK_WEIGHT - 8_000  # header, transaction count and coinbase
MEDIAN_TIME_SPAN = 11
DUST_SAT = 546
_SEQUENCE_RBF = 0xFFFFFFFD  # what Bitcoin Core's wallet uses; relative lock time stays off
_OP_RETURN = 0x6A


@dataclass(frozen=True, slots=True)
class Credit:
    """An output paid to a script, confirmed at `height`."""

    txid: bytes
    vout: int
    value_sat: int
    height: int

    @property
    def outpoint(self) -> OutPoint:
        return OutPoint(self.txid, self.vout)

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()


@dataclass(frozen=True, slots=True)
class Debit:
    """An output of a script spent by `spending_txid`, confirmed at `height`."""

    outpoint: OutPoint
    value_sat: int
    spending_txid: bytes
    height: int

    @property
    def spending_txid_hex(self) -> str:
        return self.spending_txid[::-1].hex()


@dataclass(frozen=True, slots=True)
class Utxo:
    outpoint: OutPoint
    value_sat: int
    script_pubkey: bytes
    height: int | None  # None while the transaction that made it waits for a block
    is_coinbase: bool = False

    def spendable_at(self, height: int) -> bool:
        """Whether a transaction in block `height` may spend it (coinbase maturity)."""
        return not self.is_coinbase or height - self.height >= COINBASE_MATURITY


@dataclass(frozen=True, slots=True)
class ScriptHistory:
    script_pubkey: bytes
    credits: tuple[Credit, ...]
    debits: tuple[Debit, ...]

    @property
    def balance_sat(self) -> int:
        return sum(c.value_sat for c in self.credits) - sum(d.value_sat for d in self.debits)


@dataclass(frozen=True, slots=True)
class _Pending:
    tx: Transaction
    txid: bytes
    fee_sat: int
    weight: int


@dataclass(frozen=True, slots=True)
class _BlockRecord:
    """One block of the chain being built, and the book entries it made (in order, for undoing)."""

    height: int
    hash: bytes
    time: int
    credits: tuple[Utxo, ...]
    debits: tuple[tuple[Utxo, bytes], ...]  # (spent coin, spending txid)
    wallets_changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Fork:
    from_height: int
    displaced: tuple[_BlockRecord, ...]  # the blocks the branch competes with


class _Books:
    """The builder's accounting of one chain: coins, per-script histories, per-wallet balances."""

    def __init__(self) -> None:
        self.coins: dict[OutPoint, Utxo] = {}
        self.credits: dict[bytes, list[Credit]] = {}
        self.debits: dict[bytes, list[Debit]] = {}
        self.wallet_coins: dict[str, dict[OutPoint, Utxo]] = {}
        self.balance_steps: dict[str, list[tuple[int, int]]] = {}  # (height, balance after that block)

    def add_wallet(self, name: str) -> None:
        self.wallet_coins[name] = {}
        self.balance_steps[name] = []

    def apply(self, record: _BlockRecord, owner_of) -> None:
        height = record.height
        changes: dict[str, int] = {}
        # Credits and debits interleave in block order; a coin made and spent in the same block
        # is credited before it is debited, so credits go first.
        for coin in record.credits:
            self.coins[coin.outpoint] = coin
            self.credits.setdefault(coin.script_pubkey, []).append(
                Credit(coin.outpoint.txid, coin.outpoint.vout, coin.value_sat, height)
            )
            owner = owner_of(coin.script_pubkey)
            if owner is not None:
                self.wallet_coins[owner][coin.outpoint] = coin
                changes[owner] = changes.get(owner, 0) + coin.value_sat
        for coin, spending_txid in record.debits:
            del self.coins[coin.outpoint]
            self.debits.setdefault(coin.script_pubkey, []).append(
                Debit(coin.outpoint, coin.value_sat, spending_txid, height)
            )
            owner = owner_of(coin.script_pubkey)
            if owner is not None:
                del self.wallet_coins[owner][coin.outpoint]
                changes[owner] = changes.get(owner, 0) - coin.value_sat
        for name in record.wallets_changed:
            steps = self.balance_steps[name]
            steps.append((height, (steps[-1][1] if steps else 0) + changes.get(name, 0)))

    def undo(self, record: _BlockRecord, owner_of) -> None:
        for name in record.wallets_changed:
            self.balance_steps[name].pop()
        for coin, _ in reversed(record.debits):
            self.coins[coin.outpoint] = coin
            self.debits[coin.script_pubkey].pop()
            owner = owner_of(coin.script_pubkey)
            if owner is not None:
                self.wallet_coins[owner][coin.outpoint] = coin
        for coin in reversed(record.credits):
            del self.coins[coin.outpoint]
            self.credits[coin.script_pubkey].pop()
            owner = owner_of(coin.script_pubkey)
            if owner is not None:
                del self.wallet_coins[owner][coin.outpoint]

    def history(self, script_pubkey: bytes) -> ScriptHistory:
        return ScriptHistory(script_pubkey, tuple(self.credits.get(script_pubkey, ())),
                             tuple(self.debits.get(script_pubkey, ())))

    def scripts(self) -> tuple[bytes, ...]:
        return tuple(s for s, credits in self.credits.items() if credits)

    def utxos(self, name: str | None = None) -> tuple[Utxo, ...]:
        return tuple((self.coins if name is None else self.wallet_coins[name]).values())

    def balance_sat(self, name: str, height: int) -> int:
        steps = self.balance_steps[name]
        at = bisect.bisect_right(steps, height, key=lambda step: step[0])
        return steps[at - 1][1] if at else 0


def _witness_size(witnesses: Sequence[tuple[bytes, ...]]) -> int:
    """Bytes the witness adds to a serialised transaction (marker, flag and every stack)."""
    return 2 + sum(len(encode_witness(stack)) for stack in witnesses)
