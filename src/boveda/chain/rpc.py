"""A running Bitcoin Core as a ChainSource: blocks from REST `/rest/block` (or `getblock 0`), every input's
prevout from REST `/rest/spenttxouts` (or `getblock 3`), fetched a window ahead on a few threads.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from boveda.bitcoin.block import BLOCK_HEADER_SIZE, Block, BlockHeader
from boveda.bitcoin.codec import Reader, encode_compact_size
from boveda.bitcoin.hashes import sha256d
from boveda.bitcoin.network import Network
from boveda.bitcoin.tx import Transaction, TxOut
from boveda.chain.rpc_client import (
    RPC_INVALID_PARAMETER,
    RpcClient,
    RpcEndpoint,
    RpcError,
    endpoint_from_cookie,
    endpoint_from_url,
    sat_from_btc,
)
from boveda.chain.source import BlockRef, ChainSource, RawBlock, SpentBlock
from boveda.errors import ChainError, CodecError

_T = TypeVar("_T")


class BlockRoute(enum.Enum):
    """How block bytes are fetched."""

    REST = "rest /rest/block/<hash>.bin"
    RPC = "rpc getblock <hash> 0"


class PrevoutRoute(enum.Enum):
    """How the outputs a block's inputs spend are fetched."""

    REST = "rest /rest/spenttxouts/<hash>.bin"  # Bitcoin Core >= 30
    RPC = "rpc getblock <hash> 3"  # Bitcoin Core >= 23; ~18x the bytes, as JSON


# --- codecs of the node's answers --------------------------------------------------------


def parse_spent_txouts(data: bytes) -> tuple[tuple[TxOut, ...], ...]:
    """The body of `/rest/spenttxouts/<hash>.bin`: for every transaction but the coinbase, its inputs' prevouts.

    Core writes a CompactSize count of transactions, an empty list for the coinbase, then per
    transaction a CompactSize count of plain CTxOuts (LE64 value, CompactSize-prefixed script);
    unlike undo records there is no height, no coinbase flag and no compression.
    """
    reader = Reader(data)
    tx_count = reader.compact_size()
    if tx_count == 0 or reader.compact_size() != 0:
        raise CodecError("spent outputs must start with an empty list for the coinbase")
    spent = tuple(
        tuple(TxOut(reader.u64(), reader.var_bytes()) for _ in range(reader.compact_size()))
        for _ in range(tx_count - 1)
    )
    reader.expect_end("spent outputs")
    return spent


def serialize_spent_txouts(prevouts: tuple[tuple[TxOut, ...], ...]) -> bytes:
    """The inverse of parse_spent_txouts (for tests and for serving the same format)."""
    parts = [encode_compact_size(len(prevouts) + 1), b"\x00"]
    for coins in prevouts:
        parts.append(encode_compact_size(len(coins)))
        parts += (coin.serialize() for coin in coins)
    return b"".join(parts)


def block_from_verbose(block_json: dict) -> tuple[Block, tuple[tuple[TxOut, ...], ...]]:
    """The block and its prevouts from `getblock <hash> 3` (amounts as Decimal, exactly)."""
    prev = block_json.get("previousblockhash")
    header = BlockHeader(
        block_json["version"],
        bytes.fromhex(prev)[::-1] if prev else bytes(32),
        bytes.fromhex(block_json["merkleroot"])[::-1],
        block_json["time"],
        int(block_json["bits"], 16),
        block_json["nonce"],
    )
    txs = block_json["tx"]
    block = Block(header, tuple(Transaction.from_hex(tx["hex"]) for tx in txs))
    prevouts = tuple(
        tuple(
            TxOut(sat_from_btc(vin["prevout"]["value"]), bytes.fromhex(vin["prevout"]["scriptPubKey"]["hex"]))
            for vin in tx["vin"]
        )
        for tx in txs[1:]
    )
    return block, prevouts


def _check_prevouts(block: Block, prevouts: tuple[tuple[TxOut, ...], ...], height: int) -> None:
    spending = block.transactions[1:]
    if len(prevouts) != len(spending) or any(len(c) != len(tx.inputs) for c, tx in zip(prevouts, spending)):
        raise ChainError(f"the node's spent outputs of block {block.hash_hex} at height {height} do not match its inputs")


# --- the source ---------------------------------------------------------------------------


