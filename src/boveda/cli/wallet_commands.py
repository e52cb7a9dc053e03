"""`boveda sync`, `wallet show`, `wallet addresses`, `exposure`: the book's wallets against the chain."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.bitcoin.network import Network
from boveda.book.domain import Account
from boveda.chain.blockfiles import BlockFileSource
from boveda.chain.kernel import KernelSource
from boveda.cli.common import JSON_OPTION, _echo_json, _group, _open_book, _table
from boveda.cli.render import BarProgress
from boveda.money import format_btc
from boveda.wallets.report import exposure, wallet_addresses, wallet_state
from boveda.wallets.sync import SyncError, chain_to_sync, parse_network, remember_chain, stored_network, sync


def _network(book) -> Network:
    network = stored_network(book.store)
    if network is None:
        raise SyncError("this book has no wallets and was never synced: add a wallet or run boveda sync first")
    return network


@click.command("sync")
@click.option("--datadir", type=click.Path(path_type=Path, file_okay=False),
              help="Bitcoin Core's data directory (remembered after the first sync).")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (remembered).")
@click.option("--beyond-gap", is_flag=True,
              help="Also find addresses a wallet used beyond its gap limit (rereads earlier blocks; slower).")
@click.pass_context
def sync_command(ctx: click.Context, datadir: Path | None, network_name: str | None, beyond_gap: bool) -> None:
    """Scan the chain for every wallet of the book, from its birth height or last sync to the tip.

    Reads the node's block files through Bitcoin Core's engine; the node must be stopped (or point
    --datadir at a copy). A reorganisation is followed; an interrupted sync resumes. Addresses are
    watched a gap limit past the last used one (BIP-44); --beyond-gap also finds addresses paid
    further out, at the cost of rereading earlier blocks whenever a new address is used.

    \b
    Example:
      boveda sync --datadir ~/.bitcoin --network main
    """
    with _open_book(ctx) as book:
        datadir_text, network = chain_to_sync(
            book.store, str(datadir.expanduser().resolve()) if datadir else None,
            parse_network(network_name) if network_name else None,
        )
        with KernelSource(datadir_text, network) as kernel, \
                BlockFileSource(datadir_text, network, kernel=kernel) as files, BarProgress() as progress:
            remember_chain(book.store, datadir_text, network)  # only a datadir that opened is remembered
            progress.stage("Syncing wallets", kernel.tip().height + 1)
            report = sync(book.store, files, network=network, beyond_gap=beyond_gap,
                          on_block=lambda block, _tip: progress.advance(block.height + 1))
    moved = f", followed a reorganisation back to height {report.rolled_back_to}" if report.rolled_back_to is not None else ""
    click.echo(f"synced {report.wallets} wallets to height {report.tip_height} ({report.tip_hash_hex}): "
               f"{report.blocks_scanned} blocks scanned, {report.credits} coins received, {report.debits} spent{moved}")


@click.command("show")
@click.argument("name")
@click.option("--at", "at_height", type=click.IntRange(min=0), help="The balance after this block (default: last synced).")
@JSON_OPTION
@click.pass_context
def wallet_show(ctx: click.Context, name: str, at_height: int | None, as_json: bool) -> None:
    """A wallet's balance, coins and history at a height, from what the last sync stored.

    \b
    Example:
      boveda wallet show sv-cold --at 850000 --json
    """
    with _open_book(ctx) as book, book.store.read() as conn:
        state = wallet_state(conn, name, _network(book), at_height)
    if as_json:
        _echo_json(state.to_json())
        return
    click.echo(f"{state.name} ({state.owner}) at height {state.height}: {format_btc(state.balance_sat)} BTC "
               f"in {len(state.utxos)} coins")
    _table([(c.txid_hex, str(c.vout), format_btc(c.value_sat), str(c.height), c.address) for c in state.utxos],
           ("TXID", "VOUT", "BTC", "HEIGHT", "ADDRESS"))
    click.echo("")
    _table([(h.txid_hex, str(h.height), format_btc(h.delta_sat)) for h in state.history], ("TXID", "HEIGHT", "DELTA BTC"))


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
    with _open_book(ctx) as book, book.store.read() as conn:
        lines = wallet_addresses(conn, name, _network(book))
    if as_json:
        _echo_json({"wallet": name, "addresses": [
            {"branch": a.branch, "index": a.index, "address": a.address, "received_count": a.received_count,
             "balance_sat": a.balance_sat} for a in lines]})
        return
    _table([(str(a.branch), str(a.index), a.address, str(a.received_count), format_btc(a.balance_sat)) for a in lines],
           ("BRANCH", "INDEX", "ADDRESS", "RECEIVED", "BTC"))


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
        code = str(Account.reserve(reserve)).split(":", 1)[1]
        policy = next((r for r in book.reserves() if r.code == code), None)
        if policy is None:
            raise SyncError(f"no reserve {code!r} in this book: see boveda balances")
        with book.store.read() as conn:
            report = exposure(conn, code, _network(book), policy.address_cap_sat)
    if as_json:
        _echo_json(report.to_json())
        return
    cap = f"cap {format_btc(report.address_cap_sat)} BTC" if report.address_cap_sat is not None else "no address cap"
    click.echo(f"reserve {code} at height {report.height}: {format_btc(report.total_sat)} BTC held, {cap}")
    click.echo(f"  behind revealed keys: {format_btc(report.revealed_sat)} BTC")
    click.echo(f"  at reused addresses:  {format_btc(report.reused_sat)} BTC")
    click.echo(f"  above the cap:        {format_btc(report.over_cap_sat)} BTC")
    if report.addresses:
        _table([(a.wallet, a.address, format_btc(a.balance_sat), ", ".join(a.reasons)) for a in report.addresses],
               ("WALLET", "ADDRESS", "BTC", "WHY"))


def register(cli: click.Group) -> None:
    cli.add_command(sync_command)
    cli.add_command(exposure_command)
    wallet = _group(cli, "wallet", "Watch-only wallets (output descriptors) of reserves and custody holdings.")
    wallet.add_command(wallet_show)
    wallet.add_command(wallet_addresses_command)
