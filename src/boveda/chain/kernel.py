"""A Bitcoin Core data directory read through Bitcoin Core's own engine (py-bitcoinkernel).

The kernel is the authority on which block is at which height. It needs exclusive use of
the data directory (docs/chain-notes.md, pitfall 2), so we take Bitcoin Core's own `.lock` first and
refuse with a clear message when a running node holds it.
"""

from __future__ import annotations

import collections
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pbk
import pbk.capi.bindings as kernel_c

from boveda.bitcoin.block import Block
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import TxOut
from boveda.chain.source import BlockRef, SpentBlock
from boveda.errors import ChainError

_CHAIN_TYPES = {
    Network.MAIN: pbk.ChainType.MAINNET,
    Network.TESTNET4: pbk.ChainType.TESTNET_4,
    Network.SIGNET: pbk.ChainType.SIGNET,
    Network.REGTEST: pbk.ChainType.REGTEST,
}


class _KernelLog:
    """Keeps the kernel's recent log lines: its only way of saying why something failed."""

    def __init__(self) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=50)
        pbk.logging_set_options(pbk.LoggingOptions(log_timestamps=False))
        self._connection = pbk.LoggingConnection(self._keep)

    def _keep(self, message: str) -> None:
        self.lines.append(message)

    def last_error(self) -> str:
        """The most telling recent line: a validation error first, then any error."""
        for marker in ("validation error:", "[error]", "error", "invalid"):
            for line in reversed(self.lines):
                if marker in line.lower():
                    return line.split(marker, 1)[-1].strip() if marker.endswith(":") else line.strip()
        return self.lines[-1].strip() if self.lines else "no reason given by the kernel"


_log: _KernelLog | None = None


def kernel_log() -> _KernelLog:
    global _log
    if _log is None:
        _log = _KernelLog()
    return _log


def kernel_block(raw: bytes) -> pbk.Block:
    """A kernel block from its serialisation, copied in one step.

    `pbk.Block(raw)` copies byte by byte through a ctypes array (docs/chain-notes.md, pitfall 4:
    28 ms for 113 KB); the C function takes any buffer.
    """
    handle = kernel_c.btck_block_create(raw, len(raw))
    if not handle:
        raise ChainError("Bitcoin Core's engine could not parse a block")
    return pbk.Block._from_handle(handle)


def network_dir(datadir: Path, network: Network) -> Path:
    """Where Bitcoin Core keeps `network`'s data under `datadir` (~/.bitcoin/regtest, ...)."""
    return datadir / network.datadir_subfolder if network.datadir_subfolder else datadir


def _networks_present(datadir: Path) -> list[str]:
    return [n.value for n in Network if (network_dir(datadir, n) / "blocks" / "index").is_dir()]


def check_datadir(datadir: Path, network: Network) -> Path:
    """The network's folder under `datadir`, or ChainError saying what is wrong with it."""
    if not datadir.is_dir():
        raise ChainError(f"no data directory at {datadir}: pass --datadir the folder bitcoind uses (e.g. ~/.bitcoin)")
    net_dir = network_dir(datadir, network)
    if not (net_dir / "blocks" / "index").is_dir():
        present = _networks_present(datadir)
        hint = f"it holds {', '.join(present)} data; pass --network accordingly" if present else (
            "it holds no Bitcoin Core block data"
        )
        raise ChainError(f"no {network.value} block data under {datadir} ({hint})")
    return net_dir


