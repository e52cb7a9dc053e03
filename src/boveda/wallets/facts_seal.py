"""The seal of the chain facts: a digest per synced block, chained like the audit log, and one per
other chain-fact table.

The chain facts are outside the audit log (a cache of what the chain says), yet reconciliation and
proofs stand on them: deleting a spend from `txos` would hide an outflow. So every write of them
reseals what it changed, in the same transaction, and `audit verify` recomputes the seal from the
rows: an edit made behind Bóveda's back is found, named by its first block. One that was resealed
as well is found by `facts verify`, which compares the rows with a rescan of the chain.

Block h's digest covers what the chain said at h — its hash and time, the coins made at h, the coins
spent at h (outpoint and spending txid), the transactions at h — and is chained:
``chain_h = sha256(chain_before || facts_h)``. A spend belongs to its spending block, so no
sealed block changes when a later block spends one of its coins. Derived scripts are only ever
added: their digest is the sum of their rows' hashes mod 2**256, kept up to date as they are added.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boveda.wallets.tables import (
    chain_blocks,
    chain_facts_seals,
    chain_settings,
    chain_txs,
    txos,
    wallet_scripts,
    wallet_sync,
)

_TAG = b"boveda chain facts v1\0"
_NO_BLOCK = bytes(32)
_MOD = 1 << 256
_RANGE_BLOCKS = 5_000  # blocks read per query when a whole history is digested


class Part(StrEnum):
    """The sealed parts, one row each in chain_facts_seals."""

    BLOCKS = "blocks"  # height: the top synced block; digest: its chained digest
    SCRIPTS = "wallet_scripts"
    WALLET_SYNC = "wallet_sync"
    SETTINGS = "chain_settings"


@dataclass(frozen=True, slots=True)
class BlockFacts:
    """Everything the chain-fact tables say about one synced block, in a fixed order."""

    height: int
    block_hash: bytes
    time: int
    made: tuple[tuple, ...]  # (txid, vout, wallet, script_pubkey, value_sat)
    spent: tuple[tuple, ...]  # (txid, vout, spent_txid)
    txs: tuple[tuple, ...]  # (txid, tx_index, input_count, output_count, output_total_sat)

    def digest(self) -> bytes:
        h = hashlib.sha256(_TAG)
        h.update(_pack("block", self.height, self.block_hash, self.time))
        for tag, rows, fast in (("made", self.made, _made_bytes), ("spent", self.spent, _spent_bytes),
                                ("tx", self.txs, _tx_bytes)):
            for row in rows:
                try:
                    h.update(fast(row))
                except (struct.error, TypeError, ValueError, AttributeError):
                    h.update(b"\xff" + _pack(tag, *row))  # a hand-edited row of other types: tagged apart
        return h.digest()


# The rows' usual form, packed by struct (a third of the time of `_pack`): each with its own first byte,
# fixed-size fields checked, variable ones length-prefixed; anything else raises and goes to `_pack`.
_MADE = struct.Struct(">c32sIqHB")
_SPENT = struct.Struct(">c32sI32s")
_TX = struct.Struct(">c32sIIIq")


def _sized(value: bytes, size: int) -> bytes:
    if type(value) is not bytes or len(value) != size:
        raise ValueError("not the usual form")
    return value


def _made_bytes(row: tuple) -> bytes:
    txid, vout, wallet, script, value = row
    name = wallet.encode()
    if type(script) is not bytes or type(vout) is not int or type(value) is not int:
        raise ValueError("not the usual form")
    return _MADE.pack(b"M", _sized(txid, 32), vout, value, len(script), len(name)) + script + name


def _spent_bytes(row: tuple) -> bytes:
    txid, vout, spent_txid = row
    if type(vout) is not int:
        raise ValueError("not the usual form")
    return _SPENT.pack(b"S", _sized(txid, 32), vout, _sized(spent_txid, 32))


def _tx_bytes(row: tuple) -> bytes:
    txid, index, inputs, outputs, total = row
    if not all(type(v) is int for v in (index, inputs, outputs, total)):
        raise ValueError("not the usual form")
    return _TX.pack(b"T", _sized(txid, 32), index, inputs, outputs, total)


def _pack(*fields: object) -> bytes:
    """An unambiguous encoding of a row: each field typed and length-prefixed."""
    out = bytearray()
    for field in fields:
        if field is None:
            out += b"n"
        elif isinstance(field, int):
            out += b"i" + field.to_bytes(16, "big", signed=True)
        else:
            # A value of another type than the column's (SQLite stores what it is given) packs as itself.
            tag, data = ((b"b", bytes(field)) if isinstance(field, (bytes, bytearray, memoryview))
                         else (b"s", field.encode()) if isinstance(field, str) else (b"r", repr(field).encode()))
            out += tag + len(data).to_bytes(4, "big") + data
    return bytes(out)


def _blob(value: object) -> object:
    return bytes(value) if isinstance(value, memoryview) else value


def txid_text(value: object) -> str:
    """A stored txid or block hash as it is written (byte-reversed hex); an edited value of another type as is."""
    return _blob(value)[::-1].hex() if isinstance(value, (bytes, memoryview)) else repr(value)


def _sorted(rows: Iterable[tuple]) -> tuple[tuple, ...]:
    try:
        return tuple(sorted(rows))
    except TypeError:  # a hand-edited row mixing types: still one fixed order
        return tuple(sorted(rows, key=repr))


def chain_step(before: bytes, facts_digest: bytes) -> bytes:
    return hashlib.sha256(before + facts_digest).digest()


# -- reading the facts block by block --------------------------------------------------------


def iter_block_facts(conn: Connection, low: int = 0) -> Iterator[BlockFacts]:
    """The stored facts of every synced block from `low` up, in height order (a range at a time)."""
    while True:
        heights = list(conn.execute(sa.select(chain_blocks.c.height).where(chain_blocks.c.height >= low)
                                    .order_by(chain_blocks.c.height).limit(_RANGE_BLOCKS)).scalars())
        if not heights:
            return
        yield from block_facts_between(conn, heights[0], heights[-1]).values()
        low = heights[-1] + 1


def block_facts_between(conn: Connection, low: int, high: int) -> dict[int, BlockFacts]:
    """The stored facts of the synced blocks low..high, by height."""
    made: dict[int, list] = {}
    for txid, vout, wallet, script, value, height in conn.execute(
            sa.select(txos.c.txid, txos.c.vout, txos.c.wallet, txos.c.script_pubkey, txos.c.value_sat, txos.c.height)
            .where(txos.c.height.between(low, high))):
        made.setdefault(height, []).append((_blob(txid), vout, wallet, _blob(script), value))
    spent: dict[int, list] = {}
    for txid, vout, spent_txid, height in conn.execute(
            sa.select(txos.c.txid, txos.c.vout, txos.c.spent_txid, txos.c.spent_height)
            .where(txos.c.spent_height.between(low, high))):
        spent.setdefault(height, []).append((_blob(txid), vout, None if spent_txid is None else _blob(spent_txid)))
    txs: dict[int, list] = {}
    for txid, height, index, inputs, outputs, total in conn.execute(
            sa.select(chain_txs.c.txid, chain_txs.c.height, chain_txs.c.tx_index, chain_txs.c.input_count,
                      chain_txs.c.output_count, chain_txs.c.output_total_sat).where(chain_txs.c.height.between(low, high))):
        txs.setdefault(height, []).append((_blob(txid), index, inputs, outputs, total))
    return {height: BlockFacts(height, _blob(block_hash), time, _sorted(made.get(height, ())),
                               _sorted(spent.get(height, ())), _sorted(txs.get(height, ())))
            for height, block_hash, time in conn.execute(
                sa.select(chain_blocks.c.height, chain_blocks.c.hash, chain_blocks.c.time)
                .where(chain_blocks.c.height.between(low, high)).order_by(chain_blocks.c.height))}


def script_rows(conn: Connection) -> Iterable[tuple]:
    """Every derived script as (wallet, branch, index, script_pubkey)."""
    return ((w, b, i, _blob(s)) for w, b, i, s in conn.execute(
        sa.select(wallet_scripts.c.wallet, wallet_scripts.c.branch, wallet_scripts.c.idx,
                  wallet_scripts.c.script_pubkey)))


def wallet_sync_rows(conn: Connection) -> list[tuple]:
    return list(_sorted(tuple(r) for r in conn.execute(
        sa.select(wallet_sync.c.wallet, wallet_sync.c.gap_limit, wallet_sync.c.synced_height))))


def settings_rows(conn: Connection) -> list[tuple]:
    return list(_sorted(tuple(r) for r in conn.execute(sa.select(chain_settings.c.key, chain_settings.c.value))))


# -- the digests of the other tables ---------------------------------------------------------


def scripts_sum(rows: Iterable[tuple], start: int = 0) -> int:
    total = start
    for row in rows:
        total = (total + int.from_bytes(hashlib.sha256(_TAG + _pack("script", *row)).digest(), "big")) % _MOD
    return total


def _table_digest(part: Part, rows: Iterable[tuple]) -> bytes:
    h = hashlib.sha256(_TAG + part.value.encode())
    for row in rows:
        h.update(_pack(*row))
    return h.digest()


def wallet_sync_digest(conn: Connection) -> bytes:
    return _table_digest(Part.WALLET_SYNC, wallet_sync_rows(conn))


def settings_digest(conn: Connection) -> bytes:
    return _table_digest(Part.SETTINGS, settings_rows(conn))


# -- resealing after a write -----------------------------------------------------------------


def stored_seals(conn: Connection) -> dict[str, tuple[int | None, bytes]]:
    return {part: (height, _blob(digest)) for part, height, digest in conn.execute(
        sa.select(chain_facts_seals.c.part, chain_facts_seals.c.height, chain_facts_seals.c.digest))}


def _put(conn: Connection, part: Part, digest: bytes, height: int | None = None) -> None:
    done = conn.execute(chain_facts_seals.update().where(chain_facts_seals.c.part == part.value)
                        .values(digest=digest, height=height)).rowcount
    if not done:
        conn.execute(chain_facts_seals.insert().values(part=part.value, digest=digest, height=height))


def seal_blocks(conn: Connection, low: int) -> None:
    """Reseals the blocks from `low` up (their rows were written or dropped) and the top block's seal."""
    before = conn.execute(sa.select(chain_blocks.c.facts_chain).where(chain_blocks.c.height < low)
                          .order_by(chain_blocks.c.height.desc()).limit(1)).scalar()
    before = _blob(before)
    chained = before if isinstance(before, bytes) else _NO_BLOCK  # an edited, untyped value: audit verify names it
    updates = []
    top = conn.execute(sa.select(sa.func.max(chain_blocks.c.height))).scalar()
    # A follower's block: the few blocks above `low` in one read (iter_block_facts pages long ranges).
    blocks = (() if top is None or top < low else block_facts_between(conn, low, top).values()
              if top - low < _RANGE_BLOCKS else iter_block_facts(conn, low))
    for block in blocks:
        digest = block.digest()
        chained = chain_step(chained, digest)
        updates.append({"h": block.height, "d": digest, "c": chained})
    if updates:
        conn.execute(chain_blocks.update().where(chain_blocks.c.height == sa.bindparam("h"))
                     .values(facts_hash=sa.bindparam("d"), facts_chain=sa.bindparam("c")), updates)
    _put(conn, Part.BLOCKS, chained, top)