class RpcSource:
    """The active chain of a running Bitcoin Core, read over its RPC and REST interfaces.

    Blocks are fetched `window` ahead on `workers` threads and yielded in height order; the
    hashes yielded are checked to link, so a reorganisation during a read raises a retryable
    RpcError instead of mixing two branches. Routes default to REST when the node serves it.
    """

    def __init__(
        self, client: RpcClient, *, window: int = 32, workers: int = 4,
        block_route: BlockRoute | None = None, prevout_route: PrevoutRoute | None = None, hash_batch: int = 500,
    ) -> None:
        if client.network is None:
            raise ChainError("an RpcSource needs the network its node should serve")
        self.client = client
        self.network: Network = client.network
        self.window = max(1, window)
        self.workers = max(1, workers)
        self.hash_batch = max(1, hash_batch)  # getblockhash calls per JSON-RPC batch
        self._block_route = block_route
        self._prevout_route = prevout_route
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str | None, network: Network, **options) -> RpcSource:
        """Over `http://user:pass@host:port` (or $BOVEDA_RPC_URL when `url` is None)."""
        return cls(RpcClient(endpoint_from_url(url), network), **options)

    @classmethod
    def from_cookie(cls, datadir: Path | str, network: Network, *, port: int | None = None, **options) -> RpcSource:
        """Over the node's cookie file in `datadir`, on the network's default RPC port unless `port`."""
        return cls(RpcClient(endpoint_from_cookie(datadir, network, port=port), network), **options)

    @property
    def block_route(self) -> BlockRoute:
        if self._block_route is None:
            self._block_route = BlockRoute.REST if self.client.rest_enabled else BlockRoute.RPC
        return self._block_route

    @property
    def prevout_route(self) -> PrevoutRoute:
        if self._prevout_route is None:
            self._prevout_route = PrevoutRoute.REST if self.client.rest_enabled else PrevoutRoute.RPC
        return self._prevout_route

    # --- the ChainSource interface -----------------------------------------------------

    def tip(self) -> BlockRef:
        while True:
            block_hash = self.client.getbestblockhash()
            header = self.client.getblockheader(block_hash)
            if header is not None and header["confirmations"] != -1:  # else reorganised away between the calls
                return BlockRef(header["height"], block_hash)

    def hash_at(self, height: int) -> bytes:
        try:
            return self.client.getblockhash(height)
        except RpcError as exc:
            if exc.rpc_code == RPC_INVALID_PARAMETER:
                raise ChainError(f"height {height} is outside the active chain (0..{self.client.getblockcount()})") from None
            raise

    def raw_blocks(self, start_height: int, stop_height: int, *, with_undo: bool = False) -> Iterator[RawBlock]:
        """Blocks start_height..stop_height inclusive as stored (`undo` empty), in height order."""
        if with_undo:
            raise ChainError("a running node serves no undo records: read prevouts with blocks(), or use --datadir")
        return self._ordered(start_height, stop_height, self._fetch_raw, lambda raw: raw.block)

    def blocks(self, start_height: int, stop_height: int) -> Iterator[SpentBlock]:
        return self._ordered(start_height, stop_height, self._fetch_spent, lambda spent: spent.block.header.serialize())

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
        self.client.close()

    def __enter__(self) -> RpcSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the follower asks ----------------------------------------------------------

    def contains(self, block_hash: bytes) -> bool:
        """Whether `block_hash` is in the node's active chain."""
        return self.client.contains(block_hash)

    def headers_after(self, block_hash: bytes, count: int) -> tuple[BlockHeader, ...]:
        """Up to `count` active-chain headers from `block_hash` on; empty once it left the active chain."""
        return self.client.headers_after(block_hash, count)

    # --- fetching ------------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="boveda-rpc")
            return self._pool

    def _hashes(self, start_height: int, stop_height: int) -> Iterator[tuple[int, bytes]]:
        tip_height = self.client.getblockcount()
        for height in (start_height, stop_height):
            if not 0 <= height <= tip_height:
                raise ChainError(f"height {height} is outside the active chain (0..{tip_height})")
        for first in range(start_height, stop_height + 1, self.hash_batch):
            heights = range(first, min(first + self.hash_batch, stop_height + 1))
            try:
                hashes = self.client.batch(("getblockhash", (h,)) for h in heights)
            except RpcError as exc:
                if exc.rpc_code == RPC_INVALID_PARAMETER:  # the chain got shorter while we read
                    raise RpcError(
                        f"the node's active chain ended before height {heights[-1]} while reading: read again",
                        retryable=True,
                    ) from None
                raise
            yield from zip(heights, (bytes.fromhex(h)[::-1] for h in hashes))

    def _ordered(
        self, start_height: int, stop_height: int, fetch: Callable[[int, bytes], _T], header_of: Callable[[_T], bytes]
    ) -> Iterator[_T]:
        if stop_height < start_height:
            return iter(())
        hashes = self._hashes(start_height, stop_height)
        if stop_height == start_height:  # the follower's one new block: no thread hop
            height, block_hash = next(hashes)
            return iter((fetch(height, block_hash),))
        return self._pipelined(hashes, fetch, header_of)

    def _pipelined(
        self, hashes: Iterator[tuple[int, bytes]], fetch: Callable[[int, bytes], _T], header_of: Callable[[_T], bytes]
    ) -> Iterator[_T]:
        pool = self._executor()
        pending: deque[tuple[int, bytes, Future[_T]]] = deque()
        previous: bytes | None = None
        try:
            for height, block_hash in hashes:
                pending.append((height, block_hash, pool.submit(fetch, height, block_hash)))
                if len(pending) >= self.window:
                    previous = yield from self._emit(pending.popleft(), previous, header_of)
            while pending:
                previous = yield from self._emit(pending.popleft(), previous, header_of)
        finally:
            for _, _, future in pending:
                future.cancel()

    @staticmethod
    def _emit(entry, previous: bytes | None, header_of) -> Iterator:
        height, block_hash, future = entry
        item = future.result()
        if previous is not None and header_of(item)[4:36] != previous:
            raise RpcError(
                f"the node's active chain changed at height {height} while reading (a reorganisation): read again",
                retryable=True,
            )
        yield item
        return block_hash

    def _block_bytes(self, height: int, block_hash: bytes) -> bytes:
        hash_hex = block_hash[::-1].hex()
        data = None
        if self.block_route is BlockRoute.REST:
            data = self.client.rest(f"block/{hash_hex}.bin")
        if data is None:
            data = bytes.fromhex(self.client.call("getblock", hash_hex, 0))
        if len(data) <= BLOCK_HEADER_SIZE or sha256d(data[:BLOCK_HEADER_SIZE]) != block_hash:
            raise ChainError(f"the node sent other bytes than block {hash_hex} at height {height}")
        return data

    def _fetch_raw(self, height: int, block_hash: bytes) -> RawBlock:
        return RawBlock(height, block_hash, self._block_bytes(height, block_hash), b"")

    def _fetch_spent(self, height: int, block_hash: bytes) -> SpentBlock:
        hash_hex = block_hash[::-1].hex()
        spent_bytes = None
        if self.prevout_route is PrevoutRoute.REST:
            spent_bytes = self.client.rest(f"spenttxouts/{hash_hex}.bin")
            if spent_bytes is None:
                self._prevout_route = PrevoutRoute.RPC  # a Core before 30 has no such endpoint
        try:
            if spent_bytes is not None:
                block = Block.parse(self._block_bytes(height, block_hash))
                prevouts = parse_spent_txouts(spent_bytes)
            else:
                block, prevouts = block_from_verbose(self.client.call("getblock", hash_hex, 3))
        except (CodecError, KeyError, TypeError, ValueError) as exc:
            raise ChainError(f"block {hash_hex} at height {height} from the node does not decode: {exc}") from None
        if block.hash != block_hash:
            raise ChainError(f"the node sent another block than {hash_hex} at height {height}")
        _check_prevouts(block, prevouts, height)
        return SpentBlock(height, block, prevouts)


