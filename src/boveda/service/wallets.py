"""The book's wallets against the chain: register, sync, and what the stored facts say of each wallet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from boveda.bitcoin.network import Network
from boveda.book import Book
from boveda.book.domain import Wallet
from boveda.book.events import BookEvent, WalletAdded
from boveda.book.export import ImportResult
from boveda.errors import WalletError
from boveda.service.chain import ChainOptions, book_route, open_source, remember_route, source_notes
from boveda.spend.store import rebuild as rebuild_spend_tables
from boveda.wallets.descriptors import DescriptorError, parse_descriptor
from boveda.wallets.parallel_sync import ParallelOptions
from boveda.wallets.registry import register_wallet
from boveda.wallets.report import AddressLine, ExposureReport, WalletState, exposure, wallet_addresses, wallet_state
from boveda.wallets.sync import SyncReport, parse_network, stored_network, sync, sync_lock
from boveda.wallets.watch import DEFAULT_GAP_LIMIT


def book_network(book: Book) -> Network:
    """The network of the book's wallets; WalletError for a book with none yet."""
    network = stored_network(book.store)
    if network is None:
        raise WalletError("this book has no wallets and was never synced: add a wallet or run boveda sync first")
    return network


def add_wallet(book: Book, name: str, descriptor: str, *, network_name: str | None = None, reserve: str | None = None,
               case: str | None = None, birth_height: int | None = None, gap_limit: int = DEFAULT_GAP_LIMIT) -> Wallet:
    """Registers a wallet on the given network, else the book's, else main (saying so when the descriptor fails)."""
    network = parse_network(network_name) if network_name else stored_network(book.store)
    try:
        return register_wallet(book, name, descriptor, network=network or Network.MAIN, reserve=reserve, case=case,
                               birth_height=birth_height, gap_limit=gap_limit)
    except DescriptorError as exc:
        hint = "" if network else " (checked for mainnet: pass --network for another network)"
        raise DescriptorError(f"{exc}{hint}") from None


def import_book(book: Book, path: str | Path, *, progress: Callable[[int], None] | None = None) -> ImportResult:
    """`boveda import`: the file replayed through the book's rules, and each wallet's descriptor parsed as
    `wallet add` parses it — for the book's network, or (a book with no network yet) for one network at
    least. A file holds nothing the command line would have refused."""
    network = stored_network(book.store)

    def check(event: BookEvent) -> None:
        if isinstance(event, WalletAdded):
            check_importable_descriptor(event.wallet.descriptor, network)

    result = book.import_file(path, progress=progress, check_event=check)
    rebuild_spend_tables(book)  # proposals, policies and approvals are derived from their events
    return result


def check_importable_descriptor(descriptor: str, network: Network | None) -> None:
    """DescriptorError unless `descriptor` parses for `network` (None: for any network; the first refusal shown)."""
    refusals = []
    for candidate in (network,) if network is not None else tuple(Network):
        try:
            parse_descriptor(descriptor, candidate)
            return
        except DescriptorError as exc:
            refusals.append(exc)
    raise refusals[0]


def wallet_view(book: Book, name: str, at_height: int | None = None) -> WalletState:
    network = book_network(book)
    with book.store.read() as conn:
        return wallet_state(conn, name, network, at_height)


def address_lines(book: Book, name: str) -> tuple[AddressLine, ...]:
    network = book_network(book)
    with book.store.read() as conn:
        return wallet_addresses(conn, name, network)


def addresses_json(name: str, lines: tuple[AddressLine, ...]) -> dict:
    return {"wallet": name, "addresses": [
        {"branch": a.branch, "index": a.index, "address": a.address, "received_count": a.received_count,
         "balance_sat": a.balance_sat} for a in lines]}


def reserve_exposure(book: Book, reserve: str) -> ExposureReport:
    """Coins of a reserve behind revealed keys, at reused addresses and above its per-address cap."""
    code = reserve
    policy = next((r for r in book.reserves() if r.code == code), None)
    if policy is None:
        raise WalletError(f"no reserve {code!r} in this book: see boveda balances")
    network = book_network(book)
    with book.store.read() as conn:
        return exposure(conn, code, network, policy.address_cap_sat)


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """What a face is told while a sync runs: the blocks to reach, then each block done."""

    start: Callable[[int], None] = lambda total: None
    block: Callable[[int], None] = lambda height: None
    note: Callable[[str], None] = lambda text: None  # how the chain was read, when it matters
    files: Callable[[int, int], None] = lambda done, total: None  # a parallel scan's chunks of blk files


def sync_book(book: Book, datadir: Path | None = None, network_name: str | None = None, *,
              rpc_url: str | None = None, use_cookie: bool = False, beyond_gap: bool = False,
              rescan_from_scratch: bool = False, parallel: bool = False, scheduler_address: str | None = None,
              progress: SyncProgress = SyncProgress()) -> SyncReport:
    """Brings the book's wallets to the tip of a running node (`rpc_url`, or `use_cookie` with the cookie in
    `datadir`) or of a stopped node's datadir; without either, of the chain the book remembers.

    `parallel` scans a long range of a datadir's blk files over a local Dask cluster (one worker per
    core) first, `scheduler_address` over that Dask scheduler's cluster (its workers must see the
    datadir at the same path); the result is the sequential sync's.

    The route (datadir, network, the URL without credentials) is remembered only once it has opened,
    and only by the one sync of the book that may run at a time.
    """
    route = book_route(book, ChainOptions(datadir, network_name, rpc_url, use_cookie))
    dask = None
    if parallel or scheduler_address is not None:
        if route.is_rpc:
            raise WalletError("the parallel scan reads a node's blk files: sync from --datadir (a stopped node, or a "
                              "copy), not over RPC")
        dask = ParallelOptions(scheduler_address=scheduler_address, on_files=progress.files)
    with sync_lock(book.store), open_source(route) as source:
        remember_route(book, route)
        progress.start(source.tip().height + 1)
        report = sync(book.store, source, network=route.network, beyond_gap=beyond_gap,
                      rescan_from_scratch=rescan_from_scratch, parallel=dask,
                      on_block=lambda block, _tip: progress.block(block.height + 1))
        for note in source_notes(source):
            progress.note(note)
        return report
