"""Grows a regtest chain in a Bitcoin-Core-style data directory through libbitcoinkernel.

Every block is handed to the kernel and the builder then checks that the kernel's active tip
*is* that block: `process_block` returning True does not mean it was connected
(docs/chain-notes.md, pitfall 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pbk

from boveda.bitcoin.block import WITNESS_COMMITMENT_PREFIX, Block, BlockHeader, merkle_root
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import COINBASE_VOUT, NULL_TXID, OutPoint, Transaction, TxIn, TxOut
from boveda.chain.kernel import DatadirLock, kernel_block, kernel_log, network_dir, open_chainman
from boveda.chain.source import BlockRef
from boveda.errors import BuilderError

REGTEST_BITS = 0x207FFFFF
REGTEST_HALVING_INTERVAL = 150
COINBASE_MATURITY = 100
COIN = 100_000_000
GENESIS_TIME = 1296688602
_WITNESS_RESERVED_VALUE = bytes(32)


def block_subsidy_sat(height: int) -> int:
    halvings = height // REGTEST_HALVING_INTERVAL
    return 0 if halvings >= 64 else (50 * COIN) >> halvings


def script_number_push(n: int) -> bytes:
    """The minimal push of a non-negative number, as CScript() << n writes it (BIP-34 heights)."""
    if n == 0:
        return b"\x00"
    if 1 <= n <= 16:
        return bytes((0x50 + n,))
    encoded = n.to_bytes((n.bit_length() + 8) // 8, "little")
    return bytes((len(encoded),)) + encoded


def make_coinbase(height: int, value_sat: int, script_pubkey: bytes, witness_commitment: bytes | None) -> Transaction:
    outputs = [TxOut(value_sat, script_pubkey)]
    witness: tuple[bytes, ...] = ()
    if witness_commitment is not None:
        outputs.append(TxOut(0, WITNESS_COMMITMENT_PREFIX + witness_commitment))
        witness = (_WITNESS_RESERVED_VALUE,)
    coinbase_in = TxIn(OutPoint(NULL_TXID, COINBASE_VOUT), script_number_push(height) + b"\x00", 0xFFFFFFFF, witness)
    return Transaction(2, (coinbase_in,), tuple(outputs), 0)


def solve(header: BlockHeader) -> BlockHeader:
    """Finds a nonce meeting the header's target (two tries on average at regtest difficulty)."""
    prefix = header.serialize()[:76]
    target = header.target
    for nonce in range(1 << 32):
        raw = prefix + nonce.to_bytes(4, "little")
        if int.from_bytes(sha256d(raw), "little") <= target:
            return BlockHeader.parse(raw)
    raise BuilderError("no nonce meets the target")


class RegtestBuilder:
    """Owns a regtest data directory (`datadir/regtest`) while it grows the chain."""

    def __init__(self, datadir: Path | str, *, block_interval_s: int = 600) -> None:
        self.datadir = Path(datadir)
        self.network = Network.REGTEST
        net_dir = network_dir(self.datadir, self.network)
        self._lock = DatadirLock(net_dir)
        try:
            self._chainman = open_chainman(net_dir, self.network)
        except BaseException:
            self._lock.release()
            raise
        self._chain = self._chainman.get_active_chain()
        self.block_interval_s = block_interval_s
        tip_entry = self._chain.block_tree_entries[self._chain.height]
        self._tip_time = tip_entry.block_header.timestamp.timestamp()

    @property
    def height(self) -> int:
        return self._chain.height

    @property
    def tip(self) -> BlockRef:
        height = self._chain.height
        return BlockRef(height, bytes(self._chain.block_tree_entries[height].block_hash))

    @property
    def tip_time(self) -> int:
        return int(self._tip_time)

    def assemble(
        self,
        txs: Sequence[Transaction] = (),
        *,
        coinbase_script: bytes,
        fees_sat: int = 0,
        time: int | None = None,
        prev_hash: bytes | None = None,
        height: int | None = None,
    ) -> Block:
        """A solved block on the tip (or on `prev_hash` at `height`, to build a competing branch).

        `fees_sat` is what `txs` pay; the coinbase claims subsidy + fees.
        """
        height = self.height + 1 if height is None else height
        prev_hash = self.tip.hash if prev_hash is None else prev_hash
        time = self.tip_time + self.block_interval_s if time is None else time
        commitment = None
        if any(tx.has_witness for tx in txs):
            wtxids = [bytes(32)] + [tx.wtxid for tx in txs]
            commitment = sha256d(merkle_root(wtxids) + _WITNESS_RESERVED_VALUE)
        coinbase = make_coinbase(height, block_subsidy_sat(height) + fees_sat, coinbase_script, commitment)
        transactions = (coinbase, *txs)
        header = BlockHeader(0x20000000, prev_hash, merkle_root([tx.txid for tx in transactions]), time, REGTEST_BITS, 0)
        return Block(solve(header), transactions)

    def submit(self, block: Block) -> None:
        """Hands `block` to the kernel; BuilderError unless it became the active tip."""
        self.submit_branch_block(block)
        if self.tip.hash != block.hash:
            raise BuilderError(
                f"the kernel did not connect block {block.hash_hex}: {kernel_log().last_error()}"
            )
        self._tip_time = max(self._tip_time, block.header.time)

    def submit_branch_block(self, block: Block) -> None:
        """Hands a block of a competing branch to the kernel, which may or may not make it the tip."""
        kernel_log().lines.clear()
        try:
            self._chainman.process_block(kernel_block(block.serialize()))
        except pbk.ProcessBlockException as exc:
            raise BuilderError(f"the kernel rejected block {block.hash_hex}: {kernel_log().last_error()}") from exc
        self._tip_time = max(self._tip_time, block.header.time)

    def mine(
        self, txs: Sequence[Transaction] = (), *, coinbase_script: bytes, fees_sat: int = 0, time: int | None = None
    ) -> Block:
        block = self.assemble(txs, coinbase_script=coinbase_script, fees_sat=fees_sat, time=time)
        self.submit(block)
        return block

    def close(self) -> None:
        self._chain = None
        self._chainman = None
        self._lock.release()

    def __enter__(self) -> RegtestBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
