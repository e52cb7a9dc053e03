"""Regtest chains for the block-file tests, grown through Bitcoin Core's engine.

Coins are paid to scripts anyone can spend (P2WSH(OP_TRUE), P2SH(OP_TRUE), bare OP_TRUE) or to
keys signed for here with legacy SIGHASH_ALL, so every compressed-script form of the undo
format appears in real, kernel-validated undo data.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import coincurve

from boveda.bitcoin.block import Block
from boveda.bitcoin.hashes import hash160, sha256d
from boveda.bitcoin.tx import OutPoint, Transaction, TxIn, TxOut
from boveda.chain.regtest.builder import RegtestBuilder

OP_TRUE = b"\x51"
P2WSH_TRUE = b"\x00\x20" + hashlib.sha256(OP_TRUE).digest()
P2SH_TRUE = b"\xa9\x14" + hash160(OP_TRUE) + b"\x87"
P2SH_TRUE_SCRIPT_SIG = b"\x01" + OP_TRUE  # pushes the redeem script OP_TRUE
SIGHASH_ALL = 1


def _key_with_parity(odd: bool) -> coincurve.PrivateKey:
    for n in range(1, 100):
        key = coincurve.PrivateKey(n.to_bytes(32, "big"))
        if key.public_key.format(compressed=False)[-1] & 1 == odd:
            return key
    raise AssertionError("unreachable")


EVEN_KEY = _key_with_parity(odd=False)
ODD_KEY = _key_with_parity(odd=True)


def p2pkh(pubkey: bytes) -> bytes:
    return b"\x76\xa9\x14" + hash160(pubkey) + b"\x88\xac"


def p2pk(pubkey: bytes) -> bytes:
    return bytes((len(pubkey),)) + pubkey + b"\xac"


def push(data: bytes) -> bytes:
    assert len(data) < 0x4C
    return bytes((len(data),)) + data


@dataclass(frozen=True, slots=True)
class Spendable:
    """An output and how to unlock it: a fixed scriptSig/witness, or a key to sign with."""

    outpoint: OutPoint
    output: TxOut
    script_sig: bytes = b""
    witness: tuple[bytes, ...] = ()
    key: coincurve.PrivateKey | None = None
    key_compressed: bool = True
    pay_to_pubkey_hash: bool = False


def legacy_sighash(tx: Transaction, input_index: int, script_code: bytes) -> bytes:
    inputs = tuple(
        TxIn(txin.prevout, script_code if i == input_index else b"", txin.sequence) for i, txin in enumerate(tx.inputs)
    )
    stripped = Transaction(tx.version, inputs, tx.outputs, tx.locktime)
    return sha256d(stripped.serialize(with_witness=False) + struct.pack("<I", SIGHASH_ALL))


def spend(coins: list[Spendable], outputs: list[TxOut]) -> Transaction:
    """A transaction spending `coins` to `outputs`, every input unlocked."""
    unsigned = Transaction(2, tuple(TxIn(c.outpoint) for c in coins), tuple(outputs))
    inputs = []
    for i, coin in enumerate(coins):
        script_sig = coin.script_sig
        if coin.key is not None:
            digest = legacy_sighash(unsigned, i, coin.output.script_pubkey)
            signature = coin.key.sign(digest, hasher=None) + bytes((SIGHASH_ALL,))
            script_sig = push(signature)
            if coin.pay_to_pubkey_hash:
                script_sig += push(coin.key.public_key.format(compressed=coin.key_compressed))
        inputs.append(TxIn(coin.outpoint, script_sig, 0xFFFFFFFF, coin.witness))
    return Transaction(2, tuple(inputs), tuple(outputs))


def coinbase_coin(block: Block) -> Spendable:
    coinbase = block.transactions[0]
    return Spendable(OutPoint(coinbase.txid, 0), coinbase.outputs[0], witness=(OP_TRUE,))


def every_script_kind() -> list[tuple[bytes, dict]]:
    """One output script per undo compression form, with what unlocks it."""
    kinds: list[tuple[bytes, dict]] = [
        (P2SH_TRUE, {"script_sig": P2SH_TRUE_SCRIPT_SIG}),
        (OP_TRUE, {}),
        (P2WSH_TRUE, {"witness": (OP_TRUE,)}),
    ]
    for key in (EVEN_KEY, ODD_KEY):
        for compressed in (True, False):
            pubkey = key.public_key.format(compressed=compressed)
            kinds.append((p2pk(pubkey), {"key": key, "key_compressed": compressed}))
            kinds.append((p2pkh(pubkey), {"key": key, "key_compressed": compressed, "pay_to_pubkey_hash": True}))
    return kinds


def fan_out(coin: Spendable, amounts_sat: list[int]) -> tuple[Transaction, list[Spendable]]:
    """Spends `coin` into one output of each script kind, returning the new coins."""
    kinds = every_script_kind()
    outputs = [TxOut(amount, script) for amount, (script, _) in zip(amounts_sat, kinds)]
    tx = spend([coin], outputs)
    coins = [
        Spendable(OutPoint(tx.txid, vout), output, **unlock)
        for vout, (output, (_, unlock)) in enumerate(zip(outputs, kinds))
    ]
    return tx, coins


@dataclass(frozen=True, slots=True)
class BuiltChain:
    datadir: Path
    blocks: tuple[Block, ...]  # the active chain from height 1
    stale: tuple[Block, ...] = ()  # blocks stored in the files but not active


def build_spending_chain(datadir: Path) -> BuiltChain:
    """~115 blocks: coinbases, then fan-outs to every script kind, spends of them, in-block spends."""
    blocks: list[Block] = []
    with RegtestBuilder(datadir) as builder:
        for _ in range(105):
            blocks.append(builder.mine(coinbase_script=P2WSH_TRUE))
        fan_amounts = [123_456_789, 100_000_000, 1, 2_000_000_000, 50_000, 777, 1_000, 10, 99_999_999, 1_200_000_000, 5]
        fee_sat = 0
        first_tx, first_coins = fan_out(coinbase_coin(blocks[0]), fan_amounts)
        fee_sat += blocks[0].transactions[0].outputs[0].value_sat - sum(fan_amounts[: len(first_coins)])
        # An in-block spend: the bare OP_TRUE output of first_tx, together with a mature coinbase.
        bare = next(c for c in first_coins if c.output.script_pubkey == OP_TRUE)
        second_in = [bare, coinbase_coin(blocks[1])]
        second_value = sum(c.output.value_sat for c in second_in) - 1_234
        second_tx = spend(second_in, [TxOut(second_value, P2SH_TRUE)])
        blocks.append(builder.mine([first_tx, second_tx], coinbase_script=P2WSH_TRUE, fees_sat=fee_sat + 1_234))

        rest = [c for c in first_coins if c is not bare]
        third_value = sum(c.output.value_sat for c in rest) - 10_000
        third_tx = spend(rest, [TxOut(third_value, P2WSH_TRUE)])
        more_tx, more_coins = fan_out(coinbase_coin(blocks[2]), [10**k + 3 for k in range(9)] + [7 * 10**8, 3 * 10**8])
        more_fee = blocks[2].transactions[0].outputs[0].value_sat - sum(c.output.value_sat for c in more_coins)
        blocks.append(builder.mine([third_tx, more_tx], coinbase_script=P2WSH_TRUE, fees_sat=10_000 + more_fee))

        last_value = sum(c.output.value_sat for c in more_coins) - 500
        last_tx = spend(more_coins, [TxOut(last_value, p2pkh(ODD_KEY.public_key.format()))])
        blocks.append(builder.mine([last_tx], coinbase_script=P2WSH_TRUE, fees_sat=500))
        for _ in range(3):
            blocks.append(builder.mine(coinbase_script=P2WSH_TRUE))
    return BuiltChain(datadir, tuple(blocks))


def _spend_coinbase(block: Block, to_script: bytes, fee_sat: int) -> Transaction:
    coin = coinbase_coin(block)
    return spend([coin], [TxOut(coin.output.value_sat - fee_sat, to_script)])


def build_reorg_chain(datadir: Path) -> BuiltChain:
    """A chain that reorganised: branch A (connected, then abandoned), the winning branch B,
    a shorter branch C never connected, and an over-paying block on B's tip the kernel stored
    but refused to connect."""
    with RegtestBuilder(datadir) as builder:
        trunk = [builder.mine(coinbase_script=P2WSH_TRUE) for _ in range(102)]
        fork = builder.tip

        branch_a = []
        for i in range(3):
            txs = [_spend_coinbase(trunk[i], P2SH_TRUE, 1_000)] if i == 1 else []
            branch_a.append(builder.mine(txs, coinbase_script=P2WSH_TRUE, fees_sat=1_000 * len(txs)))

        branch_b: list[Block] = []
        prev_hash, time = fork.hash, builder.tip_time + 1
        for i in range(5):
            txs = [_spend_coinbase(trunk[i - 1], OP_TRUE, 2_000)] if i in (1, 3) else []
            block = builder.assemble(
                txs, coinbase_script=P2SH_TRUE, fees_sat=2_000 * len(txs), prev_hash=prev_hash,
                height=fork.height + 1 + i, time=time + i,
            )
            builder.submit_branch_block(block)
            branch_b.append(block)
            prev_hash = block.hash
        assert builder.tip.hash == branch_b[-1].hash, "branch B should have become the active chain"

        branch_c = builder.assemble(
            [_spend_coinbase(trunk[2], OP_TRUE, 1)], coinbase_script=OP_TRUE, fees_sat=1,
            prev_hash=fork.hash, height=fork.height + 1,
        )
        builder.submit_branch_block(branch_c)
        over_paying = builder.assemble(coinbase_script=OP_TRUE, fees_sat=1)
        builder.submit_branch_block(over_paying)
        assert builder.tip.hash == branch_b[-1].hash
    return BuiltChain(datadir, tuple(trunk + branch_b), tuple(branch_a + [branch_c, over_paying]))


def xor_reference(data: bytes, xor_key: bytes, file_offset: int) -> bytes:
    """Byte-by-byte obfuscation, the slow obvious way, to check the fast one against."""
    return bytes(b ^ xor_key[(file_offset + i) % len(xor_key)] for i, b in enumerate(data))


def write_blocks_folder(
    blocks_dir: Path,
    magic: bytes,
    blk_files: list[list[bytes]],
    rev_files: list[list[tuple[bytes, bytes]]],
    *,
    xor_key: bytes,
    padding: int = 1000,
) -> None:
    """Writes blkNNNNN.dat / revNNNNN.dat as Core lays them out: framed records obfuscated by
    absolute offset, then pre-allocated zeros that are left unobfuscated."""
    blocks_dir.mkdir(parents=True, exist_ok=True)
    (blocks_dir / "index").mkdir(exist_ok=True)
    if xor_key != bytes(8):
        (blocks_dir / "xor.dat").write_bytes(xor_key)
    for number, blocks in enumerate(blk_files):
        framed = b"".join(magic + struct.pack("<I", len(b)) + b for b in blocks)
        (blocks_dir / f"blk{number:05d}.dat").write_bytes(xor_reference(framed, xor_key, 0) + bytes(padding))
    for number, records in enumerate(rev_files):
        framed = b"".join(magic + struct.pack("<I", len(u)) + u + checksum for u, checksum in records)
        (blocks_dir / f"rev{number:05d}.dat").write_bytes(xor_reference(framed, xor_key, 0) + bytes(padding))
