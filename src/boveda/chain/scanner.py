"""Finds the credits and debits of a watch set of scripts in a range of blocks.

Two walks give the same answer. The raw walk reads a block's bytes as stored and parses
only offsets, hashing a transaction only when it touches the watch set; it tracks the
watched outpoints so it needs no undo data. The spent-block walk reads parsed blocks
with their prevouts (any ChainSource). Both stream: memory follows the number of watched
unspent outputs, never the length of the chain.

The raw walk has two implementations with one contract: the compiled one (`_walk.c`, built at
install where a C compiler is found) and the pure-Python one here, which is the reference and the
fallback. `BOVEDA_PURE_PYTHON=1` forces the pure one.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass

from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.tx import OutPoint, Transaction
from boveda.chain.source import ChainSource, SpentBlock
from boveda.errors import ChainError, CodecError

try:  # built by setup.py where a C compiler was found at install
    from boveda.chain import _walk as _compiled
except ImportError:
    _compiled = None


@dataclass(frozen=True, slots=True)
class Credit:
    """An output paying a watched script."""

    txid: bytes
    vout: int
    value_sat: int
    script_pubkey: bytes
    height: int

    @property
    def outpoint(self) -> OutPoint:
        return OutPoint(self.txid, self.vout)

    @property
    def key(self) -> tuple[str, bytes, int]:
        """What makes this event itself: found twice, it is one event."""
        return ("credit", self.txid, self.vout)

    @property
    def in_txid(self) -> bytes:
        """The transaction the event happened in."""
        return self.txid


@dataclass(frozen=True, slots=True)
class Debit:
    """An input spending an output of a watched script."""

    outpoint: OutPoint
    value_sat: int
    script_pubkey: bytes
    spending_txid: bytes
    height: int

    @property
    def key(self) -> tuple[str, bytes, int]:
        return ("debit", self.outpoint.txid, self.outpoint.vout)

    @property
    def in_txid(self) -> bytes:
        return self.spending_txid


@dataclass(frozen=True, slots=True)
class TxFacts:
    """A transaction that touched the watch set, as a whole: what classifying it needs.

    Yielded after that transaction's credits and debits when the scanner is asked for them.
    """

    txid: bytes
    height: int
    tx_index: int  # position in its block
    input_count: int
    output_count: int
    output_total_sat: int


ScanEvent = Credit | Debit | TxFacts


@dataclass(frozen=True, slots=True)
class ScannedBlock:
    """A block the scanner has finished: where it is, and when it was mined."""

    height: int
    hash: bytes
    time: int  # the header's UNIX time
    size_bytes: int  # 0 when the source gave no stored bytes


class Walk(enum.Enum):
    """Which implementation of the raw walk a Scanner runs; both yield the same events."""

    COMPILED = "compiled"  # boveda.chain._walk
    PURE = "pure"  # _pure_walk below


def default_walk() -> Walk:
    """The compiled walk where it was built, unless the environment sets BOVEDA_PURE_PYTHON=1."""
    if _compiled is None or os.environ.get("BOVEDA_PURE_PYTHON") == "1":
        return Walk.PURE
    return Walk.COMPILED


class Scanner:
    """Holds the watch set and the watched unspent outputs between blocks.

    `unspent` seeds the outputs of watched scripts created before the first block scanned
    (an incremental scan passes what the previous scan left unspent). `walk` picks the raw
    walk's implementation (default: `default_walk()`).
    """

    def __init__(
        self,
        watch_scripts: Iterable[bytes],
        unspent: Iterable[Credit] = (),
        *,
        with_tx_facts: bool = False,
        walk: Walk | None = None,
    ) -> None:
        self._watch = set(watch_scripts)
        self._with_tx_facts = with_tx_facts
        self.walk = walk or default_walk()
        seed = {c.outpoint.serialize(): c for c in unspent}
        self._walker = None
        # The watched unspent outputs by 36-byte outpoint: a dict for the pure walk; the compiled
        # walker is itself such a mapping, holding the outpoints in C.
        self._unspent: MutableMapping[bytes, Credit] = seed
        if self.walk is Walk.COMPILED:
            if _compiled is None:
                raise ChainError("the compiled scan walk was not built at install (no C compiler): use Walk.PURE")
            self._walker = _compiled.Walker(
                self._watch, with_tx_facts=with_tx_facts,
                credit=Credit, debit=Debit, facts=TxFacts, outpoint=OutPoint, codec_error=CodecError,
            )
            for key, credit in seed.items():
                self._walker[key] = credit
            self._unspent = self._walker

    @property
    def watch(self) -> frozenset[bytes]:
        """The watched scripts (a copy: add through `watch_more`)."""
        return frozenset(self._watch)

    @property
    def with_tx_facts(self) -> bool:
        return self._with_tx_facts

    def watch_more(self, scripts: Iterable[bytes]) -> None:
        """Adds scripts from the next block on (a wallet's gap limit moved)."""
        if self._walker is not None:
            self._walker.add_scripts(tuple(scripts))  # into the set it shares with this scanner, indexed as added
        else:
            self._watch.update(scripts)

    def scan(
        self,
        source: ChainSource,
        start_height: int,
        stop_height: int,
        on_block: Callable[[ScannedBlock], None] | None = None,
    ) -> Iterator[ScanEvent]:
        """This scanner's events in blocks start..stop, by the fastest walk `source` allows.

        `on_block` is told of each block after its events, for progress and block metadata.
        """
        raw_blocks = getattr(source, "raw_blocks", None)
        if raw_blocks is not None:
            for raw in raw_blocks(start_height, stop_height, with_undo=False):
                yield from self.scan_raw_block(raw.height, raw.block)
                if on_block:
                    time = int.from_bytes(raw.block[68:72], "little")
                    on_block(ScannedBlock(raw.height, raw.hash, time, len(raw.block)))
        else:
            for spent_block in source.blocks(start_height, stop_height):
                yield from self.scan_spent_block(spent_block)
                if on_block:
                    header = spent_block.block.header
                    on_block(ScannedBlock(spent_block.height, spent_block.hash, header.time, 0))

    @property
    def unspent(self) -> tuple[Credit, ...]:
        """The watched outputs not spent in the blocks scanned so far: the seed of the next scan."""
        return tuple(self._unspent.values())

    def scan_spent_block(self, spent_block: SpentBlock) -> list[ScanEvent]:
        watch, unspent, height = self._watch, self._unspent, spent_block.height
        events: list[ScanEvent] = []
        transactions = spent_block.block.transactions
        for tx_index, tx in enumerate(transactions):
            txid = None
            first_event = len(events)
            if tx_index:
                for txin, prevout in zip(tx.inputs, spent_block.prevouts[tx_index - 1]):
                    if prevout.script_pubkey in watch:
                        txid = txid or tx.txid
                        unspent.pop(txin.prevout.serialize(), None)
                        events.append(Debit(txin.prevout, prevout.value_sat, prevout.script_pubkey, txid, height))
            for vout, txout in enumerate(tx.outputs):
                if txout.script_pubkey in watch:
                    txid = txid or tx.txid
                    credit = Credit(txid, vout, txout.value_sat, txout.script_pubkey, height)
                    unspent[credit.outpoint.serialize()] = credit
                    events.append(credit)
            if self._with_tx_facts and len(events) > first_event:
                events.append(_facts(tx, txid, height, tx_index))
        return events

    def scan_raw_block(self, height: int, data: bytes) -> list[ScanEvent]:
        """The raw walk over one block's serialisation (header, CompactSize count, transactions).

        A block that runs past its end or has bytes after its transactions raises CodecError,
        and the scanner's unspent outputs are left as they were before it.
        """
        if self._walker is not None:
            return self._walker.walk(height, data)
        journal: list[tuple[bytes, Credit | None]] = []
        try:
            events, end = _pure_walk(data, height, self._watch, self._unspent, self._with_tx_facts, journal)
            if end > len(data):
                raise IndexError
        except IndexError:
            _undo(self._unspent, journal)
            raise CodecError(f"block at height {height} is truncated") from None
        if end != len(data):
            _undo(self._unspent, journal)
            raise CodecError(f"block at height {height} has {len(data) - end} bytes after its transactions")
        return events


def _pure_walk(
    data: bytes,
    height: int,
    watch: set[bytes],
    unspent: MutableMapping[bytes, Credit],  # a dict, for speed
    with_tx_facts: bool,
    journal: list[tuple[bytes, Credit | None]],
) -> tuple[list[ScanEvent], int]:
    """(events, the offset where the walk ended): the reference the compiled walk is tested against.

    The hot loop of every scan without a C compiler: offsets only, everything inlined, a
    transaction hashed only when it touches the watch set. CompactSizes >= 0xFD are rare and go
    the slow way. Reads past the end raise IndexError, or leave the end offset past len(data).
    Every change to `unspent` goes to `journal` (key, what it held before) so that a block that
    does not decode can be undone.
    """
    events: list[ScanEvent] = []
    pos = 80
    tx_count, pos = _compact_size(data, pos)
    for tx_index in range(tx_count):
        tx_start = pos
        pos += 4
        segwit = data[pos] == 0
        if segwit:
            pos += 2
        body_start = pos
        input_count = data[pos]
        if input_count < 0xFD:
            pos += 1
        else:
            input_count, pos = _compact_size(data, pos)
        spent_here = None
        if unspent:
            for _ in range(input_count):
                key = data[pos : pos + 36]
                if key in unspent:
                    if spent_here is None:
                        spent_here = []
                    credit = unspent.pop(key)
                    journal.append((key, credit))
                    spent_here.append(credit)
                length = data[pos + 36]
                if length < 0xFD:
                    pos += 41 + length
                else:
                    length, pos = _compact_size(data, pos + 36)
                    pos += length + 4
        else:
            for _ in range(input_count):
                length = data[pos + 36]
                if length < 0xFD:
                    pos += 41 + length
                else:
                    length, pos = _compact_size(data, pos + 36)
                    pos += length + 4
        outputs_start = pos
        output_count = data[pos]
        if output_count < 0xFD:
            pos += 1
        else:
            output_count, pos = _compact_size(data, pos)
        paid_here = None
        for vout in range(output_count):
            length = data[pos + 8]
            if length < 0xFD:
                script_start = pos + 9
            else:
                length, script_start = _compact_size(data, pos + 8)
            script_end = script_start + length
            if data[script_start:script_end] in watch:
                if paid_here is None:
                    paid_here = []
                paid_here.append((vout, int.from_bytes(data[pos : pos + 8], "little"), data[script_start:script_end]))
            pos = script_end
        body_end = pos
        if segwit:
            for _ in range(input_count):
                item_count = data[pos]
                pos += 1
                if item_count >= 0xFD:
                    item_count, pos = _compact_size(data, pos - 1)
                for _ in range(item_count):
                    length = data[pos]
                    if length < 0xFD:
                        pos += 1 + length
                    else:
                        length, pos = _compact_size(data, pos)
                        pos += length
        pos += 4
        if spent_here is None and paid_here is None:
            continue
        if segwit:
            txid = sha256d(data[tx_start : tx_start + 4] + data[body_start:body_end] + data[pos - 4 : pos])
        else:
            txid = sha256d(data[tx_start:pos])
        for credit in spent_here or ():
            events.append(Debit(credit.outpoint, credit.value_sat, credit.script_pubkey, txid, height))
        for vout, value_sat, script in paid_here or ():
            credit = Credit(txid, vout, value_sat, script, height)
            key = txid + vout.to_bytes(4, "little")
            journal.append((key, unspent.get(key)))
            unspent[key] = credit
            events.append(credit)
        if with_tx_facts:
            total_sat = _output_total_sat(data, outputs_start)
            events.append(TxFacts(txid, height, tx_index, input_count, output_count, total_sat))
    return events, pos


def _output_total_sat(data: bytes, pos: int) -> int:
    """The sum of the output values of the transaction whose output count is at `pos`."""
    output_count, pos = _compact_size(data, pos)
    total_sat = 0
    for _ in range(output_count):
        total_sat += int.from_bytes(data[pos : pos + 8], "little")
        length, pos = _compact_size(data, pos + 8)
        pos += length
    return total_sat


def _undo(unspent: MutableMapping[bytes, Credit], journal: list[tuple[bytes, Credit | None]]) -> None:
    for key, before in reversed(journal):
        if before is None:
            unspent.pop(key, None)
        else:
            unspent[key] = before


def _facts(tx: Transaction, txid: bytes, height: int, tx_index: int) -> TxFacts:
    return TxFacts(txid, height, tx_index, len(tx.inputs), len(tx.outputs), sum(o.value_sat for o in tx.outputs))


def _compact_size(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFD:
        return first, pos + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
    return int.from_bytes(data[pos + 1 : pos + 1 + width], "little"), pos + 1 + width


def scan(
    source: ChainSource,
    watch_scripts: Iterable[bytes],
    start_height: int,
    stop_height: int,
    *,
    unspent: Iterable[Credit] = (),
    on_block: Callable[[ScannedBlock], None] | None = None,
) -> Iterator[ScanEvent]:
    """Credits and debits of `watch_scripts` in blocks start..stop (inclusive), in chain order.

    Uses the raw walk when the source can give stored bytes (`raw_blocks`), else parsed blocks.
    """
    return Scanner(watch_scripts, unspent).scan(source, start_height, stop_height, on_block)