def seal_scripts(conn: Connection, added: Iterable[tuple] | None = None) -> None:
    """Adds the newly stored scripts (wallet, branch, index, script) to their seal; None: reseal them all."""
    stored = stored_seals(conn).get(Part.SCRIPTS)
    if added is None or stored is None:
        total = scripts_sum(script_rows(conn))
    else:
        total = scripts_sum(added, int.from_bytes(stored[1], "big") if isinstance(stored[1], bytes) else 0)
    _put(conn, Part.SCRIPTS, total.to_bytes(32, "big"))


def seal_wallet_sync(conn: Connection) -> None:
    _put(conn, Part.WALLET_SYNC, wallet_sync_digest(conn))


def seal_settings(conn: Connection) -> None:
    _put(conn, Part.SETTINGS, settings_digest(conn))


def seal_everything(conn: Connection) -> None:
    """Seals every stored fact from scratch (a book migrated from before the seal, or repaired)."""
    seal_blocks(conn, 0)
    seal_scripts(conn)
    seal_wallet_sync(conn)
    seal_settings(conn)


# -- checking the seal (audit verify) --------------------------------------------------------

_HINT = "run boveda facts verify to compare the stored facts with the chain, and boveda facts repair to rebuild them"


def seal_problems(conn: Connection) -> list[str]:
    """What no longer matches the seal, each naming where: the stored rows recomputed, never trusted."""
    seals = stored_seals(conn)
    problems = _block_problems(conn, seals.get(Part.BLOCKS))
    stray = _rows_off_the_blocks(conn)
    if stray:
        problems.append(f"chain facts: {stray} is at a height that is not a synced block: {_HINT}")
    expected = {
        Part.SCRIPTS: scripts_sum(script_rows(conn)).to_bytes(32, "big"),
        Part.WALLET_SYNC: wallet_sync_digest(conn),
        Part.SETTINGS: settings_digest(conn),
    }
    for part, digest in expected.items():
        stored = seals.get(part)
        if stored is None:
            problems.append(f"chain facts: the table {part.value} has no seal: {_HINT}")
        elif stored[1] != digest:
            problems.append(f"chain facts: the table {part.value} differs from its seal (a row was changed, added or "
                            f"removed outside Bóveda): {_HINT}")
    return problems