# --- choosing a source from a command's options ---------------------------------------------


def endpoint_from_options(
    datadir: Path | str | None, network: Network, rpc_url: str | None, *, rpc_port: int | None = None
) -> RpcEndpoint:
    """`rpc_url`'s endpoint; without credentials in it (or without a URL) the cookie in `datadir` (default ~/.bitcoin)."""
    if rpc_url is None:
        return endpoint_from_cookie(datadir or "~/.bitcoin", network, port=rpc_port)
    endpoint = endpoint_from_url(rpc_url)
    if endpoint.user or endpoint.password:
        return endpoint
    # The URL's address (scheme, IPv6 brackets and wallet path kept), the cookie's credentials.
    cookie_path = endpoint_from_cookie(datadir or "~/.bitcoin", network).cookie_path
    unread = RpcEndpoint(endpoint.url, cookie_path=cookie_path)
    try:
        return unread.with_cookie()
    except RpcError:
        return unread  # read at the first call: the node may be starting


@contextlib.contextmanager
def source_from_options(
    datadir: Path | str | None, network: Network, rpc_url: str | None = None, use_cookie: bool = False,
    *, rpc_port: int | None = None,
) -> Iterator[ChainSource]:
    """The chain source a command's options name, closed on exit.

    `rpc_url` (or `use_cookie`, the `--rpc` flag: the cookie in `datadir`, default ~/.bitcoin) reads
    a running node; otherwise `datadir` is read through the kernel and its block files, which
    needs the node stopped (or a copy). A URL without credentials logs in with the cookie.
    """
    if rpc_url is not None or use_cookie:
        endpoint = endpoint_from_options(datadir, network, rpc_url, rpc_port=rpc_port)
        with RpcSource(RpcClient(endpoint, network)) as source:
            source.tip()  # fail now, with the node's reason, not halfway through a command
            yield source
        return
    if datadir is None:
        raise ChainError("no chain source: pass --datadir (a stopped node or a copy), --rpc, or --rpc-url")
    from boveda.chain.blockfiles import BlockFileSource
    from boveda.chain.kernel import KernelSource

    with KernelSource(datadir, network) as kernel, BlockFileSource(datadir, network, kernel=kernel) as files:
        yield files
