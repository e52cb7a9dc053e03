"""What every command module shares: the book option, JSON output, plain tables, command groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from boveda.book import Book
from boveda.cli.params import DATE, SafePath
from boveda.service.chain import ChainOptions
from boveda.service.wallets import SyncProgress, sync_book
from boveda.text import escape, escape_json_text

EXIT_CHECK_FAILED = 1  # a check ran and failed: tampering, a discrepancy, a proof that does not verify
EXIT_BAD_INPUT = 2  # bad input or broken infrastructure, refused with one line on stderr

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
FORCE_OPTION = click.option("--force", is_flag=True, help="Replace output files that already exist.")
DATE_OPTION = click.option("--date", "date_text", type=DATE, metavar="YYYY-MM-DD",
                           help="Effective date (default: today, UTC); from 2009-01-03 to a year from today.")


def _location(ctx: click.Context) -> str:
    obj = ctx.find_root().obj or {}
    return obj.get("book", "boveda.db")


@contextmanager
def _open_book(ctx: click.Context) -> Iterator[Book]:
    obj = ctx.find_root().obj or {}
    with Book.open(_location(ctx), operator=obj.get("operator"), approved_by=obj.get("approved_by"),
                   operator_required=True) as book:
        yield book


def _group(cli: click.Group, name: str, help_text: str) -> click.Group:
    """The group ``name`` of ``cli``: reused if another module registered it, else created."""
    existing = cli.commands.get(name)
    if isinstance(existing, click.Group):
        return existing
    group = click.Group(name, help=help_text)
    cli.add_command(group)
    return group


def say(text: str, *, err: bool = False) -> None:
    """Print one line that may hold names from a book, a bundle or a file: every control, line-separator
    and bidi character in it is written as an escape (boveda.text.escape), so it cannot forge or hide a line."""
    click.echo(escape(text), err=err)


def _echo_json(document: Any) -> None:
    click.echo(escape_json_text(json.dumps(document, indent=2, ensure_ascii=False)))


def done(as_json: bool, document: dict[str, Any], text: str) -> None:
    """What a write command prints: ``text``, or with --json the new ids as one JSON document."""
    if as_json:
        _echo_json(document)
    else:
        say(text)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    cells = [[escape(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def rpc_options(command):
    """`--rpc-url URL` (or $BOVEDA_RPC_URL) and `--rpc`: read a running node instead of a datadir."""
    command = click.option(
        "--rpc", "use_cookie", is_flag=True,
        help="Read a running node, logging in with its cookie file (in --datadir, default ~/.bitcoin, for "
             "--network) on the network's default RPC port, or the port of a --rpc-url given without a password.",
    )(command)
    return click.option(
        "--rpc-url", envvar="BOVEDA_RPC_URL", metavar="URL",
        help="Read a running node at http://user:password@host:port (env BOVEDA_RPC_URL); without user:password "
             "the cookie in --datadir logs in. The password is never stored or printed.",
    )(command)


def source_options(command):
    """`--datadir`, `--network`, `--rpc-url`, `--rpc`: where a command reads the chain."""
    command = rpc_options(command)
    command = click.option("--network", "network_name",
                           help="main, testnet4, signet or regtest (default: the book's; remembered).")(command)
    return click.option("--datadir", type=SafePath(path_type=Path, file_okay=False),
                        help="A stopped node's data directory (or a copy), or where --rpc finds the cookie "
                             "(remembered).")(command)


REFRESH_OPTION = click.option(
    "--refresh", is_flag=True,
    help="Sync the book first: through --rpc-url, --rpc or --datadir if given (any of them implies --refresh), "
         "else through the chain the book remembers.")


def refresh_book(book: Book, chain: ChainOptions) -> None:
    """`--refresh`: the book synced to the chain's tip first; one line on stderr says how far."""
    report = sync_book(book, chain.datadir, chain.network_name, rpc_url=chain.rpc_url, use_cookie=chain.use_cookie,
                       progress=SyncProgress(note=lambda text: say(f"note: {text}", err=True)))
    say(f"synced {report.wallets} wallets to height {report.tip_height} ({report.blocks_scanned} blocks scanned)",
        err=True)


def source_given(ctx: click.Context) -> bool:
    """Whether --datadir, --rpc-url or --rpc was typed (BOVEDA_RPC_URL alone does not imply --refresh)."""
    return any(ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
               for name in ("datadir", "rpc_url", "use_cookie"))
