"""A regtest economy: software wallets paying each other in blocks that Bitcoin Core's engine validates.

The simulation keeps its own books of what it built — for every script its credits and debits,
for every wallet its coins and its balance by height — so tests can hold any reader of the
chain against them. The books follow the chain the simulation builds on; after a reorg
(`fork`, then mine the branch until it is longer) they follow the branch.
"""

from __future__ import annotations

import contextlib
import time as _time
from collections.abc import Iterator, Sequence
from pathlib import Path

from boveda.bitcoin.block import Block
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.sighash import TxDigests
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.chain.regtest.books import (  # noqa: F401  (Credit, Debit, ScriptHistory are the simulation's API)
    _BLOCK_WEIGHT_FOR_TXS,
    _OP_RETURN,
    _SEQUENCE_RBF,
    DUST_SAT,
    MAX_BLOCK_WEIGHT,
    MEDIAN_TIME_SPAN,
    Credit,
    Debit,
    ScriptHistory,
    Utxo,
    _BlockRecord,
    _Books,
    _Fork,
    _Pending,
    _witness_size,
)
from boveda.chain.regtest.branching import Branching
from boveda.chain.regtest.builder import COINBASE_MATURITY, RegtestBuilder
from boveda.chain.regtest.coin_selection import CoinSelection
from boveda.errors import BuilderError
from boveda.keys.software_wallet import Branch, SoftwareWallet, WalletKind, seed_from_label


