"""Bitcoin Core's JSON-RPC and REST interfaces, as the chain sources and the follower ask them.

Errors are one-line ChainErrors (RpcError, with `retryable`) that say what to do; none ever
carries the RPC password.
"""

from __future__ import annotations

import base64
import decimal
import itertools
import json
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from boveda.bitcoin.block import BLOCK_HEADER_SIZE, BlockHeader
from boveda.bitcoin.network import Network
from boveda.chain.rpc_http import (  # noqa: F401  (re-exported: one import for the route's users)
    DEFAULT_RPC_PORTS,
    RPC_URL_ENV,
    HttpTransport,
    RpcEndpoint,
    RpcError,
    default_rpc_port,
    endpoint_from_cookie,
    endpoint_from_url,
    read_cookie,
)
from boveda.errors import ChainError
from boveda.money import AmountError, parse_btc

MAX_REST_HEADERS = 2000  # Bitcoin Core's MAX_REST_HEADERS_RESULTS
RPC_IN_WARMUP = -28
RPC_INVALID_PARAMETER = -8
RPC_INVALID_ADDRESS_OR_KEY = -5


def sat_from_btc(amount_btc: decimal.Decimal | int) -> int:
    """Satoshis from an amount in BTC as Core's JSON gives it (parsed as Decimal, never float), exactly."""
    if isinstance(amount_btc, int) and not isinstance(amount_btc, bool):
        amount_btc = decimal.Decimal(amount_btc)
    if not isinstance(amount_btc, decimal.Decimal) or not amount_btc.is_finite() or amount_btc < 0:
        raise ChainError(f"Bitcoin Core gave {amount_btc!r} where an amount in BTC belongs")
    if amount_btc == 0:
        return 0  # parse_btc refuses zero, which an output may hold
    try:
        return parse_btc(format(amount_btc, "f"))
    except AmountError as exc:
        raise ChainError(f"Bitcoin Core gave an amount that is not exact satoshis: {exc}") from None


def _json(content: bytes) -> Any:
    # Amounts come as JSON numbers: Decimal keeps them exact (never a float).
    return json.loads(content, parse_float=decimal.Decimal)


