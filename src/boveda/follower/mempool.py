"""The mempool watch: unconfirmed transactions spending a watched coin, found from ZMQ `sequence`/`rawtx`
notifications at once, or by asking the node (`gettxspendingprevout`) for every watched coin.

A spend that a journal entry cites is expected (a governed spend the chain will confirm); any
other is a pending outflow. Each is told once per run; the alerts table keeps it once for good.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from boveda.bitcoin.tx import Transaction
from boveda.book import Book
from boveda.chain.node_events import NodeEvent, NodeEventKind
from boveda.chain.rpc_client import RPC_INVALID_ADDRESS_OR_KEY, RpcClient, RpcError
from boveda.errors import CodecError
from boveda.follower.alerts_store import Alert, Resolution
from boveda.wallets import facts_store as facts
from boveda.wallets import follower_facts
from boveda.wallets.follower_facts import WatchedCoin

_OUTPOINTS_PER_CALL = 1000
_RAW_KEPT = 2000  # rawtx bodies kept until their `sequence` A-notification (either may come first)


@dataclass(frozen=True, slots=True)
class PendingSpend:
    """An unconfirmed transaction spending `coins` watched coins (`amount_sat` in all) of one holding."""

    txid: bytes
    holding: str
    wallets: tuple[str, ...]
    amount_sat: int
    coins: int

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()


class MempoolWatch:
    """The tracked wallets' unspent coins (refreshed after each block) and what spends them unconfirmed."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self._coins: dict[tuple[bytes, int], WatchedCoin] = {}
        self._owners: dict[str, str] = {}
        self._raw: OrderedDict[bytes, bytes] = OrderedDict()
        self._told: set[bytes] = set()
        self._spent_by: dict[bytes, tuple[tuple[bytes, int], ...]] = {}  # pending txid -> the watched coins

    @property
    def watched_coins(self) -> int:
        return len(self._coins)

    def refresh(self) -> None:
        with self.book.store.read() as conn:
            self._coins = follower_facts.unspent_outpoints(conn)
            self._owners = {name: str(owner) for name, owner in facts.wallet_owners(conn).items()}

    def spends_of(self, txid: bytes, outpoints: Iterable[tuple[bytes, int]]) -> list[PendingSpend]:
        """Per holding, the watched coins among `outpoints` (the inputs of unconfirmed `txid`)."""
        by_holding: dict[str, list[WatchedCoin]] = defaultdict(list)
        spent = []
        for outpoint in outpoints:
            coin = self._coins.get(outpoint)
            if coin is not None:
                by_holding[self._owners.get(coin.wallet, "")].append(coin)
                spent.append(outpoint)
        if not spent:
            return []
        self._spent_by[txid] = tuple(spent)
        return [PendingSpend(txid, holding, tuple(c.wallet for c in coins), sum(c.value_sat for c in coins), len(coins))
                for holding, coins in sorted(by_holding.items()) if holding]

    def _new(self, spends: Sequence[PendingSpend]) -> list[PendingSpend]:
        """The spends not told before this run, and not booked (no entry cites the transaction)."""
        fresh = []
        for spend in spends:
            if spend.txid in self._told:
                continue
            self._told.add(spend.txid)
            if not self.book.entries_citing(spend.txid_hex):
                fresh.append(spend)
        return fresh

    def on_events(self, events: Sequence[NodeEvent], client: RpcClient) -> list[PendingSpend]:
        """The new pending spends among ZMQ events: a `sequence` A (entered the mempool), with its `rawtx`
        body from the same burst, from an earlier one, or else asked of the node."""
        for event in events:
            if event.kind is NodeEventKind.RAW_TX:
                self._raw[event.hash] = event.raw_tx
                while len(self._raw) > _RAW_KEPT:
                    self._raw.popitem(last=False)
        found: list[PendingSpend] = []
        for event in events:
            if event.kind is not NodeEventKind.TX_ADDED or event.hash in self._told:
                continue
            raw = self._raw.pop(event.hash, None)
            if raw is None:
                try:
                    raw = client.getrawtransaction(event.hash)
                except RpcError as exc:
                    if exc.retryable:
                        raise
                    continue  # gone already (mined or replaced): the block sync or the resolution sees it
            try:
                tx = Transaction.parse(raw)
            except CodecError:
                continue
            found += self.spends_of(event.hash, ((i.prevout.txid, i.prevout.vout) for i in tx.inputs))
        return self._new(found)

    def scan_node(self, client: RpcClient) -> list[PendingSpend]:
        """The new pending spends of every watched coin, asked of the node's mempool (`gettxspendingprevout`)."""
        outpoints = list(self._coins)
        spending: dict[bytes, list[tuple[bytes, int]]] = defaultdict(list)
        for at in range(0, len(outpoints), _OUTPOINTS_PER_CALL):
            batch = outpoints[at : at + _OUTPOINTS_PER_CALL]
            answers = client.call("gettxspendingprevout", [{"txid": t[::-1].hex(), "vout": v} for t, v in batch])
            for (txid, vout), answer in zip(batch, answers):
                if answer.get("spendingtxid"):
                    spending[bytes.fromhex(answer["spendingtxid"])[::-1]].append((txid, vout))
        found = []
        for txid, spent in spending.items():
            found += self.spends_of(txid, spent)
        return self._new(found)

    def resolutions(self, client: RpcClient, pending: Sequence[Alert], synced_tip_hash: bytes | None
                    ) -> list[tuple[Alert, Resolution]]:
        """How the pending outflows ended, for those that did: confirmed in the synced facts, or gone from
        the mempool while the node's tip is the synced one (else a block not synced yet may hold them)."""
        if not pending:
            return []
        txids = {alert.alert_id: bytes.fromhex(alert.txid_hex)[::-1] for alert in pending}
        with self.book.store.read() as conn:
            confirmed = follower_facts.confirmed_txids(conn, list(txids.values()))
        ended = []
        tip_checked: bool | None = None
        for alert in pending:
            txid = txids[alert.alert_id]
            if txid in confirmed:
                ended.append((alert, Resolution.CONFIRMED))
                continue
            if _in_mempool(client, alert.txid_hex):
                continue
            if tip_checked is None:
                tip_checked = synced_tip_hash is not None and client.getbestblockhash() == synced_tip_hash
            if not tip_checked:
                continue
            spent = self._spent_by.get(txid, ())
            gone = any(outpoint not in self._coins for outpoint in spent)
            ended.append((alert, Resolution.CONFLICTED if gone else Resolution.LEFT_MEMPOOL))
        return ended


def _in_mempool(client: RpcClient, txid_hex: str) -> bool:
    try:
        client.call("getmempoolentry", txid_hex)
        return True
    except RpcError as exc:
        if exc.rpc_code == RPC_INVALID_ADDRESS_OR_KEY:
            return False
        raise