class Simulation(Branching, CoinSelection):
    """Owns a RegtestBuilder on a fresh data directory, a miner wallet and any number of named wallets.

    Payments are built and signed at once and wait in a queue; `mine` puts them in the next
    block (oldest first) with a coinbase to the miner. Times are UNIX seconds.
    """

    MINER = "miner"

    def __init__(
        self,
        datadir: Path | str,
        *,
        seed_label: str = "boveda",
        block_interval_s: int = 600,
        feerate_sat_vb: int = 2,
        miner_kind: WalletKind = WalletKind.WPKH,
    ) -> None:
        self.datadir = Path(datadir)
        self.seed_label = seed_label
        self.block_interval_s = block_interval_s
        self.feerate_sat_vb = feerate_sat_vb
        self._builder: RegtestBuilder | None = RegtestBuilder(self.datadir, block_interval_s=block_interval_s)
        if self._builder.height != 0:
            height = self._builder.height
            self._builder.close()
            raise BuilderError(f"{self.datadir} already holds a chain of height {height}; simulate on a fresh folder")
        genesis = self._builder.tip
        self._chain: list[_BlockRecord] = [_BlockRecord(0, genesis.hash, self._builder.tip_time, (), (), ())]
        self._books = _Books()
        self._wallets: dict[str, SoftwareWallet] = {}
        self._owner: dict[bytes, str] = {}
        self._spendable: dict[str, dict[OutPoint, Utxo]] = {}  # confirmed coins, updated for the queue
        self._pending: list[_Pending] = []
        self._fork: _Fork | None = None
        self.add_wallet(self.MINER, miner_kind)

    # -- wallets ---------------------------------------------------------------------

    def add_wallet(
        self, name: str, kind: WalletKind = WalletKind.WPKH, *, threshold: int = 2, cosigners: int = 3
    ) -> SoftwareWallet:
        """A new wallet seeded from `name` (and the simulation's seed label); wsh is `threshold`-of-`cosigners`."""
        count = cosigners if kind == WalletKind.WSH_SORTEDMULTI else 1
        seeds = [seed_from_label(f"{self.seed_label}/{name}/{i}") for i in range(count)]
        if kind == WalletKind.WSH_SORTEDMULTI:
            wallet = SoftwareWallet.wsh_sortedmulti(threshold, seeds)
        elif kind == WalletKind.TR:
            wallet = SoftwareWallet.tr(seeds[0])
        else:
            wallet = SoftwareWallet.wpkh(seeds[0])
        return self.register_wallet(name, wallet)

    def register_wallet(self, name: str, wallet: SoftwareWallet) -> SoftwareWallet:
        if name in self._wallets:
            raise BuilderError(f"there is already a wallet named {name!r}")
        for script_pubkey in wallet.derived_script_pubkeys():
            self._claim(name, script_pubkey)
        wallet.on_new_script = lambda script_pubkey: self._claim(name, script_pubkey)
        self._wallets[name] = wallet
        self._books.add_wallet(name)
        self._spendable[name] = {}
        return wallet

    def _claim(self, name: str, script_pubkey: bytes) -> None:
        owner = self._owner.setdefault(script_pubkey, name)
        if owner != name:
            raise BuilderError(f"wallets {owner!r} and {name!r} share a script {script_pubkey.hex()}")

    def wallet(self, name: str) -> SoftwareWallet:
        try:
            return self._wallets[name]
        except KeyError:
            raise BuilderError(f"no wallet named {name!r}; known: {', '.join(self._wallets)}") from None

    @property
    def wallet_names(self) -> tuple[str, ...]:
        return tuple(self._wallets)

    def owner_of(self, script_pubkey: bytes) -> str | None:
        """The name of the wallet that derived `script_pubkey`, if any."""
        return self._owner.get(script_pubkey)

    def receive_script(self, name: str) -> bytes:
        """A fresh receive script of wallet `name`."""
        return self.wallet(name).next_script_pubkey(Branch.RECEIVE)

    def change_script(self, name: str) -> bytes:
        return self.wallet(name).next_script_pubkey(Branch.CHANGE)

    # -- the chain -------------------------------------------------------------------

    @property
    def builder(self) -> RegtestBuilder:
        if self._builder is None:
            raise BuilderError("the simulation is closed; reopen() it first")
        return self._builder

    @property
    def height(self) -> int:
        """Height of the chain being built (the branch, while one is being built)."""
        return len(self._chain) - 1

    @property
    def tip_hash(self) -> bytes:
        return self._chain[-1].hash

    @property
    def tip_time(self) -> int:
        return self._chain[-1].time

    @property
    def building_branch(self) -> bool:
        """True between `fork` and the block that makes the branch the kernel's active chain."""
        return self._fork is not None

    def block_hash(self, height: int) -> bytes:
        return self._chain[height].hash

    def median_time_past(self) -> int:
        """The median of the last 11 block times: the next block's time must exceed it."""
        times = sorted(record.time for record in self._chain[-MEDIAN_TIME_SPAN:])
        return times[len(times) // 2]  # as Bitcoin Core's GetMedianTimePast picks it

    def _block_time(self, time: int | None) -> int:
        previous, mtp = self.tip_time, self.median_time_past()
        if time is None:
            time = max(previous + self.block_interval_s, mtp + 1)
        if time <= previous or time <= mtp:
            raise BuilderError(
                f"block time {time} must be after the previous block's time {previous} and median time past {mtp}"
            )
        if time > _time.time():
            raise BuilderError(f"block time {time} is in the future; the kernel refuses blocks from the future")
        return time

    # -- payments --------------------------------------------------------------------

    def spendable(self, name: str) -> tuple[Utxo, ...]:
        """The coins wallet `name` may spend in the next block: confirmed and mature, or made by a queued payment."""
        next_height = self.height + 1
        self.wallet(name)
        return tuple(c for c in self._spendable[name].values() if c.spendable_at(next_height))

    def _coin(self, outpoint: OutPoint) -> tuple[str, Utxo]:
        for name, coins in self._spendable.items():
            coin = coins.get(outpoint)
            if coin is not None:
                return name, coin
        raise BuilderError(f"{outpoint} is not an unspent coin of any wallet of the simulation")

    def pay(
        self,
        name: str,
        outputs: Sequence[tuple[bytes, int]],
        *,
        fee_sat: int | None = None,
        utxos: Sequence[OutPoint] | None = None,
    ) -> Transaction:
        """Builds, signs and queues a payment from wallet `name` to `(script_pubkey, value_sat)` outputs.

        Change goes to the wallet's next change script. `fee_sat` defaults to the simulation's
        fee rate times the estimated size (dust change then goes to the fee); given, it is exact.
        `utxos` spends those coins (of any of the simulation's wallets) instead of choosing.
        """
        wallet = self.wallet(name)
        tx_outputs = [TxOut(value_sat, script_pubkey) for script_pubkey, value_sat in outputs]
        if any(o.value_sat < 0 for o in tx_outputs) or (fee_sat is not None and fee_sat < 0):
            raise BuilderError("output values and fees cannot be negative")
        amount_sat = sum(o.value_sat for o in tx_outputs)
        if utxos is None and fee_sat is None:
            coins, fee = self._select(name, amount_sat, tx_outputs)
        elif utxos is None:
            coins, _ = self._select(name, amount_sat + fee_sat, tx_outputs)
            fee = fee_sat
        else:
            coins = [self._checked_coin(outpoint) for outpoint in utxos]
            if fee_sat is None:
                owners = (self._wallets[self._owner[c.script_pubkey]] for c in coins)
                change_out = TxOut(0, bytes(34))
                fee = self._fee_for((w.input_vbytes for w in owners), (*tx_outputs, change_out))
            else:
                fee = fee_sat
        change_sat = sum(c.value_sat for c in coins) - amount_sat - fee
        if change_sat < 0:
            raise BuilderError(f"the coins spent fall {-change_sat} sat short of {amount_sat} sat plus {fee} sat fee")
        if change_sat >= DUST_SAT or (fee_sat is not None and change_sat > 0):
            tx_outputs.append(TxOut(change_sat, wallet.next_script_pubkey(Branch.CHANGE)))
        else:
            fee += change_sat
        return self._queue(coins, tx_outputs, fee)

    def sweep(
        self, name: str, to_script: bytes, *, fee_sat: int | None = None, utxos: Sequence[OutPoint] | None = None
    ) -> Transaction:
        """Spends every spendable coin of wallet `name` (or just `utxos`) to one output, less the fee."""
        wallet = self.wallet(name)
        if utxos is None:
            coins = list(self.spendable(name))
        else:
            coins = [self._checked_coin(outpoint) for outpoint in utxos]
        if not coins:
            raise BuilderError(f"wallet {name!r} has nothing to sweep")
        total = sum(c.value_sat for c in coins)
        if fee_sat is not None and fee_sat < 0:
            raise BuilderError("fees cannot be negative")
        if fee_sat is None:
            fee_sat = self._fee_for((wallet.input_vbytes,) * len(coins), (TxOut(0, to_script),))
        if total - fee_sat < 0:
            raise BuilderError(f"sweeping {total} sat cannot pay a {fee_sat} sat fee")
        return self._queue(coins, [TxOut(total - fee_sat, to_script)], fee_sat)

    def _checked_coin(self, outpoint: OutPoint) -> Utxo:
        _, coin = self._coin(outpoint)
        if not coin.spendable_at(self.height + 1):
            raise BuilderError(f"coinbase {outpoint} is immature until height {coin.height + COINBASE_MATURITY}")
        return coin

    def _queue(self, coins: Sequence[Utxo], outputs: Sequence[TxOut], fee_sat: int) -> Transaction:
        if len({c.outpoint for c in coins}) != len(coins):
            raise BuilderError("a payment cannot spend the same coin twice")
        inputs = tuple(TxIn(c.outpoint, b"", _SEQUENCE_RBF) for c in coins)
        # Locktime at the tip, as Bitcoin Core's wallet does against fee sniping.
        unsigned = Transaction(2, inputs, tuple(outputs), self.height)
        spent = [TxOut(c.value_sat, c.script_pubkey) for c in coins]
        owners = [self._wallets[self._owner[c.script_pubkey]] for c in coins]
        needs_amounts = any(w.kind == WalletKind.TR for w in owners)
        digests = TxDigests.compute(unsigned, spent if needs_amounts else None)
        witnesses = [w.sign_input(unsigned, i, spent, digests) for i, w in enumerate(owners)]
        signed_inputs = tuple(TxIn(t.prevout, b"", t.sequence, w) for t, w in zip(inputs, witnesses))
        tx = Transaction(2, signed_inputs, unsigned.outputs, unsigned.locktime)
        stripped = tx.serialize(with_witness=False)
        txid = sha256d(stripped)
        weight = 4 * len(stripped) + _witness_size(witnesses)
        if weight > _BLOCK_WEIGHT_FOR_TXS:
            raise BuilderError(f"a transaction of weight {weight} does not fit in a block")
        for coin in coins:
            del self._spendable[self._owner[coin.script_pubkey]][coin.outpoint]
        for vout, txout in enumerate(tx.outputs):
            owner = self._owner.get(txout.script_pubkey)
            if owner is not None:
                outpoint = OutPoint(txid, vout)
                self._spendable[owner][outpoint] = Utxo(outpoint, txout.value_sat, txout.script_pubkey, None)
        self._pending.append(_Pending(tx, txid, fee_sat, weight))
        return tx

    @property
    def pending(self) -> tuple[Transaction, ...]:
        """Queued transactions, in the order the next blocks will hold them."""
        return tuple(p.tx for p in self._pending)

    @property
    def pending_fees_sat(self) -> int:
        return sum(p.fee_sat for p in self._pending)

    def discard_pending(self) -> None:
        """Forgets the queued transactions; their coins are spendable again."""
        self._pending.clear()
        self._reset_spendable()

    def _reset_spendable(self) -> None:
        for name, coins in self._books.wallet_coins.items():
            self._spendable[name] = dict(coins)

    # -- blocks ----------------------------------------------------------------------

    def mine(self, *, time: int | None = None, coinbase_script: bytes | None = None) -> Block:
        """Mines one block holding the queued transactions (as many as fit, oldest first).

        The coinbase pays subsidy + fees to `coinbase_script`, by default a fresh miner address.
        `time` defaults to the previous block's time + the block interval.
        """
        builder = self.builder
        height = self.height + 1
        block_time = self._block_time(time)
        taken, weight = 0, 0
        for pending in self._pending:
            if weight + pending.weight > _BLOCK_WEIGHT_FOR_TXS:
                break
            weight += pending.weight
            taken += 1
        batch = self._pending[:taken]
        if coinbase_script is None:
            coinbase_script = self.receive_script(self.MINER)
        block = builder.assemble(
            [p.tx for p in batch],
            coinbase_script=coinbase_script,
            fees_sat=sum(p.fee_sat for p in batch),
            time=block_time,
            prev_hash=self.tip_hash,
            height=height,
        )
        if self._fork is None:
            builder.submit(block)
        else:
            self._submit_branch_block(block, height)
        del self._pending[:taken]
        self._connect(block, height, [p.txid for p in batch])
        return block

    def mine_blocks(self, count: int, *, times: Sequence[int] | None = None) -> tuple[Block, ...]:
        """Mines `count` blocks (the first takes the queue), at `times` if given."""
        if times is not None and len(times) != count:
            raise BuilderError(f"{len(times)} times given for {count} blocks")
        return tuple(self.mine(time=None if times is None else times[i]) for i in range(count))

    def _connect(self, block: Block, height: int, txids: Sequence[bytes]) -> None:
        owner = self._owner.get
        credits: list[Utxo] = []
        debits: list[tuple[Utxo, bytes]] = []
        made: dict[OutPoint, Utxo] = {}
        coinbase = block.transactions[0]
        coinbase_txid = coinbase.txid
        for vout, txout in enumerate(coinbase.outputs):
            if txout.script_pubkey[:1] != b"\x6a":  # OP_RETURN outputs never enter the UTXO set
                credits.append(Utxo(OutPoint(coinbase_txid, vout), txout.value_sat, txout.script_pubkey, height, True))
        for tx, txid in zip(block.transactions[1:], txids):
            for txin in tx.inputs:
                coin = made.pop(txin.prevout, None) or self._books.coins[txin.prevout]
                debits.append((coin, txid))
            for vout, txout in enumerate(tx.outputs):
                if txout.script_pubkey[:1] != b"\x6a":
                    coin = Utxo(OutPoint(txid, vout), txout.value_sat, txout.script_pubkey, height)
                    credits.append(coin)
                    made[coin.outpoint] = coin
        changed = {owner(c.script_pubkey) for c in credits} | {owner(c.script_pubkey) for c, _ in debits}
        changed.discard(None)
        record = _BlockRecord(
            height, block.hash, block.header.time, tuple(credits), tuple(debits), tuple(sorted(changed))
        )
        self._books.apply(record, owner)
        self._chain.append(record)
        # Coins the queue already spends were taken out of `_spendable` when it was queued.
        spendable = self._spendable
        for coin in credits:
            name = owner(coin.script_pubkey)
            if name is not None and (coin.is_coinbase or coin.outpoint in spendable[name]):
                spendable[name][coin.outpoint] = coin  # now with its height

    # -- the books -------------------------------------------------------------------

    def history(self, script_pubkey: bytes) -> ScriptHistory:
        return self._books.history(script_pubkey)

    def scripts(self) -> tuple[bytes, ...]:
        """Every script that has been paid on the chain being built (OP_RETURN outputs aside)."""
        return self._books.scripts()

    def utxos(self, name: str | None = None) -> tuple[Utxo, ...]:
        """Confirmed unspent coins of wallet `name`, or of every script when `name` is None."""
        if name is not None:
            self.wallet(name)
        return self._books.utxos(name)

    def balance_sat(self, name: str, height: int | None = None) -> int:
        """What wallet `name` held after block `height` (default: the tip) of the chain being built."""
        self.wallet(name)
        return self._books.balance_sat(name, self.height if height is None else height)

    def wallet_scripts(self, name: str) -> tuple[bytes, ...]:
        return self.wallet(name).derived_script_pubkeys()

    # -- the data directory ----------------------------------------------------------

    def close(self) -> None:
        """Releases the data directory (the kernel needs it exclusively) and keeps the books."""
        if self._builder is not None:
            self._builder.close()
            self._builder = None

    def reopen(self) -> None:
        if self._builder is not None:
            return
        builder = RegtestBuilder(self.datadir, block_interval_s=self.block_interval_s)
        if self._fork is None and builder.tip.hash != self.tip_hash:
            builder.close()
            raise BuilderError(f"{self.datadir} changed while the simulation was closed: its tip is not ours")
        self._builder = builder

    @contextlib.contextmanager
    def released(self) -> Iterator[Path]:
        """Closes the builder for the block, so a reader can open the data directory, then reopens it."""
        self.close()
        try:
            yield self.datadir
        finally:
            self.reopen()

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
