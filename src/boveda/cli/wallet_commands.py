"""`boveda wallet add/list/show/addresses`, `sync`, `exposure`: the book's wallets against the chain."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from boveda.book.json_forms import wallet_json
from boveda.cli.common import JSON_OPTION, _echo_json, _group, _open_book, _table, say, source_options
from boveda.cli.follow_commands import follow as run_follower
from boveda.cli.params import BLOCK_COUNT, GAP_LIMIT, HEIGHT, SECONDS
from boveda.cli.render import BarProgress
from boveda.follower.loop import FollowOptions
from boveda.labels import labels_for
from boveda.money import format_btc
from boveda.service.chain import ChainOptions
from boveda.service.wallets import (
    SyncProgress,
    add_wallet,
    address_lines,
    addresses_json,
    reserve_exposure,
    sync_book,
    wallet_view,
)
from boveda.wallets.watch import DEFAULT_GAP_LIMIT


@click.command("add")
@click.argument("name")
@click.option("--reserve", help="The reserve the wallet belongs to.")
@click.option("--case", "case_number", help="The case whose custody the wallet holds.")
@click.option("--descriptor", required=True, help="Output descriptor with its checksum (…#abcdefgh).")
@click.option("--birth-height", type=HEIGHT, help="First block that can hold its coins.")
@click.option("--gap-limit", type=GAP_LIMIT, default=DEFAULT_GAP_LIMIT, show_default=True,
              help="Unused addresses watched past the last used one, per branch.")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (default: the book's, else main).")
@JSON_OPTION
@click.pass_context
def wallet_add(ctx: click.Context, name: str, reserve: str | None, case_number: str | None, descriptor: str,
               birth_height: int | None, gap_limit: int, network_name: str | None, as_json: bool) -> None:
    """Register a watch-only wallet NAME of a reserve or of a case's custody, and derive its first scripts.

    \b
    Example:
      boveda wallet add sv-cold --reserve SV --birth-height 800000 \\
        --descriptor "wpkh([d34db33f/84h/0h/0h]xpub6C…/<0;1>/*)#8lqz2vvm"
    """
    if (reserve is None) == (case_number is None):
        raise click.UsageError("give exactly one of --reserve CODE or --case NUMBER")
    with _open_book(ctx) as book:
        wallet = add_wallet(book, name, descriptor, network_name=network_name, reserve=reserve, case=case_number,
                            birth_height=birth_height, gap_limit=gap_limit)
    if as_json:
        _echo_json({"wallet": wallet_json(wallet)})
        return
    say(f"wallet {wallet.name} registered for {wallet.owner}")


@click.command("list")
@JSON_OPTION
@click.pass_context
def wallet_list(ctx: click.Context, as_json: bool) -> None:
    """List the registered wallets.

    \b
    Example:
      boveda wallet list --json
    """
    with _open_book(ctx) as book:
        wallets = book.wallets()
    if as_json:
        _echo_json({"wallets": [wallet_json(w) for w in wallets]})
        return
    _table([(w.name, w.owner, "-" if w.birth_height is None else str(w.birth_height), w.descriptor)
            for w in wallets], ("NAME", "OWNER", "BIRTH", "DESCRIPTOR"))


@click.command("sync")
@source_options
@click.option("--beyond-gap", is_flag=True,
              help="Also find addresses a wallet used beyond its gap limit (rereads earlier blocks; slower).")
@click.option("--rescan-from-scratch", is_flag=True,
              help="Forget the stored chain facts and scan again: for a node on another chain than the book's.")
@click.option("--parallel", is_flag=True,
              help="For a long history from --datadir: scan the blk files over a local Dask cluster (one worker per "
                   "core) first, then read only the blocks that matter; the same result, sooner on many cores.")
@click.option("--scheduler", "scheduler_address", metavar="tcp://HOST:8786",
              help="Like --parallel, on the Dask cluster of that scheduler (its workers must see the datadir at the "
                   "same path).")
@click.option("--follow", is_flag=True,
              help="Keep following a running node block by block (needs --rpc or --rpc-url), raising alerts; "
                   "stop with Ctrl-C or SIGTERM, always at a block boundary.")
@click.option("--zmq", "zmq_urls", multiple=True, metavar="tcp://HOST:PORT",
              help="With --follow: wake on the node's ZMQ notifications (its -zmqpubsequence address; repeat for "
                   "-zmqpubrawtx on another); without it the follower long-polls waitfornewblock and polls the mempool.")
@click.option("--alert-webhook", "webhooks", multiple=True, metavar="URL",
              help="With --follow: POST each new alert as JSON to URL (retried with backoff; repeatable).")
@click.option("--log-json", is_flag=True, help="With --follow: log JSON lines instead of plain text.")
@click.option("--max-blocks", type=BLOCK_COUNT, metavar="N",
              help="With --follow: stop after syncing N blocks.")
@click.option("--until-height", type=HEIGHT, metavar="H",
              help="With --follow: stop once synced to height H.")
@click.option("--idle-exit-s", type=SECONDS, metavar="S",
              help="With --follow: stop after S seconds without a new block (exit 2 if the node was unreachable).")
@click.option("--json", "as_json", is_flag=True, help="Print the sync's summary as one JSON document (not with --follow).")
@click.pass_context
def sync_command(ctx: click.Context, datadir: Path | None, network_name: str | None, rpc_url: str | None,
                 use_cookie: bool, beyond_gap: bool, rescan_from_scratch: bool, parallel: bool,
                 scheduler_address: str | None, follow: bool,
                 zmq_urls: tuple[str, ...], webhooks: tuple[str, ...], log_json: bool, max_blocks: int | None,
                 until_height: int | None, idle_exit_s: float | None, as_json: bool) -> None:
    """Scan the chain for every wallet of the book, from its birth height or last sync to the tip.

    From a running node with --rpc-url or --rpc (its REST and RPC interfaces), or from a stopped
    node's block files through Bitcoin Core's engine with --datadir (the node must be stopped, or
    point --datadir at a copy); without either, from the chain the book remembers. A
    reorganisation is followed; an interrupted sync resumes. Addresses are watched a gap limit past
    the last used one (BIP-44); --beyond-gap also finds addresses paid further out, at the cost of
    rereading earlier blocks whenever a new address is used.

    With --follow it keeps going: each new block is synced as it comes, the holdings it touched are
    reconciled, and a new critical finding — or an unconfirmed spend of a watched coin — raises an
    alert (boveda alerts), printed and sent to every --alert-webhook.

    \b
    Example:
      boveda sync --datadir ~/.bitcoin --network main
      boveda sync --rpc --network main
      boveda sync --datadir /srv/bitcoin-copy --network main --parallel
      boveda sync --follow --rpc-url http://boveda:PASSWORD@127.0.0.1:8332 --zmq tcp://127.0.0.1:28332 \\
        --alert-webhook https://alerts.example.org/hook --log-json
    """
    chain = ChainOptions(datadir, network_name, rpc_url, use_cookie)
    follow_only = {"--zmq": zmq_urls, "--alert-webhook": webhooks, "--log-json": log_json, "--max-blocks": max_blocks,
                   "--until-height": until_height, "--idle-exit-s": idle_exit_s}
    if not follow:
        given = [name for name, value in follow_only.items() if value]
        if given:
            raise click.UsageError(f"{', '.join(given)} go with --follow")
    elif as_json:
        raise click.UsageError("--json is for one sync; with --follow use --log-json")
    elif beyond_gap or rescan_from_scratch or parallel or scheduler_address:
        raise click.UsageError("--beyond-gap, --rescan-from-scratch, --parallel and --scheduler are for one sync: "
                               "run it, then --follow")
    if follow:
        options = FollowOptions(zmq_urls=zmq_urls, webhooks=webhooks, max_blocks=max_blocks,
                                until_height=until_height, idle_exit_s=idle_exit_s)
        with _open_book(ctx) as book:
            run_follower(book, chain, options, log_json=log_json)
        return
    with _open_book(ctx) as book, BarProgress() as progress:
        bars = SyncProgress(start=lambda total: progress.stage("Syncing wallets", total), block=progress.advance,
                            note=lambda text: say(f"note: {text}", err=True))
        if parallel or scheduler_address:
            bars = _ScanThenSyncBars(progress).progress(bars.note)
        report = sync_book(book, datadir, network_name, rpc_url=rpc_url, use_cookie=use_cookie, beyond_gap=beyond_gap,
                           rescan_from_scratch=rescan_from_scratch, parallel=parallel,
                           scheduler_address=scheduler_address, progress=bars)
    if as_json:
        _echo_json({"sync": dataclasses.asdict(report)})
        return
    moved = f", followed a reorganisation back to height {report.rolled_back_to}" if report.rolled_back_to is not None else ""
    say(f"synced {report.wallets} wallets to height {report.tip_height} ({report.tip_hash_hex}): "
        f"{report.blocks_scanned} blocks scanned, {report.credits} coins received, {report.debits} spent{moved}")


class _ScanThenSyncBars:
    """A parallel sync's bars: each scan's chunks of blk files, then the blocks walked after it."""

    def __init__(self, bars: BarProgress) -> None:
        self._bars = bars
        self._blocks: int | None = None
        self._shown: str | None = None

    def progress(self, note) -> SyncProgress:
        return SyncProgress(start=self._start, block=self._block, note=note, files=self._files)

    def _start(self, total: int) -> None:
        self._blocks = total

    def _files(self, done: int, total: int) -> None:
        self._show("Scanning blk files", total)
        self._bars.advance(done)

    def _block(self, height: int) -> None:
        self._show("Syncing wallets", self._blocks)
        self._bars.advance(height)

    def _show(self, stage: str, total: int | None) -> None:
        if self._shown != stage:
            self._shown = stage
            self._bars.stage(stage, total)


@click.command("show")
@click.argument("name")
@click.option("--at", "at_height", type=HEIGHT, help="The balance after this block (default: last synced).")
@JSON_OPTION
@click.pass_context
def wallet_show(ctx: click.Context, name: str, at_height: int | None, as_json: bool) -> None:
    """A wallet's balance, coins and history at a height, from what the last sync stored.

    \b
    Example:
      boveda wallet show sv-cold --at 850000 --json
    """
    with _open_book(ctx) as book:
        state = wallet_view(book, name, at_height)
        if not as_json:  # BIP-329 labels of its coins (output, else address) and transactions
            labels = labels_for(book, [f"{c.txid_hex}:{c.vout}" for c in state.utxos]
                                + [c.address for c in state.utxos if c.address] + [h.txid_hex for h in state.history])
    if as_json:
        _echo_json(state.to_json())
        return
    say(f"{state.name} ({state.owner}) at height {state.height}: {format_btc(state.balance_sat)} BTC "
        f"in {len(state.utxos)} coins")
    _table([(c.txid_hex, str(c.vout), format_btc(c.value_sat), str(c.height), c.address,
             labels.get(f"{c.txid_hex}:{c.vout}") or labels.get(c.address or "", "")) for c in state.utxos],
           ("TXID", "VOUT", "BTC", "HEIGHT", "ADDRESS", "LABEL"))
    say("")
    _table([(h.txid_hex, str(h.height), format_btc(h.delta_sat), labels.get(h.txid_hex, "")) for h in state.history],
           ("TXID", "HEIGHT", "DELTA BTC", "LABEL"))


@click.command("addresses")
@click.argument("name")
@JSON_OPTION
@click.pass_context
def wallet_addresses_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """The addresses derived for a wallet (receive branch 0, change branch 1), with use and balance.

    \b
    Example:
      boveda wallet addresses sv-cold --json
    """
    with _open_book(ctx) as book:
        lines = address_lines(book, name)
        labels = labels_for(book, [a.address for a in lines])
    if as_json:
        _echo_json(addresses_json(name, lines))
        return
    _table([(str(a.branch), str(a.index), a.address, str(a.received_count), format_btc(a.balance_sat),
             labels.get(a.address, "")) for a in lines], ("BRANCH", "INDEX", "ADDRESS", "RECEIVED", "BTC", "LABEL"))


@click.command("exposure")
@click.option("--reserve", required=True, help="The reserve's code.")
@JSON_OPTION
@click.pass_context
def exposure_command(ctx: click.Context, reserve: str, as_json: bool) -> None:
    """Coins behind public keys revealed on chain, at reused addresses, and above the reserve's address cap.

    \b
    Example:
      boveda exposure --reserve SV --json
    """
    with _open_book(ctx) as book:
        report = reserve_exposure(book, reserve)
    code = report.reserve
    if as_json:
        _echo_json(report.to_json())
        return
    cap = f"cap {format_btc(report.address_cap_sat)} BTC" if report.address_cap_sat is not None else "no address cap"
    say(f"reserve {code} at height {report.height}: {format_btc(report.total_sat)} BTC held, {cap}")
    say(f"  behind revealed keys: {format_btc(report.revealed_sat)} BTC")
    say(f"  at reused addresses:  {format_btc(report.reused_sat)} BTC")
    say(f"  above the cap:        {format_btc(report.over_cap_sat)} BTC")
    if report.addresses:
        _table([(a.wallet, a.address, format_btc(a.balance_sat), ", ".join(a.reasons)) for a in report.addresses],
               ("WALLET", "ADDRESS", "BTC", "WHY"))


def register(cli: click.Group) -> None:
    cli.add_command(sync_command)
    cli.add_command(exposure_command)
    wallet = _group(cli, "wallet", "Watch-only wallets (output descriptors) of reserves and custody holdings.")
    wallet.add_command(wallet_add)
    wallet.add_command(wallet_list)
    wallet.add_command(wallet_show)
    wallet.add_command(wallet_addresses_command)