class RpcClient:
    """One node's JSON-RPC and REST; safe to share between threads (each gets its own connection).

    `network`, when given, is checked against the node's chain at the first call.
    """

    def __init__(self, endpoint: RpcEndpoint, network: Network | None = None, *, timeout_s: float = 60.0) -> None:
        self.endpoint = endpoint
        self.network = network
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._checked_network = network is None
        self._rest: bool | None = None
        self._rpc_path = urllib.parse.urlsplit(endpoint.url).path or "/"
        self._http = HttpTransport(endpoint.url, timeout_s=timeout_s)

    def __repr__(self) -> str:
        return f"RpcClient({self.endpoint.url!r}, auth from {self.endpoint.auth_origin})"

    # --- transport ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.endpoint.url

    def _headers(self) -> dict[str, str]:
        endpoint = self.endpoint
        if endpoint.cookie_path is not None and not endpoint.password:
            try:
                self.endpoint = endpoint = endpoint.with_cookie()
            except RpcError:
                pass  # no cookie yet: a node that answers will say 401, one that is down will not answer
        headers = {"Content-Type": "application/json"}
        if endpoint.user or endpoint.password:
            token = base64.b64encode(f"{endpoint.user}:{endpoint.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers

    def _send(
        self, method: str, path: str, *, body: bytes | None = None, timeout_s: float | None = None
    ) -> tuple[int, bytes]:
        """The node's HTTP status and body; RpcError when there is none or it refuses the credentials."""
        for attempt in (1, 2):
            status, content = self._http.request(method, path, body=body, headers=self._headers(), timeout_s=timeout_s)
            if status != 401 or attempt == 2 or self.endpoint.cookie_path is None:
                break
            stale = self.endpoint.password
            self.endpoint = self.endpoint.with_cookie()  # a restarted node writes a new cookie; no cookie raises
            if self.endpoint.password == stale:
                break
        if status == 401:
            raise RpcError(
                f"Bitcoin Core at {self.url} refused the credentials from {self.endpoint.auth_origin}: "
                "check the user and password (or use --rpc to log in with the node's cookie)"
            )
        return status, content

    def _post(self, payload: Any, *, timeout_s: float | None = None) -> Any:
        self._check_network()
        return self._post_unchecked(payload, timeout_s=timeout_s)

    def _post_unchecked(self, payload: Any, *, timeout_s: float | None = None) -> Any:
        status, content = self._send("POST", self._rpc_path, body=json.dumps(payload).encode(), timeout_s=timeout_s)
        if status == 403:
            raise RpcError(f"Bitcoin Core at {self.url} forbids this client: check -rpcallowip and -rpcwhitelist")
        if status == 503:
            raise RpcError(f"Bitcoin Core at {self.url} is too busy (its RPC work queue is full)", retryable=True)
        try:
            return _json(content)
        except ValueError:
            raise RpcError(f"{self.url} answered HTTP {status} without JSON: is it Bitcoin Core's RPC port?") from None

    def _check_network(self) -> None:
        if self._checked_network:
            return
        info = self._result("getblockchaininfo", self._post_unchecked(self._request("getblockchaininfo", ())))
        self._check_chain(info)

    def _check_chain(self, info: dict) -> None:
        expected = self.network.value if self.network else None  # the names getblockchaininfo's "chain" uses
        if expected is not None and info.get("chain") != expected:
            raise ChainError(
                f"Bitcoin Core at {self.url} serves {info.get('chain')}, not {expected}: "
                "pass the node's --network, or point --rpc-url at a node of this network"
            )
        self._checked_network = True

    def _request(self, method: str, params: Sequence[Any]) -> dict:
        return {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}

    def _result(self, method: str, reply: Any) -> Any:
        if not isinstance(reply, dict) or "result" not in reply and "error" not in reply:
            raise RpcError(f"{self.url} gave a reply to {method} that is not JSON-RPC: is it Bitcoin Core's RPC port?")
        error = reply.get("error")
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            text = str(error.get("message", error) if isinstance(error, dict) else error).strip()
            message = self.endpoint.redact(text.splitlines()[0] if text else "no reason given")  # help text runs on
            if code == RPC_IN_WARMUP:
                raise RpcError(
                    f"Bitcoin Core at {self.url} is starting ({message.rstrip('.…')}): try again in a moment",
                    retryable=True, rpc_code=code,
                )
            raise RpcError(f"Bitcoin Core refused {method}: {message} (code {code})", rpc_code=code)
        return reply["result"]

    # --- JSON-RPC ------------------------------------------------------------------------

    def call(self, method: str, *params: Any, timeout_s: float | None = None) -> Any:
        """The result of one RPC call; RpcError when the node gave an error."""
        return self._result(method, self._post(self._request(method, params), timeout_s=timeout_s))

    def batch(self, calls: Iterable[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The results of several calls sent in one HTTP request, in order; the first error raises."""
        requests = [self._request(method, params) for method, params in calls]
        if not requests:
            return []
        replies = self._post(requests)
        if not isinstance(replies, list):
            return [self._result(requests[0]["method"], replies)]  # an error about the batch as a whole
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
        return [self._result(r["method"], by_id.get(r["id"])) for r in requests]

    # --- REST ----------------------------------------------------------------------------

    @property
    def rest_enabled(self) -> bool:
        """Whether the node serves REST (`-rest`); asked once. A 404 or 403 on /rest means it is off."""
        if self._rest is None:
            self._check_network()
            status, _ = self._send("GET", "/rest/chaininfo.json")
            if status == 503:
                raise RpcError(f"Bitcoin Core at {self.url} is starting: try again in a moment", retryable=True)
            self._rest = status == 200
        return self._rest

    def rest(self, path: str) -> bytes | None:
        """The body of REST `/rest/<path>`; None when REST is off or the node has no such object."""
        if not self.rest_enabled:
            return None
        status, content = self._send("GET", "/rest/" + path)
        if status == 200:
            return content
        if status == 503:
            raise RpcError(f"Bitcoin Core at {self.url} is starting: try again in a moment", retryable=True)
        if status in (403, 404):
            return None
        text = content.decode(errors="replace").strip()
        reason = text.splitlines()[0] if text else f"HTTP {status}"
        raise RpcError(f"Bitcoin Core's REST /rest/{path.split('?')[0]} failed: {self.endpoint.redact(reason)}")

    # --- what the chain sources and the follower ask ----------------------------------------

    def getblockchaininfo(self) -> dict:
        """Chain, height, tip and `initialblockdownload` (true on regtest until a block is a day young)."""
        info = self._result("getblockchaininfo", self._post_unchecked(self._request("getblockchaininfo", ())))
        self._check_chain(info)
        return info

    def getbestblockhash(self) -> bytes:
        return bytes.fromhex(self.call("getbestblockhash"))[::-1]

    def getblockcount(self) -> int:
        return self.call("getblockcount")

    def getblockhash(self, height: int) -> bytes:
        return bytes.fromhex(self.call("getblockhash", height))[::-1]

    def getblockheader(self, block_hash: bytes) -> dict | None:
        """The node's JSON header of `block_hash` (internal byte order); None when it knows no such block."""
        try:
            return self.call("getblockheader", block_hash[::-1].hex(), True)
        except RpcError as exc:
            if exc.rpc_code == RPC_INVALID_ADDRESS_OR_KEY:
                return None
            raise

    def contains(self, block_hash: bytes) -> bool:
        """Whether `block_hash` is in the node's active chain (known and not stale)."""
        header = self.getblockheader(block_hash)
        return header is not None and header["confirmations"] != -1

    def headers_after(self, block_hash: bytes, count: int) -> tuple[BlockHeader, ...]:
        """Up to `count` active-chain headers starting at `block_hash` itself.

        Empty when `block_hash` is not in the active chain: the caller's tip was reorganised away.
        Through REST `/rest/headers/` (at most 2,000), else through RPC.
        """
        count = max(1, min(count, MAX_REST_HEADERS))
        if not self.rest_enabled:
            return self._headers_by_rpc(block_hash, count)
        body = self.rest(f"headers/{block_hash[::-1].hex()}.bin?count={count}") or b""
        if len(body) % BLOCK_HEADER_SIZE:
            raise RpcError(f"Bitcoin Core's REST headers answer is {len(body)} bytes, not whole 80-byte headers")
        return tuple(BlockHeader.parse(body[i : i + BLOCK_HEADER_SIZE]) for i in range(0, len(body), BLOCK_HEADER_SIZE))

    def _headers_by_rpc(self, block_hash: bytes, count: int) -> tuple[BlockHeader, ...]:
        header = self.getblockheader(block_hash)
        if header is None or header["confirmations"] == -1:
            return ()
        heights = range(header["height"], header["height"] + min(count, header["confirmations"]))
        hashes = self.batch(("getblockhash", (h,)) for h in heights)
        raw = self.batch(("getblockheader", (h, False)) for h in hashes)
        return tuple(BlockHeader.parse(bytes.fromhex(r)) for r in raw)

    def gettxout(self, txid: bytes, vout: int, *, include_mempool: bool = False) -> dict | None:
        """The unspent output txid:vout (internal byte order) as the node sees it; None when spent or unknown."""
        return self.call("gettxout", txid[::-1].hex(), vout, include_mempool)

    def getrawmempool(self) -> tuple[bytes, ...]:
        """Txids (internal byte order) in the node's mempool."""
        return tuple(bytes.fromhex(t)[::-1] for t in self.call("getrawmempool"))

    def getrawtransaction(self, txid: bytes, block_hash: bytes | None = None) -> bytes:
        """A transaction's bytes, from the mempool, -txindex, or the block given."""
        params: list[Any] = [txid[::-1].hex(), False]
        if block_hash is not None:
            params.append(block_hash[::-1].hex())
        return bytes.fromhex(self.call("getrawtransaction", *params))

    def sendrawtransaction(self, raw_tx: bytes) -> bytes:
        """Broadcasts `raw_tx`; its txid in internal byte order."""
        return bytes.fromhex(self.call("sendrawtransaction", raw_tx.hex()))[::-1]

    def estimatesmartfee(self, conf_target: int) -> int | None:
        """The fee rate in sat/kvB for confirmation within `conf_target` blocks; None when the node has no estimate."""
        rate = self.call("estimatesmartfee", conf_target).get("feerate")
        return None if rate is None else sat_from_btc(rate)

    def waitfornewblock(self, timeout_ms: int, current_tip: bytes | None = None) -> tuple[int, bytes]:
        """(height, hash) of the tip once it differs from `current_tip` (or any new block), or at the timeout.

        `timeout_ms` must be positive: a long-poll that never ends cannot be stopped cleanly.
        """
        if timeout_ms <= 0:
            raise ChainError(f"waitfornewblock needs a positive timeout_ms, not {timeout_ms}")
        params: list[Any] = [timeout_ms]
        if current_tip is not None:
            params.append(current_tip[::-1].hex())
        result = self.call("waitfornewblock", *params, timeout_s=timeout_ms / 1000 + 10)
        return result["height"], bytes.fromhex(result["hash"])[::-1]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
