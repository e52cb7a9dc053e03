"""Which chain a command reads: a running node over RPC (`--rpc-url`, `--rpc`) or a stopped node's datadir.

One function resolves a command's options against what the book remembers, one opens the
source; every face parses its options into `ChainOptions` and calls these. The book remembers
the datadir, the network and the RPC URL — never the URL's user or password.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.chain.rpc import BlockRoute, RpcSource, endpoint_from_options, source_from_options
from boveda.chain.rpc_client import RpcClient, RpcEndpoint, endpoint_from_url
from boveda.chain.source import ChainSource
from boveda.errors import ChainError, WalletError
from boveda.wallets import facts_store as facts
from boveda.wallets.sync import network_to_sync, parse_network

DEFAULT_DATADIR = "~/.bitcoin"


class Route(StrEnum):
    """The two ways to the chain, as the book remembers them."""

    RPC = "rpc"
    DATADIR = "datadir"


@dataclass(frozen=True, slots=True)
class ChainOptions:
    """A command's chain options as given: any of them may be absent."""

    datadir: Path | None = None
    network_name: str | None = None
    rpc_url: str | None = field(default=None, repr=False)  # --rpc-url or $BOVEDA_RPC_URL; may hold a password
    use_cookie: bool = False  # --rpc: log in with the node's cookie file

    @property
    def names_a_source(self) -> bool:
        return self.datadir is not None or self.rpc_url is not None or self.use_cookie


@dataclass(frozen=True, slots=True)
class ChainRoute:
    """A resolved choice of chain: a running node's RPC (`rpc_url` and/or the cookie in `datadir`),
    or the block files of the stopped node at `datadir`."""

    network: Network
    datadir: str | None
    rpc_url: str | None = field(default=None, repr=False)  # never stored nor shown: see `shown_url`
    use_cookie: bool = False

    @property
    def is_rpc(self) -> bool:
        return self.rpc_url is not None or self.use_cookie

    @property
    def shown_url(self) -> str | None:
        """The RPC URL without its user and password: what may be printed and remembered."""
        return None if self.rpc_url is None else strip_credentials(self.rpc_url)

    def endpoint(self) -> RpcEndpoint:
        return endpoint_from_options(self.datadir, self.network, self.rpc_url)

    def describe(self) -> str:
        if not self.is_rpc:
            return f"the block files of the stopped node at {self.datadir}"
        endpoint = self.endpoint()
        return f"Bitcoin Core RPC at {endpoint.url} (login from {endpoint.auth_origin})"


def strip_credentials(url: str) -> str:
    """`url` with any user and password taken out (the URL is checked first: ChainError when malformed)."""
    endpoint_from_url(url)
    parts = urllib.parse.urlsplit(url.strip())
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _expanded(datadir: Path | str | None) -> str | None:
    return None if datadir is None else str(Path(datadir).expanduser().resolve())


def book_route(book: Book, options: ChainOptions) -> ChainRoute:
    """Where `book` syncs from: as the options say, else as the book remembers. Writes nothing.

    `--rpc-url` or `--rpc` read a running node (the cookie from `--datadir`, the remembered datadir
    or ~/.bitcoin); `--datadir` alone reads a stopped node's files; no option repeats the last route.
    """
    network = network_to_sync(book.store, parse_network(options.network_name) if options.network_name else None)
    with book.store.read() as conn:
        stored_datadir = facts.setting(conn, "datadir")
        stored_url = facts.setting(conn, "rpc_url")
        stored_route = facts.setting(conn, "chain_route")
    datadir = _expanded(options.datadir) or stored_datadir
    if options.rpc_url is not None or options.use_cookie:
        rpc_url = options.rpc_url if options.rpc_url is not None else stored_url
        return ChainRoute(network, datadir or _expanded(DEFAULT_DATADIR), rpc_url, True if rpc_url is None else
                          options.use_cookie)
    if options.datadir is not None:
        return ChainRoute(network, datadir)
    if stored_route == Route.RPC:
        return ChainRoute(network, datadir or _expanded(DEFAULT_DATADIR), stored_url, stored_url is None)
    if datadir is not None:
        return ChainRoute(network, datadir)
    raise WalletError("no chain known for this book: pass --rpc-url URL or --rpc (a running node), or --datadir "
                      "(a stopped node or a copy); it is remembered afterwards")


def verify_route(options: ChainOptions, network: Network) -> ChainRoute:
    """Where a bundle is checked: a running node when an RPC option is given, else a datadir (~/.bitcoin)."""
    datadir = _expanded(options.datadir or DEFAULT_DATADIR)
    return ChainRoute(network, datadir, options.rpc_url, options.use_cookie)


def remember_route(book: Book, route: ChainRoute) -> None:
    """Keeps the route for the next command (call once it opened): the URL without credentials."""
    with book.store.write() as (conn, _head):
        facts.put_setting(conn, "network", route.network.value)
        facts.put_setting(conn, "chain_route", (Route.RPC if route.is_rpc else Route.DATADIR).value)
        if route.datadir is not None and (not route.is_rpc or route.endpoint().cookie_path is not None):
            facts.put_setting(conn, "datadir", route.datadir)
        if route.shown_url is not None:
            facts.put_setting(conn, "rpc_url", route.shown_url)


@contextlib.contextmanager
def open_source(route: ChainRoute) -> Iterator[ChainSource]:
    """The route's chain source, checked to answer (a node's reason, at once), closed on exit."""
    with source_from_options(route.datadir, route.network, route.rpc_url, route.use_cookie) as source:
        yield source


def rpc_client(route: ChainRoute, **options) -> RpcClient:
    """A client of the route's node, not yet called (the follower waits for a node that is down)."""
    if not route.is_rpc:
        raise ChainError("following needs a running node: pass --rpc-url URL or --rpc (the node's cookie)")
    return RpcClient(route.endpoint(), route.network, **options)


def rpc_source(client: RpcClient) -> RpcSource:
    return RpcSource(client)


def source_notes(source: ChainSource) -> tuple[str, ...]:
    """What a user should know of how the source was read (a node without REST is read the slow way)."""
    if isinstance(source, RpcSource) and source.block_route is BlockRoute.RPC:
        note = (f"Bitcoin Core at {source.client.url} serves no REST: blocks were read through getblock, about "
                "18 times the bytes; start it with -rest for the fast route")
        return (note,)
    return ()
