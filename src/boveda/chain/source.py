"""The one small interface every chain source implements, and the values it yields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from boveda.bitcoin.block import Block
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import TxOut


@dataclass(frozen=True, slots=True)
class BlockRef:
    height: int
    hash: bytes  # internal byte order

    @property
    def hash_hex(self) -> str:
        return self.hash[::-1].hex()


@dataclass(frozen=True, slots=True)
class SpentBlock:
    """A block of the active chain with the output each of its inputs spends.

    `prevouts[i][j]` is the output spent by input j of transaction i + 1 (the coinbase
    spends nothing, so `prevouts` has one entry fewer than `block.transactions`).
    """

    height: int
    block: Block
    prevouts: tuple[tuple[TxOut, ...], ...]

    @property
    def hash(self) -> bytes:
        return self.block.hash


@dataclass(frozen=True, slots=True)
class RawBlock:
    """A block of the active chain as stored: its bytes and its undo record's bytes.

    `undo` is Bitcoin Core's CBlockUndo serialisation (empty for the genesis block).
    """

    height: int
    hash: bytes
    block: bytes
    undo: bytes


@runtime_checkable
class ChainSource(Protocol):
    """Read access to one network's active chain."""

    network: Network

    def tip(self) -> BlockRef:
        """The active chain's tip."""
        ...

    def hash_at(self, height: int) -> bytes:
        """The hash of the active chain's block at `height`; ChainError past the tip."""
        ...

    def blocks(self, start_height: int, stop_height: int) -> Iterator[SpentBlock]:
        """Blocks start_height..stop_height inclusive, in height order, with their prevouts."""
        ...

    def close(self) -> None: ...
