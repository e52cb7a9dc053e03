"""What a running Bitcoin Core tells us happened: ZMQ notifications, or `waitfornewblock` long-polls without them.

Either way the follower calls `wait(timeout_s)` and gets back a tuple of small values (empty on timeout).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import zmq
import zmq.utils.monitor

from boveda.bitcoin.tx import Transaction
from boveda.chain.rpc_client import RpcClient, RpcError
from boveda.errors import ChainError, CodecError

_SEQUENCE_MODULUS = 1 << 32  # the 4-byte message counter each topic carries


class Topic(enum.Enum):
    """The ZMQ topics Bóveda subscribes to (bitcoind's -zmqpub<topic>)."""

    SEQUENCE = "sequence"  # blocks connected/disconnected, transactions added/removed from the mempool
    HASHBLOCK = "hashblock"  # the new tip's hash
    RAWTX = "rawtx"  # every transaction entering the mempool or a connected block, serialised


class NodeEventKind(enum.Enum):
    BLOCK_CONNECTED = "block_connected"
    BLOCK_DISCONNECTED = "block_disconnected"
    TX_ADDED = "tx_added"  # entered the mempool
    TX_REMOVED = "tx_removed"  # left the mempool for another reason than a block (replaced, expired, conflicted)
    NEW_TIP = "new_tip"  # hashblock, or waitfornewblock's answer
    RAW_TX = "raw_tx"
    MISSED = "missed"  # notifications were lost (a gap in a topic's counter, e.g. the node restarted): resync


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """One thing the node reported. `hash` is a block hash or txid in internal byte order."""

    kind: NodeEventKind
    hash: bytes = b""
    mempool_sequence: int | None = None  # TX_ADDED / TX_REMOVED: the node's mempool sequence number
    raw_tx: bytes = field(default=b"", repr=False)  # RAW_TX: the transaction's bytes
    height: int | None = None  # NEW_TIP from waitfornewblock
    topic: Topic | None = None  # the ZMQ topic it came on (MISSED: the topic with the gap)

    @property
    def hash_hex(self) -> str:
        return self.hash[::-1].hex()


_SEQUENCE_KINDS = {
    ord("C"): NodeEventKind.BLOCK_CONNECTED,
    ord("D"): NodeEventKind.BLOCK_DISCONNECTED,
    ord("A"): NodeEventKind.TX_ADDED,
    ord("R"): NodeEventKind.TX_REMOVED,
}


def parse_notification(topic: Topic, body: bytes) -> NodeEvent:
    """A ZMQ message body as an event; hashes arrive in displayed order and are turned around."""
    if topic is Topic.SEQUENCE:
        if len(body) not in (33, 41) or body[32] not in _SEQUENCE_KINDS:
            raise CodecError(f"a sequence notification of {len(body)} bytes that is not hash|label[|LE64]")
        mempool_sequence = int.from_bytes(body[33:41], "little") if len(body) == 41 else None
        return NodeEvent(_SEQUENCE_KINDS[body[32]], body[31::-1], mempool_sequence, topic=topic)
    if topic is Topic.HASHBLOCK:
        if len(body) != 32:
            raise CodecError(f"a hashblock notification of {len(body)} bytes, not 32")
        return NodeEvent(NodeEventKind.NEW_TIP, body[::-1], topic=topic)
    return NodeEvent(NodeEventKind.RAW_TX, Transaction.parse(body).txid, raw_tx=body, topic=topic)


class NodeWaiter(Protocol):
    """Blocks until the node reports something, or `timeout_s` passes (then: an empty tuple)."""

    def wait(self, timeout_s: float) -> tuple[NodeEvent, ...]: ...

    def close(self) -> None: ...


class NodeEvents:
    """A ZMQ subscriber to one node's notifications at `zmq_urls` (tcp://host:port, one or several).

    ZMQ reconnects by itself when the node restarts; the lost notifications show as one MISSED
    event, after which the caller should ask the node for its tip again.
    """

    def __init__(self, zmq_urls: str | Sequence[str], topics: Sequence[Topic] = tuple(Topic)) -> None:
        urls = (zmq_urls,) if isinstance(zmq_urls, str) else tuple(zmq_urls)
        if not urls:
            raise ChainError("no ZMQ address: pass --zmq tcp://127.0.0.1:28332 (bitcoind's -zmqpubsequence)")
        self.urls = urls
        self.topics = tuple(topics)
        self._context = zmq.Context.instance()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 0)  # never drop on our side; the node's own limit still applies
        # The monitor tells when the node went away: ZMQ reconnects silently, losing what was sent meanwhile.
        self._monitor = self._socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        for topic in self.topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic.value.encode())
        for url in urls:
            if not url.startswith(("tcp://", "ipc://")):
                self.close()
                raise ChainError(f"not a ZMQ address: {url} (expected tcp://host:port, as in bitcoind's -zmqpub*)")
            try:
                self._socket.connect(url)
            except zmq.ZMQError as exc:
                self.close()
                raise ChainError(f"cannot subscribe to {url}: {exc}") from None
        self._last_counter: dict[Topic, int] = {}
        self._connected: set[str] = set()
        self._dropped = False
        self._poller = zmq.Poller()
        self._poller.register(self._socket, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    @classmethod
    def from_node(cls, client: RpcClient, topics: Sequence[Topic] = tuple(Topic)) -> NodeEvents:
        """Subscribes where the node says it publishes (`getzmqnotifications`)."""
        published = {(n["type"].removeprefix("pub"), n["address"]) for n in client.call("getzmqnotifications")}
        urls = sorted({address for kind, address in published if kind in {t.value for t in topics}})
        if not urls:
            raise ChainError(
                f"Bitcoin Core at {client.url} publishes no ZMQ notifications: start it with "
                "-zmqpubsequence=tcp://127.0.0.1:28332 (or let Bóveda poll with waitfornewblock)"
            )
        return cls(urls, topics)

    def wait_connected(self, timeout_s: float) -> bool:
        """Whether every address is connected within `timeout_s` (ZMQ drops what is published before)."""
        deadline = time.monotonic() + timeout_s
        self._monitor_events()
        while len(self._connected) < len(self.urls):
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0 or not self._monitor.poll(remaining_ms):
                return False
            self._monitor_events()
        return True

    def wait(self, timeout_s: float) -> tuple[NodeEvent, ...]:
        """Events in the order the node sent them: waits up to `timeout_s` for the first, then takes what is queued.

        A MISSED event means notifications may have been lost (a gap in a topic's counter, or the
        connection dropped): ask the node for its tip and mempool again.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        events: list[NodeEvent] = []
        while not events:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not self._poller.poll(remaining_ms):
                return ()
            self._monitor_events()  # a connection coming up is no event; one going down is
            if self._dropped:
                events.append(NodeEvent(NodeEventKind.MISSED))
                self._dropped = False
            while True:
                try:
                    frames = self._socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                events += self._events(frames)
            if not events and remaining_ms == 0:
                return ()
        return tuple(events)

    def _monitor_events(self) -> None:
        """Takes the monitor's queued events: who is connected, and whether a connection dropped."""
        while self._monitor.poll(0):
            event = zmq.utils.monitor.parse_monitor_message(self._monitor.recv_multipart())
            endpoint = event["endpoint"].decode()
            if event["event"] == zmq.EVENT_DISCONNECTED:
                self._connected.discard(endpoint)
                self._last_counter.clear()  # a restarted node counts from 0 again
                self._dropped = True
            elif event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected.add(endpoint)

    def _events(self, frames: list[bytes]) -> list[NodeEvent]:
        if len(frames) != 3 or len(frames[2]) != 4:
            return [NodeEvent(NodeEventKind.MISSED)]  # not a notification we can read
        try:
            topic = Topic(frames[0].decode())
        except ValueError:
            return []
        events = []
        counter = int.from_bytes(frames[2], "little")
        last = self._last_counter.get(topic)
        if last is not None and counter != (last + 1) % _SEQUENCE_MODULUS:
            events.append(NodeEvent(NodeEventKind.MISSED, topic=topic))
        self._last_counter[topic] = counter
        try:
            events.append(parse_notification(topic, frames[1]))
        except CodecError:
            events.append(NodeEvent(NodeEventKind.MISSED, topic=topic))
        return events

    def close(self) -> None:
        self._socket.disable_monitor()
        self._monitor.close(linger=0)
        self._socket.close(linger=0)

    def __enter__(self) -> NodeEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockWaiter:
    """New tips by long-polling `waitfornewblock`: for a node without ZMQ. It sees blocks, not the mempool."""

    def __init__(self, client: RpcClient, *, tip_hash: bytes | None = None) -> None:
        self.client = client
        self.tip_hash = tip_hash

    def wait(self, timeout_s: float) -> tuple[NodeEvent, ...]:
        """One NEW_TIP once the tip differs from the last one seen (or the tip at the first call)."""
        if self.tip_hash is None:
            self.tip_hash = self.client.getbestblockhash()
        timeout_ms = max(1, int(timeout_s * 1000))
        try:
            height, block_hash = self.client.waitfornewblock(timeout_ms, self.tip_hash)
        except RpcError as exc:
            if exc.retryable or exc.rpc_code is None:
                raise
            height, block_hash = self.client.waitfornewblock(timeout_ms)  # a Core without `current_tip`
        if block_hash == self.tip_hash:
            return ()
        self.tip_hash = block_hash
        return (NodeEvent(NodeEventKind.NEW_TIP, block_hash, height=height),)

    def close(self) -> None:
        """The client belongs to the caller."""


def node_waiter(client: RpcClient, zmq_url: str | None = None) -> NodeWaiter:
    """ZMQ when `zmq_url` is given, else `waitfornewblock` long-polls."""
    return NodeEvents(zmq_url) if zmq_url else BlockWaiter(client)
