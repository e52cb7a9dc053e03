"""`boveda facts verify/repair`: the chain facts the book keeps, against a rescan of the chain."""

from __future__ import annotations

from pathlib import Path

import click

from boveda.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, _echo_json, _group, _open_book, say, source_options
from boveda.cli.render import BarProgress
from boveda.service.chain import ChainOptions
from boveda.service.integrity import repair_facts, verify_facts
from boveda.wallets.facts_check import FactsCheck

_BEYOND_GAP = click.option("--beyond-gap", is_flag=True,
                           help="Rescan as `sync --beyond-gap` does (for a book synced that way).")


def _rescan(ctx: click.Context, run, options: ChainOptions, beyond_gap: bool) -> FactsCheck:
    with _open_book(ctx) as book, BarProgress() as bars:
        started = []

        def on_block(height: int, top: int) -> None:
            if not started:
                bars.stage("Rescanning the chain", top + 1)
                started.append(True)
            bars.advance(height + 1)

        return run(book, options, beyond_gap=beyond_gap, on_block=on_block)


def _show(check: FactsCheck) -> None:
    for difference in check.differences:
        say(f"  {difference.message}")


@click.command("verify")
@source_options
@_BEYOND_GAP
@JSON_OPTION
@click.pass_context
def facts_verify(ctx: click.Context, datadir: Path | None, network_name: str | None, rpc_url: str | None,
                 use_cookie: bool, beyond_gap: bool, as_json: bool) -> None:
    """Rescan the chain for the book's wallets and compare with the stored chain facts; exit 1 and name
    the first block that differs if they do not match.

    `audit verify` checks the facts against their seal; this checks them against the chain itself
    (the node the book was synced from, or the one given), so it also finds an edit whose seal was
    recomputed. The book is not changed: `facts repair` rebuilds the facts.

    \b
    Example:
      boveda facts verify
      boveda facts verify --datadir /srv/bitcoin-copy --network main --json
    """
    check = _rescan(ctx, verify_facts, ChainOptions(datadir, network_name, rpc_url, use_cookie), beyond_gap)
    if as_json:
        _echo_json(check.to_json())
    elif check.ok:
        say(f"chain facts match the chain: {check.blocks_compared} blocks to height {check.height} "
            f"({check.block_hash_hex})")
    else:
        say(f"chain facts differ from the chain (rescanned to height {check.height}):")
        _show(check)
    if not check.ok:
        where = f"first differing block: {check.first_block}" if check.first_block is not None else "tables"
        say(f"facts verify failed ({where}): run boveda facts repair to rebuild them from the chain", err=True)
        ctx.exit(EXIT_CHECK_FAILED)


@click.command("repair")
@source_options
@_BEYOND_GAP
@JSON_OPTION
@click.pass_context
def facts_repair(ctx: click.Context, datadir: Path | None, network_name: str | None, rpc_url: str | None,
                 use_cookie: bool, beyond_gap: bool, as_json: bool) -> None:
    """Rebuild the stored chain facts from a rescan of the chain, in one transaction, and reseal them.

    Says what differed before. The audit log is not touched (the facts are not part of it); an
    interrupted repair leaves the facts as they were.

    \b
    Example:
      boveda facts repair
    """
    check = _rescan(ctx, repair_facts, ChainOptions(datadir, network_name, rpc_url, use_cookie), beyond_gap)
    if as_json:
        _echo_json({**check.to_json(), "repaired": True})
        return
    if check.ok:
        say(f"chain facts already matched the chain to height {check.height}; rebuilt and resealed")
    else:
        say(f"chain facts rebuilt from the chain to height {check.height} ({check.block_hash_hex}); they differed:")
        _show(check)


def register(cli: click.Group) -> None:
    group = _group(cli, "facts", "The chain facts the book keeps for its wallets: check or rebuild them from the chain.")
    group.add_command(facts_verify)
    group.add_command(facts_repair)
