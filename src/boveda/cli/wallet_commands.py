"""`boveda wallet add/list/show/addresses`, `sync`, `exposure`: the book's wallets against the chain."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.book.json_forms import wallet_json
from boveda.cli.common import JSON_OPTION, _echo_json, _group, _open_book, _table
from boveda.cli.render import BarProgress
from boveda.money import format_btc
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
@click.option("--birth-height", type=click.IntRange(min=0), help="First block that can hold its coins.")
@click.option("--gap-limit", type=click.IntRange(1, 10_000), default=DEFAULT_GAP_LIMIT, show_default=True,
              help="Unused addresses watched past the last used one, per branch.")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (default: the book's, else main).")
@click.pass_context
def wallet_add(ctx: click.Context, name: str, reserve: str | None, case_number: str | None, descriptor: str,
               birth_height: int | None, gap_limit: int, network_name: str | None) -> None:
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
    click.echo(f"wallet {wallet.name} registered for {wallet.owner}")


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
@click.option("--datadir", type=click.Path(path_type=Path, file_okay=False),
              help="Bitcoin Core's data directory (remembered after the first sync).")
@click.option("--network", "network_name", help="main, testnet4, signet or regtest (remembered).")
@click.option("--beyond-gap", is_flag=True,
              help="Also find addresses a wallet used beyond its gap limit (rereads earlier blocks; slower).")
@click.option("--rescan-from-scratch", is_flag=True,
              help="Forget the stored chain facts and scan again: for a node on another chain than the book's.")
@click.pass_context
def sync_command(ctx: click.Context, datadir: Path | None, network_name: str | None, beyond_gap: bool,
                 rescan_from_scratch: bool) -> None:
    """Scan the chain for every wallet of the book, from its birth height or last sync to the tip.

    Reads the node's block files through Bitcoin Core's engine; the node must be stopped (or point
    --datadir at a copy). A reorganisation is followed; an interrupted sync resumes. Addresses are
    watched a gap limit past the last used one (BIP-44); --beyond-gap also finds addresses paid
    further out, at the cost of rereading earlier blocks whenever a new address is used.

    \b
    Example:
      boveda sync --datadir ~/.bitcoin --network main
    """
    with _open_book(ctx) as book, BarProgress() as progress:
        report = sync_book(book, datadir, network_name, beyond_gap=beyond_gap,
                           rescan_from_scratch=rescan_from_scratch, progress=SyncProgress(
            start=lambda total: progress.stage("Syncing wallets", total), block=progress.advance))
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
    with _open_book(ctx) as book:
        state = wallet_view(book, name, at_height)
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
    with _open_book(ctx) as book:
        lines = address_lines(book, name)
    if as_json:
        _echo_json(addresses_json(name, lines))
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
        report = reserve_exposure(book, reserve)
    code = report.reserve
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
    wallet.add_command(wallet_add)
    wallet.add_command(wallet_list)
    wallet.add_command(wallet_show)
    wallet.add_command(wallet_addresses_command)