class DatadirLock:
    """Bitcoin Core's own lock on a network folder (`.lock`), so node and Bóveda never share it.

    The lock is a POSIX record lock like bitcoind's; those do not conflict within one process,
    so folders this process holds are also kept in a set.
    """

    _held: set[Path] = set()

    def __init__(self, net_dir: Path) -> None:
        net_dir.mkdir(parents=True, exist_ok=True)
        self._net_dir = net_dir.resolve()
        in_use = ChainError(
            f"{net_dir} is in use by a running bitcoind or another Bóveda process: "
            "stop the node, or point --datadir at a copy of its data directory"
        )
        if self._net_dir in self._held:
            self._fd = -1
            raise in_use
        try:
            self._fd = os.open(self._net_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._fd = -1
            raise ChainError(
                f"cannot take the lock in {net_dir}: {exc.strerror or exc}. Bitcoin Core's engine writes to the "
                "data directory it reads (its lock, its indexes): point --datadir at a writable copy, or read a "
                "running node with --rpc"
            ) from None
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = -1
            raise in_use from None
        self._held.add(self._net_dir)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._held.discard(self._net_dir)


def open_chainman(net_dir: Path, network: Network) -> pbk.ChainstateManager:
    """Opens (or, for an empty folder, creates) the kernel's chainstate in `net_dir`."""
    log = kernel_log()
    context = pbk.make_context(_CHAIN_TYPES[network])
    options = pbk.ChainstateManagerOptions(context, str(net_dir.absolute()), str((net_dir / "blocks").absolute()))
    try:
        return pbk.ChainstateManager(options)
    except RuntimeError:
        raise ChainError(
            f"Bitcoin Core's engine could not open {net_dir}: {log.last_error()} "
            "(if a node uses this folder, stop it or point --datadir at a copy)"
        ) from None


class KernelSource:
    """The active chain of a Bitcoin Core data directory, read through libbitcoinkernel."""

    def __init__(self, datadir: Path | str, network: Network) -> None:
        self.network = network
        self.datadir = Path(datadir).expanduser()
        net_dir = check_datadir(self.datadir, network)
        self._lock = DatadirLock(net_dir)
        try:
            # The manager must outlive every block-tree entry read from it (docs/chain-notes.md, pitfall 3).
            self._chainman = open_chainman(net_dir, network)
        except BaseException:
            self._lock.release()
            raise
        self._chain = self._chainman.get_active_chain()
        if self._chain.height < 0:
            self.close()
            raise ChainError(f"{net_dir} holds no {network.value} chain")

    def _entry(self, height: int) -> pbk.BlockTreeEntry:
        tip_height = self._chain.height
        if not 0 <= height <= tip_height:
            raise ChainError(f"height {height} is outside the active chain (0..{tip_height})")
        return self._chain.block_tree_entries[height]

    def tip(self) -> BlockRef:
        height = self._chain.height
        return BlockRef(height, bytes(self._entry(height).block_hash))

    def hash_at(self, height: int) -> bytes:
        return bytes(self._entry(height).block_hash)

    def contains(self, block_hash: bytes) -> bool:
        """Whether `block_hash` is a block of the active chain (not stale, not unknown)."""
        entries = self._chainman.block_tree_entries
        key = pbk.BlockHash(block_hash)
        return key in entries and entries[key] in self._chain.block_tree_entries

    def read_block(self, height: int) -> pbk.Block:
        return self._chainman.blocks[self._entry(height)]

    def read_spent_outputs(self, height: int) -> pbk.BlockSpentOutputs | None:
        if height == 0:
            return None
        return self._chainman.block_spent_outputs[self._entry(height)]

    def blocks(self, start_height: int, stop_height: int) -> Iterator[SpentBlock]:
        for height in range(start_height, stop_height + 1):
            entry = self._entry(height)
            block = Block.parse(bytes(self._chainman.blocks[entry]))
            prevouts: tuple[tuple[TxOut, ...], ...] = ()
            if height > 0:
                spent = self._chainman.block_spent_outputs[entry]
                prevouts = tuple(
                    tuple(TxOut(coin.output.amount, bytes(coin.output.script_pubkey)) for coin in tx_spent.coins)
                    for tx_spent in spent.transactions
                )
            yield SpentBlock(height, block, prevouts)

    def close(self) -> None:
        self._chain = None
        self._chainman = None
        self._lock.release()

    def __enter__(self) -> KernelSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
