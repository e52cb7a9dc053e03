"""The follower's loop: wake on the node, sync the new blocks, raise alerts, watch the mempool, repeat.

Each step is one call of a kept `wallets.sync.Syncer` (its chunks are single transactions; it holds the
parsed descriptors and the watch set between steps), so stopping
between steps — on SIGINT/SIGTERM, or a bound reached — leaves nothing half-written. A node that
goes away is retried with backoff; one log line says so, one says when it is back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from boveda.book import Book
from boveda.chain.node_events import BlockWaiter, NodeEventKind, NodeEvents
from boveda.chain.rpc import BlockRoute, RpcSource
from boveda.chain.rpc_client import RpcClient, RpcError
from boveda.chain.source import BlockRef, RawBlock
from boveda.errors import ChainError
from boveda.follower import alerts as alerting
from boveda.follower.alerts_store import Alert, NewAlert
from boveda.follower.log import FollowLog
from boveda.follower.mempool import MempoolWatch, PendingSpend
from boveda.follower.webhook import WebhookSender
from boveda.wallets import facts_store as facts
from boveda.wallets import follower_facts
from boveda.wallets.sync import Syncer, sync_lock

WAIT_SLICE_S = 0.5  # the longest the loop waits before it looks at the stop flag and the node's tip again
CACHED_STEP_BLOCKS = 16  # a step this short reads each block from the node once, however often sync asks


class NodeState(StrEnum):
    CONNECTING = "connecting"
    FOLLOWING = "following"
    UNREACHABLE = "unreachable"
    INITIAL_BLOCK_DOWNLOAD = "initial_block_download"


@dataclass(frozen=True, slots=True)
class FollowOptions:
    zmq_urls: tuple[str, ...] = ()  # empty: waitfornewblock long-polls, and the mempool is polled
    webhooks: tuple[str, ...] = field(default=(), repr=False)  # a webhook's URL often holds its token
    max_blocks: int | None = None  # stop after syncing this many blocks
    until_height: int | None = None  # stop once synced to this height
    idle_exit_s: float | None = None  # stop after this long without a new block
    watch_mempool: bool = True
    poll_interval_s: float = 1.0  # mempool polling without ZMQ; waiting for the node in IBD
    step_blocks: int = 500
    retry_delays_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


@dataclass(frozen=True, slots=True)
class FollowSummary:
    blocks_synced: int
    synced_height: int | None
    alerts_raised: int
    stopped_because: str
    node_reachable: bool


class _StepSource:
    """The node's chain as one step sees it: the tip capped at the step's end, and (for a short step) each
    block fetched once however many times sync reads it."""

    def __init__(self, source: RpcSource, tip: BlockRef, genesis: bytes) -> None:
        self.network = source.network
        self._source = source
        self._tip = tip
        self._genesis = genesis
        self._raw: dict[int, RawBlock] = {}

    def tip(self) -> BlockRef:
        return self._tip

    def hash_at(self, height: int) -> bytes:
        if height > self._tip.height:
            raise ChainError(f"height {height} is outside the active chain (0..{self._tip.height})")
        return self._genesis if height == 0 else self._source.hash_at(height)

    def blocks(self, start_height: int, stop_height: int):
        return self._source.blocks(start_height, stop_height)

    def raw_blocks(self, start_height: int, stop_height: int, *, with_undo: bool = False) -> Iterator[RawBlock]:
        if stop_height - start_height + 1 > CACHED_STEP_BLOCKS:
            yield from self._source.raw_blocks(start_height, stop_height, with_undo=with_undo)
            return
        missing = [h for h in range(start_height, stop_height + 1) if h not in self._raw]
        if missing:
            for raw in self._source.raw_blocks(missing[0], missing[-1], with_undo=with_undo):
                self._raw[raw.height] = raw
        for height in range(start_height, stop_height + 1):
            yield self._raw[height]

    def close(self) -> None:
        """The node's source belongs to the follower."""


class _ChainMoved(Exception):
    """The node's active chain changed under a step: read again (nothing was half-written)."""