def _block_problems(conn: Connection, top_seal: tuple[int | None, bytes] | None) -> list[str]:
    chained = _NO_BLOCK
    top = None
    sealed = {height: (d, c) for height, d, c in conn.execute(
        sa.select(chain_blocks.c.height, chain_blocks.c.facts_hash, chain_blocks.c.facts_chain))}
    for block in iter_block_facts(conn):
        stored_hash, stored_chain = sealed[block.height]
        digest = block.digest()
        chained = chain_step(chained, digest)
        if stored_hash is None or stored_chain is None:
            return [f"chain facts of block {block.height} ({txid_text(block.block_hash)}) carry no seal: {_HINT}"]
        if _blob(stored_hash) != digest or _blob(stored_chain) != chained:
            return [(f"chain facts of block {block.height} ({txid_text(block.block_hash)}) differ from their seal "
                     f"(its row in chain_blocks, or a row of txos or chain_txs made or spent in it, was changed, added "
                     f"or removed outside Bóveda, or a block below it was removed): {_HINT}")]
        top = block.height
    if top_seal is None:
        return [f"chain facts: the synced blocks have no seal: {_HINT}"]
    if top_seal != (top, chained):
        was = "no block" if top_seal[0] is None else f"block {top_seal[0]}"
        now = "no block" if top is None else f"block {top}"
        return [(f"chain facts: the synced blocks were sealed up to {was} but now end at {now} (blocks were removed "
                 f"or rewritten outside Bóveda): {_HINT}")]
    return []


def _rows_off_the_blocks(conn: Connection) -> str | None:
    """A coin, spend or transaction at a height with no synced block (one the block digests cannot cover)."""
    synced = sa.select(chain_blocks.c.height)
    checks = (
        ("txos", sa.select(txos.c.txid, txos.c.vout, txos.c.height).where(txos.c.height.not_in(synced))),
        ("txos spend", sa.select(txos.c.txid, txos.c.vout, txos.c.spent_height)
         .where(txos.c.spent_height.is_not(None), txos.c.spent_height.not_in(synced))),
        ("chain_txs", sa.select(chain_txs.c.txid, sa.null(), chain_txs.c.height).where(chain_txs.c.height.not_in(synced))),
    )
    for what, query in checks:
        row = conn.execute(query.limit(1)).first()
        if row is not None:
            where = txid_text(row[0]) + ("" if row[1] is None else f":{row[1]}")
            return f"the {what} row {where} (height {row[2]})"
    return None