class Follower:
    """Follows one node for one book until a bound is reached or it is told to stop."""

    def __init__(self, book: Book, client: RpcClient, options: FollowOptions, log: FollowLog) -> None:
        self.book = book
        self.client = client
        self.source = RpcSource(client)
        self.options = options
        self.log = log
        self.mempool = MempoolWatch(book) if options.watch_mempool else None
        self.webhooks = WebhookSender(book, options.webhooks, on_result=self._delivered)
        self._events = NodeEvents(options.zmq_urls) if options.zmq_urls else None
        self._block_waiter = BlockWaiter(client)
        self._stop_reason: str | None = None
        self._state = NodeState.CONNECTING
        self._failures = 0
        self._genesis: bytes | None = None
        self._syncer: Syncer | None = None  # holds the watch set between steps
        self._synced: tuple[int, bytes] | None = None  # (height, hash) of the synced tip
        self._blocks = 0
        self._alerts = 0
        self._last_progress = time.monotonic()
        self._last_mempool_poll = 0.0
        self._mempool_scanned = False
        self._first_contact_done = False
        self._zmq_has_sequence = True

    # -- control ----------------------------------------------------------------------

    def stop(self, reason: str = "asked to stop") -> None:
        """Stops at the next block boundary (safe from a signal handler or another thread)."""
        if self._stop_reason is None:
            self._stop_reason = reason

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, lambda signum, _frame: self.stop(f"signal {signal.Signals(signum).name}"))
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._stop_reason is None and (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(0.1, remaining))

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> FollowSummary:
        with sync_lock(self.book.store), self._signals():
            try:
                self._load_synced()
                if self.webhooks.retry_undelivered():
                    self.log.emit("delivery", "retrying the delivery of alerts an earlier run could not deliver")
                while self._stop_reason is None:
                    try:
                        self._once()
                    except RpcError as exc:
                        if not exc.retryable:
                            raise
                        self._unreachable(exc)
            finally:
                self._close()
        synced = self._synced[0] if self._synced else None
        self.log.emit("stop", f"stopped at height {synced} ({self._stop_reason}): {self._blocks} blocks synced, "
                      f"{self._alerts} alerts raised", reason=self._stop_reason, height=synced, blocks=self._blocks,
                      alerts=self._alerts)
        return FollowSummary(self._blocks, synced, self._alerts, self._stop_reason or "",
                             self._state is not NodeState.UNREACHABLE)

    def _once(self) -> None:
        info = self.client.getblockchaininfo()
        if info.get("initialblockdownload") and info.get("headers", 0) > info.get("blocks", 0):
            self._set_state(NodeState.INITIAL_BLOCK_DOWNLOAD,
                            f"node in initial block download (block {info['blocks']} of {info['headers']}): "
                            "waiting for it to finish", height=info["blocks"])
            self._idle_check()
            self._sleep(self.options.poll_interval_s * 5)
            return
        if self._state is NodeState.UNREACHABLE:
            self._set_state(NodeState.FOLLOWING, f"node back at height {info['blocks']}", height=info["blocks"])
        else:
            self._set_state(NodeState.FOLLOWING, f"node at height {info['blocks']} ({info['chain']}) at "
                            f"{self.client.url}; the book is synced to {self._synced[0] if self._synced else 'nothing'}",
                            height=info["blocks"])
        self._first_contact()
        if self.mempool is not None and not self._mempool_scanned:
            self.mempool.refresh()
            self._alert_spends(self.mempool.scan_node(self.client))
            self._mempool_scanned = True
        if self._bound_reached():  # already there when started
            return
        tip_hash = bytes.fromhex(info["bestblockhash"])[::-1]
        if self._synced is None or self._synced[1] != tip_hash:
            try:
                self._step(info["blocks"])
            except _ChainMoved as exc:
                self.log.emit("reorg", f"the node's chain changed while reading ({exc}): reading again")
                return
        if self._bound_reached() or self._stop_reason is not None:
            return
        if self._synced is not None and self._synced[1] == tip_hash:
            self._wait()

    def _bound_reached(self) -> bool:
        options = self.options
        synced = self._synced[0] if self._synced else -1
        if options.until_height is not None and synced >= options.until_height:
            self.stop(f"reached height {options.until_height}")
        elif options.max_blocks is not None and self._blocks >= options.max_blocks:
            self.stop(f"synced {options.max_blocks} blocks")
        return self._stop_reason is not None

    def _idle_check(self) -> None:
        idle = self.options.idle_exit_s
        if idle is not None and time.monotonic() - self._last_progress >= idle:
            self.stop(f"no new block for {idle:g} s")

    # -- syncing ----------------------------------------------------------------------

    def _load_synced(self) -> None:
        with self.book.store.read() as conn:
            top = facts.top_height(conn)
            block = None if top is None else facts.synced_block(conn, top)
        self._synced = None if block is None else (top, block[0])

    def _step(self, node_height: int) -> None:
        options = self.options
        top = self._synced[0] if self._synced else None
        if top is None:
            with self.book.store.read() as conn:
                first = min((w.next_height for w in facts.wallet_rows(conn)), default=0)
            cap = min(node_height, first + options.step_blocks)
        else:
            first = top + 1
            cap = min(node_height, top + options.step_blocks)
        if options.until_height is not None and (top is None or options.until_height > top):
            cap = min(cap, options.until_height)
        if options.max_blocks is not None and top is not None:
            cap = min(cap, max(top, top + options.max_blocks - self._blocks))
        if self._genesis is None:
            self._genesis = self.source.hash_at(0)
        started = time.perf_counter()
        try:
            tip = BlockRef(cap, self.source.hash_at(cap))
            if self._syncer is None:
                self._syncer = Syncer(self.book.store, network=self.source.network)
            report = self._syncer.sync_to_tip(_StepSource(self.source, tip, self._genesis))
        except RpcError as exc:
            if exc.retryable and "while reading" in str(exc):
                raise _ChainMoved(str(exc)) from None
            raise
        except ChainError as exc:
            if "outside the active chain" in str(exc):  # it got shorter since we asked (a reorganisation)
                raise _ChainMoved(str(exc)) from None
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        if report.rolled_back_to is not None:
            self.log.emit("reorg", f"reorganisation: the book's blocks above height {report.rolled_back_to} left "
                          "the node's active chain; their facts were dropped and the new branch synced",
                          fork_height=report.rolled_back_to, old_height=top)
            first = report.rolled_back_to + 1
        self._synced = (tip.height, tip.hash)
        self._after_blocks(max(first, 0), tip.height, elapsed_ms)

    def _after_blocks(self, first: int, last: int, elapsed_ms: float) -> None:
        with self.book.store.read() as conn:
            moved = follower_facts.coins_moved(conn, first, last)
            hashes = {h: facts.synced_block(conn, h) for h in range(first, last + 1)}
            owners = facts.wallet_owners(conn)
            touched = {str(owners[w]) for w in follower_facts.wallets_touched(conn, first, last) if w in owners}
        heights = [h for h in range(first, last + 1) if hashes.get(h) is not None]
        per_block_ms = elapsed_ms / max(1, len(heights))
        for height in heights:
            coins_in, coins_out = moved.get(height, (0, 0))
            hash_hex = hashes[height][0][::-1].hex()
            self.log.emit("block", f"block {height} {hash_hex}: {coins_in} coins in, {coins_out} out, "
                          f"{per_block_ms:.0f} ms", height=height, hash=hash_hex, coins_in=coins_in,
                          coins_out=coins_out, ms=round(per_block_ms, 1))
        self._blocks += len(heights)
        if heights:
            self._last_progress = time.monotonic()
        self._raise(alerting.critical_findings(self.book, touched, last))
        if self.mempool is not None:
            self.mempool.refresh()
            self._resolve_pending()

    # -- alerts -----------------------------------------------------------------------

    def _raise(self, candidates: Sequence[NewAlert]) -> list[Alert]:
        raised = alerting.raise_new(self.book, candidates)
        for alert in raised:
            self._alerts += 1
            self.log.emit("alert", f"ALERT {alert.alert_id} {alert.kind.value} {alert.holding} "
                          f"{alert.amount_sat} sat: {alert.message}", alert=alert.to_json())
        self.webhooks.send(raised)
        return raised

    def _alert_spends(self, spends: Sequence[PendingSpend]) -> None:
        self._raise([alerting.pending_outflow(s.holding, s.txid_hex, s.wallets, s.amount_sat, s.coins) for s in spends])

    def _resolve_pending(self) -> None:
        if self.mempool is None:
            return
        pending = alerting.unresolved_pending(self.book)
        synced_hash = self._synced[1] if self._synced else None
        for alert, resolution in self.mempool.resolutions(self.client, pending, synced_hash):
            alerting.resolve(self.book, alert, resolution)
            self.log.emit("resolved", f"alert {alert.alert_id} ({alert.kind.value} {alert.txid_hex}) resolved: "
                          f"{resolution.value}", alert_id=alert.alert_id, resolution=resolution.value)

    def _delivered(self, alert: Alert, url: str, delivered: bool, detail: str) -> None:
        if delivered:
            self.log.emit("delivery", f"alert {alert.alert_id} delivered to {url}", alert_id=alert.alert_id, url=url,
                          delivered=True)
        else:
            self.log.emit("delivery", f"alert {alert.alert_id} could not be delivered to {url} ({detail}): "
                          "it is retried at the next start", alert_id=alert.alert_id, url=url, delivered=False)

    # -- waiting ----------------------------------------------------------------------

    def _first_contact(self) -> None:
        """Once the node answers: does it serve REST, and publish what --zmq subscribes to?"""
        if self._first_contact_done:
            return
        if self._events is not None:
            published = {(n["type"].removeprefix("pub"), n["address"])
                         for n in self.client.call("getzmqnotifications")}
            if not published:
                raise ChainError(
                    f"Bitcoin Core at {self.client.url} publishes no ZMQ notifications: start it with "
                    f"-zmqpubsequence={self._events.urls[0]} (and -zmqpubrawtx), or leave out --zmq to long-poll")
            addresses = {address for _, address in published}
            if not addresses & set(self._events.urls):
                self.log.emit("zmq", f"the node publishes at {', '.join(sorted(addresses))}, not at "
                              f"{', '.join(self._events.urls)}: check --zmq")
            if "sequence" not in {topic for topic, _ in published}:
                self.log.emit("zmq", "the node publishes no `sequence` notifications: the mempool is polled "
                              "instead (-zmqpubsequence gives unconfirmed spends at once)")
                self._zmq_has_sequence = False
        if self.source.block_route is BlockRoute.RPC:
            self.log.emit("rest", "the node serves no REST: blocks are read through getblock, about 18 times the "
                          "bytes; start it with -rest for the fast route")
        self._first_contact_done = True

    def _wait(self) -> None:
        """Until the node reports something, or a slice passes; handles the mempool meanwhile."""
        self._idle_check()
        if self._stop_reason is not None:
            return
        polling = self._events is None or not self._zmq_has_sequence
        if self._events is not None:
            events = self._events.wait(WAIT_SLICE_S)
            if any(e.kind is NodeEventKind.MISSED for e in events):
                self._mempool_scanned = False  # notifications were lost: ask the node again
            if self.mempool is not None and not polling:
                self._alert_spends(self.mempool.on_events(events, self.client))
                if any(e.kind is NodeEventKind.TX_REMOVED for e in events):
                    self._resolve_pending()
        else:
            self._block_waiter.tip_hash = self._synced[1] if self._synced else None
            self._block_waiter.wait(WAIT_SLICE_S)
        now = time.monotonic()
        if self.mempool is not None and polling and now - self._last_mempool_poll >= self.options.poll_interval_s:
            self._last_mempool_poll = now
            self._alert_spends(self.mempool.scan_node(self.client))
            self._resolve_pending()

    # -- the node's state -------------------------------------------------------------

    def _set_state(self, state: NodeState, message: str, **fields) -> None:
        if state is self._state:
            return
        self._state, self._failures = state, 0
        self.log.emit("state", message, state=state.value, **fields)
        if state is NodeState.FOLLOWING:
            self._mempool_scanned = False  # a restarted node's mempool is another one

    def _unreachable(self, exc: RpcError) -> None:
        delays = self.options.retry_delays_s
        delay = delays[min(self._failures, len(delays) - 1)]
        if self._state is not NodeState.UNREACHABLE:
            self.log.emit("state", f"node unreachable ({exc}): retrying in {delay:g} s, backing off to "
                          f"{delays[-1]:g} s", state=NodeState.UNREACHABLE.value, retry_in_s=delay)
            self._state = NodeState.UNREACHABLE
        self._failures += 1
        self._idle_check()
        self._sleep(delay)

    def _close(self) -> None:
        self.webhooks.close()
        if self._events is not None:
            self._events.close()
        self.source.close()
